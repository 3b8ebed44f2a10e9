import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Connection } from '../../src/adapters/postgres-connection.ts';

const run = promisify(execFile);

/** Same server and database: a restore there would overwrite the source. */
export function sameDatabase(a: Connection, b: Connection): boolean {
  return a.host === b.host && a.port === b.port && a.database === b.database;
}

/**
 * libpq's environment for pg_dump and pg_restore: the password travels in PGPASSWORD, never on the
 * command line (where `ps` and process listings show it).
 */
export function libpqEnv(connection: Connection, connectTimeoutSeconds: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: 'C.UTF-8',
    PGHOST: connection.host,
    PGPORT: String(connection.port),
    PGUSER: connection.user,
    PGPASSWORD: connection.password,
    PGDATABASE: connection.database,
    PGCONNECT_TIMEOUT: String(connectTimeoutSeconds),
    PGAPPNAME: 'responder-backup',
  };
  if (connection.sslmode) env.PGSSLMODE = connection.sslmode;
  return env;
}

/** Removes every occurrence of the secrets from text bound for logs, the catalog or a page. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('********');
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret && encoded.length >= 4) out = out.split(encoded).join('********');
  }
  return out;
}

/**
 * Where pg_dump, pg_restore and psql come from: RESPONDER_PG_BIN_DIR when set, else the newest
 * `/usr/lib/postgresql/<major>/bin` (Debian), else the PATH (the backup image's /usr/bin).
 */
export function pgBinDir(): string | undefined {
  const configured = process.env.RESPONDER_PG_BIN_DIR;
  if (configured) return configured;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((name) => /^\d+$/.test(name) && existsSync(join(root, name, 'bin', 'pg_dump')))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] ? join(root, majors[0], 'bin') : undefined;
}

export function pgTool(name: 'pg_dump' | 'pg_restore'): string {
  const dir = pgBinDir();
  return dir ? join(dir, name) : name;
}

export interface ToolVersion {
  readonly major: number;
  readonly text: string;
}

/** `pg_dump (PostgreSQL) 15.18 (Debian ...)` → 15, "15.18". */
export async function toolVersion(path: string): Promise<ToolVersion> {
  let stdout: string;
  try {
    ({ stdout } = await run(path, ['--version'], { timeout: 10_000 }));
  } catch (error) {
    throw new Error(
      `cannot run ${path}: ${(error as Error).message.split('\n')[0]}; install the PostgreSQL client (apt-get install -y postgresql-client) or set RESPONDER_PG_BIN_DIR`,
    );
  }
  const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(stdout);
  if (!match) throw new Error(`cannot read the version of ${path} from '${stdout.trim().slice(0, 100)}'`);
  return { major: Number(match[1]), text: match[2] ? `${match[1]}.${match[2]}` : (match[1] as string) };
}

/** `server_version_num` 160004 → 16, "16.4". */
export function serverVersionOf(versionNum: number): ToolVersion {
  const major = Math.floor(versionNum / 10000);
  return { major, text: `${major}.${versionNum % 10000}` };
}

/**
 * pg_dump refuses a server of a newer major ("server version mismatch"): say so before dumping, with
 * both versions and what to change. An older server is dumped normally.
 */
export function checkDumpable(server: ToolVersion, pgDump: ToolVersion, compression: string): void {
  if (server.major > pgDump.major) {
    throw new Error(
      `server version ${server.text} is newer than pg_dump ${pgDump.text}, which cannot dump it: install PostgreSQL ${server.major} client tools (the backup image's POSTGRES_CLIENT_PACKAGE) or point RESPONDER_PG_BIN_DIR at pg_dump ${server.major} or newer`,
    );
  }
  if (/^(lz4|zstd)/.test(compression) && pgDump.major < 16) {
    throw new Error(
      `compression "${compression}" needs pg_dump 16 or newer (this one is ${pgDump.text}): use "gzip:N" or a newer pg_dump`,
    );
  }
}

/**
 * `--compress` as this pg_dump takes it: 16 and newer read `method[:level]`; 15 and older only a
 * gzip level, so `gzip:N` becomes `N` and `none` `0` (lz4 and zstd are refused by checkDumpable).
 */
export function compressArgument(compression: string, pgDump: ToolVersion): string {
  if (pgDump.major >= 16) return compression;
  if (compression === 'none') return '0';
  if (compression === 'gzip') return '6';
  const gzip = /^gzip:(\d{1,2})$/.exec(compression);
  return gzip ? (gzip[1] as string) : compression;
}

/** The last `max` characters of a process's stderr, kept as it streams. */
export class TailBuffer {
  private text = '';
  constructor(private readonly max = 4096) {}
  push(chunk: Buffer | string): void {
    this.text = (this.text + chunk.toString()).slice(-this.max);
  }
  toString(): string {
    return this.text;
  }
  /** pg_dump's own error: its last line that says `error:` (or its last line). */
  lastError(): string | undefined {
    const lines = this.text
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
    return [...lines].reverse().find((line) => /error:|FATAL|fatal:/i.test(line)) ?? lines.at(-1);
  }
}
