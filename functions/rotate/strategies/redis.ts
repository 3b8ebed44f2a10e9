import { createHash, randomBytes } from 'node:crypto';
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { type ConnectionOptions, connect as connectTls } from 'node:tls';
import type { RotationConfig } from '../../../src/config/rotations.ts';
import {
  parseSecretJson,
  type RotationStrategy,
  type StrategyContext,
  type StrategyFactory,
} from '../strategy.ts';

type RedisAclConfig = Extract<RotationConfig, { strategy: 'redis-acl' }>;

/**
 * The rotated secret, as RDS-style secrets carry their endpoint:
 * `{"username": "app", "password": "...", "host": "redis.internal", "port": 6379, "tls": true}`.
 * `port` defaults to 6379 and `tls` to false; other fields are kept as they are.
 */
export interface RedisSecret {
  readonly username: string;
  readonly password: string;
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
}

/** Reads the secret's fields; errors name the field, never a value. */
export function parseRedisSecret(secretId: string, value: string): RedisSecret {
  const json = parseSecretJson(secretId, value);
  const text = (field: string) => {
    const v = json[field];
    if (typeof v !== 'string' || v.length === 0) {
      throw new Error(
        `secret ${secretId} has no "${field}": store {"username","password","host","port","tls"?} for redis-acl`,
      );
    }
    return v;
  };
  const port = json.port === undefined ? 6379 : Number(json.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`secret ${secretId} has an invalid "port": use a number from 1 to 65535`);
  }
  if (json.tls !== undefined && typeof json.tls !== 'boolean') {
    throw new Error(`secret ${secretId} has a "tls" that is not true or false`);
  }
  return {
    username: text('username'),
    password: text('password'),
    host: text('host'),
    port,
    tls: json.tls === true,
  };
}

export type RedisReply =
  | { readonly type: 'simple' | 'error'; readonly value: string }
  | { readonly type: 'int'; readonly value: number }
  | { readonly type: 'bulk'; readonly value: string | null }
  | { readonly type: 'array'; readonly value: RedisReply[] | null };

/** One RESP2 reply from `buffer` at `offset`; undefined until it is complete. */
function parseReply(buffer: Buffer, offset: number): { reply: RedisReply; next: number } | undefined {
  const end = buffer.indexOf('\r\n', offset);
  if (end < 0) return undefined;
  const head = buffer.subarray(offset + 1, end).toString('utf8');
  const after = end + 2;
  switch (String.fromCharCode(buffer[offset] ?? 0)) {
    case '+':
      return { reply: { type: 'simple', value: head }, next: after };
    case '-':
      return { reply: { type: 'error', value: head }, next: after };
    case ':':
      return { reply: { type: 'int', value: Number(head) }, next: after };
    case '$': {
      const length = Number(head);
      if (length < 0) return { reply: { type: 'bulk', value: null }, next: after };
      if (buffer.length < after + length + 2) return undefined;
      return {
        reply: { type: 'bulk', value: buffer.subarray(after, after + length).toString('utf8') },
        next: after + length + 2,
      };
    }
    case '*': {
      const count = Number(head);
      if (count < 0) return { reply: { type: 'array', value: null }, next: after };
      const items: RedisReply[] = [];
      let next = after;
      for (let i = 0; i < count; i += 1) {
        const item = parseReply(buffer, next);
        if (!item) return undefined;
        items.push(item.reply);
        next = item.next;
      }
      return { reply: { type: 'array', value: items }, next };
    }
    default:
      throw new Error(`unexpected reply from Redis: ${JSON.stringify(head.slice(0, 20))}`);
  }
}

/** Where to connect and how long to wait: the secret's endpoint, the rotation's timeout. */
export interface RedisEndpoint {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
}

/** A connection failure before Redis answered: the network, not the credentials. */
export class RedisUnreachableError extends Error {
  constructor(endpoint: RedisEndpoint, timeoutSeconds: number, cause: unknown) {
    const code = (cause as { code?: string }).code ?? (cause as Error).message;
    super(
      `cannot reach Redis at ${endpoint.host}:${endpoint.port}${endpoint.tls ? ' (TLS)' : ''} within ${timeoutSeconds}s (${code}): check that the rotate function runs in subnets that route to it (secrets.vpc) and that its security group may reach port ${endpoint.port}${endpoint.tls ? ', and that the server presents a certificate this function trusts' : ''}; nothing was changed`,
      { cause },
    );
    this.name = 'RedisUnreachableError';
  }
}

/** A minimal RESP session: one command at a time, each answered within the timeout. */
export interface RedisConnection {
  call(...args: string[]): Promise<RedisReply>;
  close(): void;
}

/**
 * Connects (TLS when the secret says so) within `timeoutSeconds`; a failure to connect is a
 * RedisUnreachableError. `tls` adds options (a private CA) to the TLS connection.
 */
export async function connectRedis(
  endpoint: RedisEndpoint,
  timeoutSeconds: number,
  tls: ConnectionOptions = {},
): Promise<RedisConnection> {
  const socket: Socket = endpoint.tls
    ? connectTls({
        host: endpoint.host,
        port: endpoint.port,
        // SNI names a host; an IP address is checked against the certificate's IP names.
        ...(isIP(endpoint.host) ? {} : { servername: endpoint.host }),
        ...tls,
      })
    : connectTcp({ host: endpoint.host, port: endpoint.port });
  socket.setTimeout(timeoutSeconds * 1000, () => socket.destroy(new Error('ETIMEDOUT')));
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once(endpoint.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
  } catch (error) {
    socket.destroy();
    throw new RedisUnreachableError(endpoint, timeoutSeconds, error);
  }
  let buffer = Buffer.alloc(0);
  let failure: Error | undefined;
  const waiting: Array<{ resolve: (reply: RedisReply) => void; reject: (error: Error) => void }> = [];
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    let offset = 0;
    for (let parsed = parseReply(buffer, offset); parsed && waiting.length > 0; ) {
      offset = parsed.next;
      waiting.shift()?.resolve(parsed.reply);
      parsed = parseReply(buffer, offset);
    }
    buffer = buffer.subarray(offset);
  });
  const fail = (error: Error) => {
    failure ??= error;
    for (const w of waiting.splice(0)) w.reject(failure);
  };
  socket.on('error', fail);
  socket.on('close', () => fail(new Error('Redis closed the connection')));
  return {
    call(...args) {
      if (failure) return Promise.reject(failure);
      return new Promise<RedisReply>((resolve, reject) => {
        waiting.push({ resolve, reject });
        socket.write(
          `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`,
        );
      });
    },
    close() {
      socket.destroy();
    },
  };
}

/** Redis stores ACL passwords as their SHA-256: `#<hex>` sets one without sending the password. */
export const passwordHash = (password: string) => createHash('sha256').update(password, 'utf8').digest('hex');

const replyText = (reply: RedisReply) =>
  reply.type === 'array' ? '(array)' : reply.value === null ? '(nil)' : String(reply.value);

/** `ACL GETUSER`'s flags and password hashes; undefined when there is no such user. */
function aclUser(reply: RedisReply): { flags: string[]; passwords: string[] } | undefined {
  if (reply.type !== 'array' || !reply.value) return undefined;
  const fields = new Map<string, RedisReply>();
  for (let i = 0; i + 1 < reply.value.length; i += 2) {
    const name = reply.value[i];
    const value = reply.value[i + 1];
    if (name && value && (name.type === 'bulk' || name.type === 'simple'))
      fields.set(String(name.value), value);
  }
  const strings = (field: string) => {
    const value = fields.get(field);
    return value?.type === 'array' && value.value ? value.value.map(replyText) : [];
  };
  return { flags: strings('flags'), passwords: strings('passwords') };
}

export interface RedisAclOptions {
  /** Extra TLS options (a private CA) for secrets with `"tls": true`. @default the system's CAs */
  readonly tls?: ConnectionOptions;
}

/**
 * Redis ACL users with two passwords at a time. setSecret makes the user's passwords exactly
 * AWSCURRENT's and AWSPENDING's in one `ACL SETUSER <user> on resetpass #<current> #<pending>`
 * (Redis runs one command at a time, so no AUTH ever sees the user without its current password):
 * clients with either value keep working through the window and after it, and whatever else the
 * user had (the value from two rotations ago, a password a failed rotation left) stops working.
 * Passwords travel as their SHA-256, the form Redis stores; AUTH alone sends one in full. The ACL is
 * saved where the server keeps it (ACL SAVE with an aclfile, else CONFIG REWRITE where there is a
 * config file), so a restart does not bring the old passwords back.
 */
export const redisAclStrategy = (
  config: RedisAclConfig,
  context: StrategyContext,
  options: RedisAclOptions = {},
): RotationStrategy => {
  const timeout = config.connectTimeoutSeconds;
  const open = (endpoint: RedisEndpoint) => connectRedis(endpoint, timeout, options.tls);

  /** Runs `body` on a connection logged in as `username`; AUTH refused is an error naming the user. */
  async function as<T>(
    endpoint: RedisEndpoint,
    username: string,
    password: string,
    body: (call: RedisConnection['call']) => Promise<T>,
  ): Promise<T> {
    const connection = await open(endpoint);
    try {
      const auth = await connection.call('AUTH', username, password);
      if (auth.type === 'error') {
        throw new Error(
          `Redis at ${endpoint.host}:${endpoint.port} refused AUTH as "${username}" (${auth.value})`,
        );
      }
      return await body(connection.call);
    } finally {
      connection.close();
    }
  }

  /** AUTH and PING with a value: whether it logs in now. */
  async function logsIn(value: RedisSecret): Promise<void> {
    await as(value, value.username, value.password, async (call) => {
      const ping = await call('PING');
      if (ping.type !== 'simple' || ping.value !== 'PONG') {
        throw new Error(`Redis answered PING with ${replyText(ping)}`);
      }
    });
  }

  /** Who changes the ACL: the admin secret's user (read at AWSCURRENT), or the rotated user itself. */
  async function administrator(current: RedisSecret): Promise<{ username: string; password: string }> {
    if (!config.adminSecret) return { username: current.username, password: current.password };
    const admin = parseSecretJson(
      config.adminSecret,
      await context.secrets.getSecretString(config.adminSecret),
    );
    if (typeof admin.username !== 'string' || typeof admin.password !== 'string') {
      throw new Error(`admin secret ${config.adminSecret} needs {"username","password"}`);
    }
    return { username: admin.username, password: admin.password };
  }

  /** The user exists and needs a password; otherwise the rotation refuses, changing nothing. */
  async function checkUser(call: RedisConnection['call'], username: string, admin: string, where: string) {
    const reply = await call('ACL', 'GETUSER', username);
    if (reply.type === 'error') {
      throw new Error(
        `"${admin}" may not read the ACL at ${where} (${reply.value}): name an adminSecret whose user may run ACL GETUSER, ACL SETUSER and ACL SAVE (or CONFIG REWRITE)`,
      );
    }
    const user = aclUser(reply);
    if (!user) {
      throw new Error(
        `there is no ACL user "${username}" at ${where}: create it (ACL SETUSER) before rotating its password`,
      );
    }
    if (user.flags.includes('nopass')) {
      throw new Error(
        `ACL user "${username}" at ${where} has nopass (any password logs in): give it a password before rotating it`,
      );
    }
    return user;
  }

  /** Makes the change survive a restart where the server keeps its ACL; where it does not, says so. */
  async function persist(call: RedisConnection['call'], where: string): Promise<string> {
    const aclfile = await call('CONFIG', 'GET', 'aclfile');
    const file =
      aclfile.type === 'array' && aclfile.value?.[1]?.type === 'bulk' ? aclfile.value[1].value : undefined;
    if (file) {
      const saved = await call('ACL', 'SAVE');
      if (saved.type === 'error') throw new Error(`ACL SAVE failed at ${where} (${saved.value})`);
      return 'ACL SAVE';
    }
    const rewrite = await call('CONFIG', 'REWRITE');
    if (rewrite.type !== 'error') return 'CONFIG REWRITE';
    if (!/without a config file/i.test(rewrite.value)) {
      context.log.warn(
        'redis-acl: the ACL change is live but not saved; a restart brings the old passwords back',
        {
          secret: config.secret,
          where,
          error: rewrite.value,
        },
      );
    }
    return 'not saved (no aclfile or config file)';
  }

  const where = (value: RedisSecret) => `${value.host}:${value.port}`;
  const parse = (value: string) => parseRedisSecret(config.secret, value);

  return {
    async preflight(currentValue: string) {
      const current = parse(currentValue);
      // Connects first: a function that cannot reach Redis fails with the network's message.
      const admin = await administrator(current);
      await as(current, admin.username, admin.password, (call) =>
        checkUser(call, current.username, admin.username, where(current)),
      );
      if (admin.username !== current.username) await logsIn(current);
    },
    async createValue(currentValue: string) {
      parse(currentValue);
      const json = parseSecretJson(config.secret, currentValue);
      return JSON.stringify({ ...json, password: randomBytes(32).toString('base64url') });
    },
    async setValue(pendingValue: string, currentValue: string) {
      const pending = parse(pendingValue);
      const current = parse(currentValue);
      if (pending.username !== current.username || where(pending) !== where(current)) {
        throw new Error(
          `the pending value of ${config.secret} names another user or server than AWSCURRENT: redis-acl changes one user's password`,
        );
      }
      // The current password must log in before the user's passwords are replaced: otherwise the
      // password its clients really use is not the one in the secret, and would be removed.
      try {
        await logsIn(current);
      } catch (error) {
        throw new Error(
          `AWSCURRENT of ${config.secret} does not log in as "${current.username}" (${(error as Error).message}): nothing was changed; put the password the user really has as AWSCURRENT first`,
          { cause: error },
        );
      }
      const admin = await administrator(current);
      await as(current, admin.username, admin.password, async (call) => {
        await checkUser(call, current.username, admin.username, where(current));
        const set = await call(
          'ACL',
          'SETUSER',
          current.username,
          'on',
          'resetpass',
          `#${passwordHash(current.password)}`,
          `#${passwordHash(pending.password)}`,
        );
        if (set.type === 'error') throw new Error(`ACL SETUSER failed at ${where(current)} (${set.value})`);
        const saved = await persist(call, where(current));
        context.log.info('redis-acl: the user has the current and the pending password', {
          secret: config.secret,
          user: current.username,
          saved,
        });
      });
    },
    async testValue(pendingValue: string) {
      const pending = parse(pendingValue);
      try {
        await logsIn(pending);
      } catch (error) {
        throw new Error(
          `the pending password of ${config.secret} does not log in: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
    },
    async works(value: string) {
      try {
        await logsIn(parse(value));
        return true;
      } catch {
        return false;
      }
    },
    async describe(currentValue: string) {
      const current = parse(currentValue);
      const admin = config.adminSecret
        ? `"${config.adminSecret}" (adminSecret)`
        : `"${current.username}" itself`;
      return [
        `createSecret: after checking that ${where(current)}${current.tls ? ' (TLS)' : ''} answers within ${timeout}s and that ACL user "${current.username}" exists, a new random password stored as AWSPENDING (username, host, port and tls kept)`,
        `setSecret: as ${admin}, ACL SETUSER ${current.username} on resetpass #<sha256 of AWSCURRENT> #<sha256 of AWSPENDING>: the user has exactly these two passwords (the one from two rotations ago stops working), then ACL SAVE (aclfile) or CONFIG REWRITE (config file)`,
        `testSecret: AUTH ${current.username} with the pending password, then PING`,
        'finishSecret: AWSCURRENT moves to the new value; the old one (now AWSPREVIOUS) keeps working until the next rotation',
      ];
    },
  };
};

export const redisAcl: StrategyFactory<RedisAclConfig> = (config, context) =>
  redisAclStrategy(config, context);
