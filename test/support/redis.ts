import { spawnSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { findBinary, freePort, spawnLogged, stopProcess, waitFor } from './processes.ts';

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  readonly password?: string;
  stop(): Promise<void>;
}

/** Sends one inline command and returns the first reply line. */
export function redisCommand(port: number, command: string, password?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let buffer = '';
    const expected = password ? 2 : 1;
    socket.setTimeout(2000, () => socket.destroy(new Error('redis did not answer')));
    socket.on('connect', () => socket.write(`${password ? `AUTH ${password}\r\n` : ''}${command}\r\n`));
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      const lines = buffer.split('\r\n').filter(Boolean);
      if (lines.length >= expected) {
        socket.end();
        resolve(lines[expected - 1] ?? '');
      }
    });
    socket.on('error', reject);
  });
}

export interface StartRedisOptions {
  /** The default user's password (requirepass). */
  readonly password?: string;
  /** More arguments for redis-server, e.g. `['--aclfile', file]`. */
  readonly args?: readonly string[];
  /** Serve TLS only, with this certificate (and no plain port). */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly caFile: string };
  /** Whether it is up: PING on the plain port unless TLS. */
  readonly ready?: (port: number) => Promise<boolean>;
}

/** redis-server on a free loopback port, no persistence; stopped by its process id. */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const binary = findBinary('redis-server', 'redis-server');
  const port = await freePort();
  const args = options.tls
    ? [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--tls-cert-file',
        options.tls.certFile,
        '--tls-key-file',
        options.tls.keyFile,
        '--tls-ca-cert-file',
        options.tls.caFile,
        '--tls-auth-clients',
        'no',
      ]
    : ['--port', String(port)];
  args.push('--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...(options.args ?? []));
  if (options.password) args.push('--requirepass', options.password);
  const { child, output } = spawnLogged(binary, args);
  try {
    await waitFor('redis-server', async () =>
      options.ready ? options.ready(port) : (await redisCommand(port, 'PING', options.password)) === '+PONG',
    );
  } catch (error) {
    await stopProcess(child);
    throw new Error(`${(error as Error).message}\n${output()}`);
  }
  return { host: '127.0.0.1', port, password: options.password, stop: () => stopProcess(child) };
}

/** Whether this redis-server was built with TLS (`--tls-port` is known to it). */
export function redisHasTls(): boolean {
  const binary = findBinary('redis-server', 'redis-server');
  const probe = spawnSync(binary, ['--port', '0', '--tls-port', '1', '--loglevel', 'warning'], {
    encoding: 'utf8',
    timeout: 5000,
  });
  const text = `${probe.stdout}${probe.stderr}`;
  // Built with TLS, it asks for a certificate; without, it does not know the option.
  return /tls-cert-file/i.test(text) && !/Bad directive|not supported/i.test(text);
}
