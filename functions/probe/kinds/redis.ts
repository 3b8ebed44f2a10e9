import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import type { RedisTarget } from '../../../src/config/probe-targets.ts';
import {
  describeError,
  fail,
  type Observed,
  type ProbeKindRunner,
  pass,
  secretField,
} from '../probe-result.ts';

type Reply =
  | { type: 'simple' | 'error'; value: string }
  | { type: 'bulk'; value: string | null }
  | { type: 'int'; value: number };

/** Parses one RESP reply from the front of the buffer; undefined until it is complete. */
function parseReply(buffer: string): { reply: Reply; rest: string } | undefined {
  const end = buffer.indexOf('\r\n');
  if (end < 0) return undefined;
  const head = buffer.slice(1, end);
  const rest = buffer.slice(end + 2);
  switch (buffer[0]) {
    case '+':
      return { reply: { type: 'simple', value: head }, rest };
    case '-':
      return { reply: { type: 'error', value: head }, rest };
    case ':':
      return { reply: { type: 'int', value: Number(head) }, rest };
    case '$': {
      const length = Number(head);
      if (length < 0) return { reply: { type: 'bulk', value: null }, rest };
      if (Buffer.byteLength(rest) < length + 2) return undefined;
      const bytes = Buffer.from(rest);
      return {
        reply: { type: 'bulk', value: bytes.subarray(0, length).toString() },
        rest: bytes.subarray(length + 2).toString(),
      };
    }
    default:
      throw new Error(`unexpected reply from Redis: ${JSON.stringify(buffer.slice(0, 20))}`);
  }
}

/** A minimal RESP session: send commands one by one, read one reply each. */
function session(socket: Socket) {
  let buffer = '';
  const waiting: Array<(reply: Reply) => void> = [];
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    for (let parsed = parseReply(buffer); parsed && waiting.length > 0; parsed = parseReply(buffer)) {
      buffer = parsed.rest;
      waiting.shift()?.(parsed.reply);
    }
  });
  return (...args: string[]) =>
    new Promise<Reply>((resolve) => {
      waiting.push(resolve);
      socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
}

const infoField = (info: string, field: string) => new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim();

/** PING (after AUTH where a secret is configured), then INFO memory/replication against the thresholds. */
export const probeRedis: ProbeKindRunner<RedisTarget> = async (target, { signal, secrets }) => {
  let password: string | undefined;
  if (target.secret) {
    try {
      password = secretField(await secrets.getSecretString(target.secret), 'password');
    } catch (error) {
      return fail(`cannot read credentials: ${describeError(error)}`);
    }
  }
  const where = `${target.host}:${target.port}`;
  const socket = target.tls
    ? connectTls({ host: target.host, port: target.port, servername: target.host })
    : connectTcp({ host: target.host, port: target.port });
  const onAbort = () => socket.destroy(new Error('timed out'));
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once(target.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    const errored = new Promise<never>((_, reject) => socket.once('error', reject));
    const send = session(socket);
    const call = (...args: string[]) => Promise.race([send(...args), errored]);
    if (password) {
      const auth = await call('AUTH', password);
      if (auth.type === 'error') return fail(`${where}: AUTH refused (${auth.value})`);
    }
    const ping = await call('PING');
    if (ping.type === 'error' || ping.value !== 'PONG')
      return fail(`${where}: PING answered ${JSON.stringify(ping.value)}`);
    const memory = await call('INFO', 'memory');
    const replication = await call('INFO', 'replication');
    const memoryInfo = typeof memory.value === 'string' ? memory.value : '';
    const replicationInfo = typeof replication.value === 'string' ? replication.value : '';
    const usedMemoryMb =
      Math.round((Number(infoField(memoryInfo, 'used_memory') ?? 0) / 1024 / 1024) * 10) / 10;
    const role = infoField(replicationInfo, 'role') ?? 'unknown';
    const link = infoField(replicationInfo, 'master_link_status') ?? null;
    const observed: Observed = { usedMemoryMb, role, masterLinkStatus: link };
    const breaches: string[] = [];
    const max = target.thresholds.maxUsedMemoryMb;
    if (max !== undefined && usedMemoryMb > max) breaches.push(`used memory ${usedMemoryMb} MB > ${max} MB`);
    if (target.thresholds.requireReplicationLink && role === 'slave' && link !== 'up') {
      breaches.push(`replication link is ${link ?? 'unknown'}`);
    }
    if (breaches.length > 0) return fail(`${where}: ${breaches.join('; ')}`, observed);
    return pass(`${where} answers PING (${role}, ${usedMemoryMb} MB used)`, observed);
  } catch (error) {
    return fail(`${where}: ${describeError(error)}`);
  } finally {
    signal.removeEventListener('abort', onAbort);
    socket.destroy();
  }
};
