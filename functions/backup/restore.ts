import type { S3Client } from '@aws-sdk/client-s3';
import type pg from 'pg';
import { type Connection, pgClient, quoteIdent } from '../../src/adapters/postgres-connection.ts';
import type { BackupManifest, TableRows } from '../../src/domain/backups.ts';
import { libpqEnv, pgTool } from './postgres-tools.ts';
import { pipeObjectInto, runTool, scratchFolder } from './read-back.ts';

/** Exact row counts of the listed tables, in the client's current transaction (or snapshot). */
export async function countRows(client: pg.Client, tables: readonly string[]): Promise<TableRows[]> {
  const counted: TableRows[] = [];
  for (const table of tables) {
    const dot = table.indexOf('.');
    const schema = table.slice(0, dot);
    const name = table.slice(dot + 1);
    const result = await client.query<{ n: string }>(
      `SELECT count(*)::bigint AS n FROM ${quoteIdent(schema)}.${quoteIdent(name)}`,
    );
    counted.push({ table, rows: Number(result.rows[0]?.n ?? 0) });
  }
  return counted;
}

/** The database's ordinary tables (partitions included, their parents not: those hold no rows). */
export async function listTables(client: pg.Client): Promise<string[]> {
  const result = await client.query<{ name: string }>(
    `SELECT n.nspname || '.' || c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r'
        AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
      ORDER BY 1`,
  );
  return result.rows.map((row) => row.name);
}

export interface RestoreOptions {
  readonly s3: S3Client;
  readonly manifest: BackupManifest;
  readonly target: Connection;
  readonly connectTimeoutSeconds: number;
  readonly timeoutMs: number;
  /** Drop the target database first and create it empty (the restore drill's scratch database). */
  readonly recreate?: boolean;
  readonly jobs?: number;
}

export interface RestoreResult {
  readonly bytes: number;
  readonly tables: TableRows[];
  readonly durationMs: number;
}

/**
 * Creates the target database when it does not exist (or drops and creates it, `recreate`); refuses
 * one that already has tables, so a restore never mixes into live data.
 */
async function prepareTarget(options: RestoreOptions): Promise<void> {
  const { target } = options;
  const admin = await pgClient({ ...target, database: 'postgres' }, options.connectTimeoutSeconds);
  await admin.connect();
  try {
    const name = quoteIdent(target.database);
    if (options.recreate) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [target.database]);
    if (exists.rowCount === 0) {
      await admin.query(`CREATE DATABASE ${name}`);
      return;
    }
  } finally {
    await admin.end().catch(() => undefined);
  }
  const client = await pgClient(target, options.connectTimeoutSeconds);
  await client.connect();
  try {
    const tables = await listTables(client);
    if (tables.length > 0) {
      throw new Error(
        `database ${target.database} on ${target.host}:${target.port} already has ${tables.length} tables (${tables.slice(0, 3).join(', ')}${tables.length > 3 ? ', ...' : ''}): restore into a new database, or drop this one first`,
      );
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Streams a backup from S3 into pg_restore (checking its SHA-256 on the way), then counts the rows
 * of each table the backup carries. Custom format restores straight from the stream; directory
 * format is unpacked into local space first and restored with `jobs` jobs.
 */
export async function restoreBackup(options: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const { manifest, target } = options;
  if (!manifest.key || !manifest.bucket || !manifest.sha256) {
    throw new Error(`backup ${manifest.id} has no stored object (status ${manifest.status})`);
  }
  await prepareTarget(options);
  const object = { bucket: manifest.bucket, key: manifest.key, versionId: manifest.versionId };
  const env = libpqEnv(target, options.connectTimeoutSeconds);
  const secrets = [target.password];
  const restoreArgs = ['--no-owner', '--no-privileges', '--exit-on-error', `--dbname=${target.database}`];
  let read: { bytes: number; sha256: string; exitCode: number | null; stderrTail: string };
  if (manifest.format === 'directory') {
    const folder = scratchFolder('responder-restore-');
    try {
      read = await pipeObjectInto(
        options.s3,
        object,
        { command: 'tar', args: ['-x', '-C', folder.path, '-f', '-'], name: 'tar' },
        { timeoutMs: options.timeoutMs },
      );
      if (read.exitCode === 0 && read.sha256 === manifest.sha256) {
        const jobs = String(Math.max(1, options.jobs ?? 1));
        read = {
          ...read,
          ...(await runTool(
            {
              command: pgTool('pg_restore'),
              args: [...restoreArgs, `--jobs=${jobs}`, `${folder.path}/dump`],
              env,
              name: 'pg_restore',
            },
            { secrets, timeoutMs: options.timeoutMs },
          )),
        };
      }
    } finally {
      folder.dispose();
    }
  } else {
    read = await pipeObjectInto(
      options.s3,
      object,
      { command: pgTool('pg_restore'), args: restoreArgs, env, name: 'pg_restore' },
      { secrets, timeoutMs: options.timeoutMs },
    );
  }
  if (read.sha256 !== manifest.sha256) {
    throw new Error(
      `checksum mismatch: s3://${object.bucket}/${object.key} has SHA-256 ${read.sha256}, the backup recorded ${manifest.sha256}; the object is damaged`,
    );
  }
  if (read.exitCode !== 0) {
    const last = read.stderrTail.trim().split('\n').at(-1) ?? '';
    throw new Error(`pg_restore exited with code ${read.exitCode}: ${last}`);
  }
  const client = await pgClient(target, options.connectTimeoutSeconds);
  await client.connect();
  try {
    const tables = await countRows(client, await listTables(client));
    return { bytes: read.bytes, tables, durationMs: Date.now() - started };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Differences between the rows counted at dump time and after a restore, as readable lines. */
export function compareRows(
  expected: readonly TableRows[],
  restored: readonly TableRows[],
  excludedData: ReadonlySet<string>,
): string[] {
  const found = new Map(restored.map((t) => [t.table, t.rows]));
  const problems: string[] = [];
  for (const { table, rows } of expected) {
    const got = found.get(table);
    const want = excludedData.has(table) ? 0 : rows;
    if (got === undefined) problems.push(`${table}: missing after restore`);
    else if (got !== want) problems.push(`${table}: ${want} rows at dump time, ${got} restored`);
  }
  return problems;
}
