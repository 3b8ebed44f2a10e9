import type pg from 'pg';

/** How to reach one database: from a secret in RDS format, never from the config file. */
export interface Connection {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** `require` when the secret's engine or `sslmode` asks for TLS; libpq's default otherwise. */
  readonly sslmode?: string;
}

/**
 * Reads an RDS-format secret `{engine, host, port, username, password, dbname}`. `database` overrides
 * `dbname`; `hostOverride` fills in a secret without host/port (the local demo's).
 */
export function connectionFromSecret(
  secretId: string,
  secretString: string,
  options: { database?: string; defaults?: { host: string; port: number } } = {},
): Connection {
  let secret: Record<string, unknown>;
  try {
    secret = JSON.parse(secretString) as Record<string, unknown>;
  } catch {
    throw new Error(
      `secret ${secretId} is not JSON: store it in RDS format {"engine","host","port","username","password","dbname"}`,
    );
  }
  const text = (name: string) => (typeof secret[name] === 'string' ? (secret[name] as string) : undefined);
  const host = text('host') ?? options.defaults?.host;
  const port = Number(secret.port ?? options.defaults?.port ?? 5432);
  const user = text('username');
  const password = text('password');
  const database = options.database ?? text('dbname') ?? 'postgres';
  const missing = [!host && 'host', !user && 'username', !password && 'password'].filter(Boolean);
  if (missing.length > 0) {
    throw new Error(`secret ${secretId} has no ${missing.join(', ')}: store it in RDS format`);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`secret ${secretId}: port must be a TCP port (1-65535)`);
  }
  return {
    host: host as string,
    port,
    user: user as string,
    password: password as string,
    database,
    sslmode: text('sslmode'),
  };
}

/**
 * The PostgreSQL driver, loaded with the first connection rather than at cold start (a function that
 * only refuses or hands off a request never needs it).
 */
let driver: Promise<typeof pg> | undefined;
export function loadPg(): Promise<typeof pg> {
  driver ??= import('pg').then((module) => module.default);
  return driver;
}

/** A quoted identifier, as `pg.escapeIdentifier` makes it. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export async function pgClient(
  connection: Connection,
  connectTimeoutSeconds: number,
  applicationName = 'responder-backup',
): Promise<pg.Client> {
  const { Client } = await loadPg();
  return new Client({
    host: connection.host,
    port: connection.port,
    user: connection.user,
    password: connection.password,
    database: connection.database,
    connectionTimeoutMillis: connectTimeoutSeconds * 1000,
    application_name: applicationName,
    ssl:
      connection.sslmode && connection.sslmode !== 'disable'
        ? { rejectUnauthorized: connection.sslmode === 'verify-full' }
        : undefined,
  });
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNRESET',
]);

/** A connection that never reached PostgreSQL's authentication: the network's fault, not the secret's. */
export function isNetworkError(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | undefined;
  if (e?.code && NETWORK_CODES.has(e.code)) return true;
  return /timeout|terminated unexpectedly|ECONNREFUSED|ETIMEDOUT/i.test(e?.message ?? '');
}
