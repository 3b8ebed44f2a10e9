import { PutObjectCommand, PutObjectTaggingCommand, type S3Client } from '@aws-sdk/client-s3';
import type { PerformAction } from '../../src/actions/run-action.ts';
import { type Connection, connectionFromSecret, pgClient } from '../../src/adapters/postgres-connection.ts';
import type { BackupDatabaseConfig } from '../../src/config/backups.ts';
import type { ResponderConfig } from '../../src/config/schema.ts';
import type { ActionOutcome, ActionRequest } from '../../src/domain/actions.ts';
import {
  type BackupManifest,
  backupIdOf,
  type TableRows,
  type VerificationLevel,
} from '../../src/domain/backups.ts';
import type { BackupCatalog, Clock, Log, SecretStore } from '../../src/ports.ts';
import {
  checkDumpable,
  compressArgument,
  libpqEnv,
  pgTool,
  redact,
  sameDatabase,
  serverVersionOf,
  toolVersion,
} from './postgres-tools.ts';
import { missingFromListing, pipeObjectInto, runTool, scratchFolder, tablesInListing } from './read-back.ts';
import { compareRows, countRows, listTables, restoreBackup } from './restore.ts';
import { BackupStepError, partSizeFor, streamToS3 } from './stream-upload.ts';

/** The tag the bucket's lifecycle rule reads: `expire` objects go after `retention.days`, `keep` ones stay. */
export const RETENTION_TAG = 'responder-retention';

export interface BackupDeps {
  readonly config: ResponderConfig;
  readonly s3: S3Client;
  readonly bucket: string;
  readonly catalog: BackupCatalog;
  readonly secrets: SecretStore;
  readonly clock: Clock;
  readonly log: Log;
  /**
   * Starts the backup of a `runner: fargate` database as an ECS task (which runs this same body);
   * without it (the local runtime, the task itself) such databases are dumped here.
   */
  readonly startTask?: (request: ActionRequest, database: BackupDatabaseConfig) => Promise<string>;
  /** How often a running backup writes its progress (bytes so far) to the catalog. @default 5000 */
  readonly progressIntervalMs?: number;
}

/** A backup's whole time limit: its own, else what is left of Lambda's 15 minutes. */
function timeoutMsOf(db: BackupDatabaseConfig): number {
  return (db.timeoutMinutes ?? 14) * 60_000;
}

export function databaseOf(config: ResponderConfig, name: unknown): BackupDatabaseConfig {
  const configured = config.backups.databases.map((db) => db.name);
  if (typeof name !== 'string' || name.length === 0) {
    throw new Error(
      `name the database as params.database (one of: ${configured.join(', ') || 'none configured'})`,
    );
  }
  const db = config.backups.databases.find((candidate) => candidate.name === name);
  if (!db) {
    throw new Error(
      `no database '${name.slice(0, 63)}' in backups.databases (configured: ${configured.join(', ') || 'none'})`,
    );
  }
  return db;
}

export async function connectionOf(
  secrets: SecretStore,
  secretId: string,
  database?: string,
): Promise<Connection> {
  return connectionFromSecret(secretId, await secrets.getSecretString(secretId), { database });
}

function objectKeys(config: ResponderConfig, db: BackupDatabaseConfig, id: string, startedAt: Date) {
  const day = startedAt.toISOString().slice(0, 10).replace(/-/g, '/');
  const base = `${config.backups.prefix}${db.name}/${day}/${id}`;
  return {
    key: `${base}${db.format === 'directory' ? '.tar' : '.dump'}`,
    manifestKey: `${base}.manifest.json`,
  };
}

/**
 * The backup capability: for `params.database`, pg_dump streamed to S3 in the snapshot the row
 * counts are taken in, read back and verified (checksum, pg_restore --list, and a restore into the
 * scratch database with `verify: restore`), a manifest beside it, the catalog entry, and retention
 * tags. One backup per database at a time: a request while one runs is recorded as skipped.
 */
export function createBackupAction(deps: BackupDeps): PerformAction {
  return async (request) => {
    const { config, clock } = deps;
    const db = databaseOf(config, request.params.database);
    const verifyLevel = request.params.verify === 'restore' ? 'restore' : db.verify;
    if (verifyLevel === 'restore' && !db.scratch) {
      throw new Error(`backups.databases '${db.name}' has no scratch database for verify: restore`);
    }
    if (!deps.bucket)
      throw new Error('BACKUP_BUCKET is not set for this function: the CDK stack sets it, so redeploy');
    if (request.dryRun) {
      // What would stop the backup is the dry run's answer, not an error to retry.
      return dryRun(deps, db, verifyLevel).catch(
        (error: Error): ActionOutcome => ({
          status: 'failed',
          subject: db.name,
          summary: `dry run: the backup of ${db.name} would fail: ${error.message}`,
          data: { database: db.name },
        }),
      );
    }
    if (db.runner === 'fargate' && deps.startTask) {
      const task = await deps.startTask(request, db);
      return {
        status: 'recorded',
        subject: db.name,
        summary: `backup of ${db.name} started as Fargate task ${task}`,
        data: { database: db.name, task },
      };
    }
    const startedAt = clock.now();
    const id = backupIdOf(db.name, startedAt);
    const base: BackupManifest = {
      id,
      database: db.name,
      status: 'running',
      trigger: request.trigger,
      actionId: request.actionId,
      startedAt: startedAt.toISOString(),
      format: db.format,
      compression: db.compression,
      bucket: deps.bucket,
      ...objectKeys(config, db, id, startedAt),
    };
    const until = new Date(startedAt.getTime() + timeoutMsOf(db) + 5 * 60_000);
    if (!(await deps.catalog.lockDatabase(db.name, id, startedAt, until))) {
      await deps.catalog.saveBackup({
        ...base,
        status: 'skipped',
        finishedAt: startedAt.toISOString(),
        key: undefined,
        manifestKey: undefined,
      });
      return {
        status: 'recorded',
        subject: db.name,
        summary: `backup of ${db.name} skipped: another backup of it is running`,
        data: { database: db.name, backupId: id },
        result: { backupId: id, status: 'skipped' },
      };
    }
    try {
      await deps.catalog.saveBackup(base);
      const manifest = await runBackup(deps, db, base, verifyLevel);
      await deps.catalog.saveBackup(manifest);
      if (manifest.status === 'verified')
        await applyRetention(deps, db).catch((error: Error) =>
          deps.log.warn('retention tags not updated', { database: db.name, error: error.message }),
        );
      return outcomeOf(manifest);
    } finally {
      await deps.catalog.unlockDatabase(db.name, id).catch((error: Error) =>
        deps.log.warn('backup lock not released: it expires by itself', {
          database: db.name,
          error: error.message,
        }),
      );
    }
  };
}

function outcomeOf(manifest: BackupManifest): ActionOutcome {
  const data = {
    database: manifest.database,
    backupId: manifest.id,
    key: manifest.key,
    bytes: manifest.bytes,
    sha256: manifest.sha256,
    verification: manifest.verification?.level,
  };
  if (manifest.status === 'verified') {
    return {
      status: 'completed',
      subject: manifest.database,
      summary: `backup ${manifest.id}: ${formatBytes(manifest.bytes ?? 0)}, verified by ${manifest.verification?.level}, ${manifest.tables?.length ?? 0} tables`,
      data,
      result: { backupId: manifest.id, status: manifest.status },
    };
  }
  return {
    status: 'failed',
    subject: manifest.database,
    summary: `backup ${manifest.id} failed: ${manifest.error}`,
    data: { ...data, stderrTail: manifest.stderrTail?.slice(-500) },
    result: { backupId: manifest.id, status: manifest.status },
  };
}

export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

async function dryRun(
  deps: BackupDeps,
  db: BackupDatabaseConfig,
  verifyLevel: string,
): Promise<ActionOutcome> {
  const source = await connectionOf(deps.secrets, db.secret, db.database);
  const client = await pgClient(source, db.connectTimeoutSeconds);
  await client.connect();
  try {
    const server = serverVersionOf(
      Number((await client.query('SHOW server_version_num')).rows[0].server_version_num),
    );
    const pgDump = await toolVersion(pgTool('pg_dump'));
    checkDumpable(server, pgDump, db.compression);
    const size = Number((await client.query('SELECT pg_database_size(current_database()) AS n')).rows[0].n);
    const id = backupIdOf(db.name, deps.clock.now());
    const { key } = objectKeys(deps.config, db, id, deps.clock.now());
    return {
      status: 'completed',
      subject: db.name,
      summary: `dry run: would dump ${db.name} (${source.database} on ${source.host}:${source.port}, server ${server.text}, ${formatBytes(size)} on disk) with pg_dump ${pgDump.text} -F${db.format === 'directory' ? 'd' : 'c'} --compress=${db.compression} to s3://${deps.bucket}/${key} in ${formatBytes(partSizeFor(size))} parts, then verify by ${verifyLevel}`,
      data: {
        database: db.name,
        key,
        serverVersion: server.text,
        pgDumpVersion: pgDump.text,
        sizeBytes: size,
      },
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Dump, upload, verify: the manifest it ends with, `verified` or `failed` (never throws for a failed backup). */
async function runBackup(
  deps: BackupDeps,
  db: BackupDatabaseConfig,
  base: BackupManifest,
  verifyLevel: 'list' | 'restore',
): Promise<BackupManifest> {
  const started = Date.now();
  let manifest: BackupManifest = base;
  const secretsSeen: string[] = [];
  try {
    const source = await connectionOf(deps.secrets, db.secret, db.database);
    secretsSeen.push(source.password);
    let scratch: Connection | undefined;
    if (verifyLevel === 'restore' && db.scratch) {
      scratch = await connectionOf(deps.secrets, db.scratch.secret ?? db.secret, db.scratch.database);
      secretsSeen.push(scratch.password);
      if (sameDatabase(source, scratch)) {
        throw new Error(
          `the scratch database ${scratch.database} on ${scratch.host}:${scratch.port} is the source database: a restore drill would overwrite it; name another scratch database`,
        );
      }
    }
    const dumped = await dump(deps, db, base, source);
    manifest = { ...manifest, ...dumped.manifest };
    const verification = await verify(deps, db, manifest, dumped.tables, verifyLevel, scratch);
    manifest = {
      ...manifest,
      status: verification.ok ? 'verified' : 'failed',
      verification,
      error: verification.ok ? undefined : `verification failed: ${verification.detail}`,
    };
  } catch (error) {
    const step = error instanceof BackupStepError ? error : undefined;
    manifest = {
      ...manifest,
      status: 'failed',
      error: redact((error as Error).message, secretsSeen),
      stderrTail: step?.stderrTail,
      ...(step?.secondary ? { secondaryError: step.secondary } : {}),
    };
  }
  manifest = { ...manifest, finishedAt: deps.clock.now().toISOString(), durationMs: Date.now() - started };
  await writeManifest(deps, manifest).catch((error: Error) => {
    deps.log.warn('backup manifest not written to S3', { id: manifest.id, error: error.message });
  });
  return manifest;
}

interface Dumped {
  readonly manifest: Partial<BackupManifest>;
  readonly tables: TableRows[];
}

/**
 * pg_dump in a snapshot exported by this connection, so the row counts taken in the same snapshot
 * (while the dump streams) describe exactly what the dump holds.
 */
async function dump(
  deps: BackupDeps,
  db: BackupDatabaseConfig,
  base: BackupManifest,
  source: Connection,
): Promise<Dumped> {
  const client = await pgClient(source, db.connectTimeoutSeconds);
  await client.connect();
  client.on('error', () => undefined);
  try {
    const server = serverVersionOf(
      Number((await client.query('SHOW server_version_num')).rows[0].server_version_num),
    );
    const pgDumpPath = pgTool('pg_dump');
    const pgDump = await toolVersion(pgDumpPath);
    checkDumpable(server, pgDump, db.compression);
    const size = Number((await client.query('SELECT pg_database_size(current_database()) AS n')).rows[0].n);
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const snapshot = (await client.query('SELECT pg_export_snapshot() AS id')).rows[0].id as string;
    const tableNames = await listTables(client);
    const env = libpqEnv(source, db.connectTimeoutSeconds);
    const common = [
      `--snapshot=${snapshot}`,
      `--compress=${compressArgument(db.compression, pgDump)}`,
      '--no-password',
      ...db.excludeTables.map((pattern) => `--exclude-table-data=${pattern}`),
    ];
    const partSizeBytes = partSizeFor(size);
    const timeoutMs = timeoutMsOf(db);
    let lastProgress = 0;
    const onProgress = (bytes: number) => {
      const now = Date.now();
      if (now - lastProgress < (deps.progressIntervalMs ?? 5000)) return;
      lastProgress = now;
      deps.catalog.saveBackup({ ...base, bytes }).catch(() => undefined);
    };
    const tags = { [RETENTION_TAG]: 'expire', 'responder-database': db.name };
    const counting = countRows(client, tableNames);
    // A failed count must not leave an unhandled rejection while the upload runs.
    counting.catch(() => undefined);
    let uploaded: Awaited<ReturnType<typeof streamToS3>>;
    if (db.format === 'directory') {
      const folder = scratchFolder('responder-dump-');
      try {
        const dumped = await runTool(
          {
            command: pgDumpPath,
            args: ['--format=directory', `--jobs=${db.jobs}`, ...common, `--file=${folder.path}/dump`],
            env,
            name: 'pg_dump',
          },
          { secrets: [source.password], timeoutMs },
        );
        if (dumped.exitCode !== 0) {
          const own = dumped.stderrTail
            .trim()
            .split('\n')
            .reverse()
            .find((line) => /error:/i.test(line));
          throw new BackupStepError(
            `pg_dump exited with code ${dumped.exitCode}: ${own ?? dumped.stderrTail.trim().split('\n').at(-1) ?? ''}`,
            dumped.stderrTail,
          );
        }
        uploaded = await streamToS3({
          s3: deps.s3,
          bucket: deps.bucket,
          key: base.key as string,
          producer: {
            command: 'tar',
            args: ['-C', folder.path, '-cf', '-', 'dump'],
            env: { PATH: process.env.PATH },
            name: 'tar',
          },
          partSizeBytes,
          timeoutMs,
          secrets: [source.password],
          tags,
          onProgress,
          log: deps.log,
        });
      } finally {
        folder.dispose();
      }
    } else {
      uploaded = await streamToS3({
        s3: deps.s3,
        bucket: deps.bucket,
        key: base.key as string,
        producer: { command: pgDumpPath, args: ['--format=custom', ...common], env, name: 'pg_dump' },
        partSizeBytes,
        timeoutMs,
        secrets: [source.password],
        tags,
        onProgress,
        log: deps.log,
      });
    }
    const tables = await counting;
    await client.query('COMMIT');
    return {
      tables,
      manifest: {
        source: { host: source.host, port: source.port, database: source.database },
        serverVersion: server.text,
        pgDumpVersion: pgDump.text,
        bytes: uploaded.bytes,
        sha256: uploaded.sha256,
        s3Checksum: uploaded.s3Checksum,
        versionId: uploaded.versionId,
        partSizeBytes: uploaded.partSizeBytes,
        tables,
      },
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Reads the object back: the SHA-256 must equal the one computed on the way up and pg_restore must
 * list every table the source had; with `restore`, the backup is restored into the scratch database
 * and each table's rows must equal the count taken at dump time.
 */
async function verify(
  deps: BackupDeps,
  db: BackupDatabaseConfig,
  manifest: BackupManifest,
  tables: readonly TableRows[],
  level: 'list' | 'restore',
  scratch: Connection | undefined,
): Promise<{ level: VerificationLevel; ok: boolean; detail: string }> {
  const object = {
    bucket: manifest.bucket as string,
    key: manifest.key as string,
    versionId: manifest.versionId,
  };
  const timeoutMs = timeoutMsOf(db);
  let listing: string;
  let read: { sha256: string; exitCode: number | null; stderrTail: string; bytes: number };
  if (db.format === 'directory') {
    const folder = scratchFolder('responder-verify-');
    try {
      read = await pipeObjectInto(
        deps.s3,
        object,
        { command: 'tar', args: ['-x', '-C', folder.path, '-f', '-'], name: 'tar' },
        { timeoutMs },
      );
      const listed =
        read.exitCode === 0
          ? await runTool(
              { command: pgTool('pg_restore'), args: ['--list', `${folder.path}/dump`], name: 'pg_restore' },
              { timeoutMs },
            )
          : undefined;
      listing = listed?.stdout ?? '';
      if (listed) read = { ...read, exitCode: listed.exitCode, stderrTail: listed.stderrTail };
    } finally {
      folder.dispose();
    }
  } else {
    const piped = await pipeObjectInto(
      deps.s3,
      object,
      { command: pgTool('pg_restore'), args: ['--list'], name: 'pg_restore' },
      { timeoutMs },
    );
    read = piped;
    listing = piped.stdout;
  }
  if (read.sha256 !== manifest.sha256) {
    return {
      level: 'none',
      ok: false,
      detail: `SHA-256 of the stored object is ${read.sha256}, ${manifest.sha256} was uploaded (${read.bytes} of ${manifest.bytes} bytes read back)`,
    };
  }
  if (read.exitCode !== 0) {
    return {
      level: 'checksum',
      ok: false,
      detail: `pg_restore --list failed (exit ${read.exitCode}): ${read.stderrTail.trim().split('\n').at(-1) ?? ''}`,
    };
  }
  const missing = missingFromListing(listing, tables);
  if (missing.length > 0) {
    return {
      level: 'checksum',
      ok: false,
      detail: `pg_restore --list lacks ${missing.length} of the source's tables: ${missing.slice(0, 5).join(', ')}`,
    };
  }
  const listed = `checksum equal, pg_restore --list names all ${tables.length} tables`;
  if (level === 'list' || !scratch) return { level: 'list', ok: true, detail: listed };
  try {
    const restored = await restoreBackup({
      s3: deps.s3,
      manifest,
      target: scratch,
      connectTimeoutSeconds: db.connectTimeoutSeconds,
      timeoutMs,
      recreate: true,
      jobs: db.jobs,
    });
    const { withData } = tablesInListing(listing);
    const excluded = new Set(tables.map((t) => t.table).filter((t) => !withData.has(t)));
    const problems = compareRows(tables, restored.tables, excluded);
    if (problems.length > 0) {
      return {
        level: 'list',
        ok: false,
        detail: `restore into ${scratch.database} differs: ${problems.slice(0, 5).join('; ')}`,
      };
    }
    const rows = restored.tables.reduce((sum, t) => sum + t.rows, 0);
    return {
      level: 'restore',
      ok: true,
      detail: `${listed}; restored into ${scratch.database}: ${restored.tables.length} tables, ${rows} rows, all counts equal`,
    };
  } catch (error) {
    return {
      level: 'list',
      ok: false,
      detail: `restore into ${scratch.database} failed: ${(error as Error).message}`,
    };
  }
}

async function writeManifest(deps: BackupDeps, manifest: BackupManifest): Promise<void> {
  if (!manifest.manifestKey || manifest.status === 'failed') return;
  await deps.s3.send(
    new PutObjectCommand({
      Bucket: deps.bucket,
      Key: manifest.manifestKey,
      Body: `${JSON.stringify(manifest, null, 2)}\n`,
      ContentType: 'application/json',
      ChecksumAlgorithm: 'SHA256',
      Tagging: `${RETENTION_TAG}=expire&responder-database=${encodeURIComponent(manifest.database)}`,
    }),
  );
}

/**
 * Keeps the newest `retention.keepLast` verified backups whatever their age: they are tagged `keep`
 * (which the lifecycle rule skips), and the one that just fell out of that window `expire` again.
 */
async function applyRetention(deps: BackupDeps, db: BackupDatabaseConfig): Promise<void> {
  const keepLast = deps.config.backups.retention.keepLast;
  const verified = await deps.catalog.listBackups(db.name, { limit: keepLast + 1, verifiedOnly: true });
  const tag = async (manifest: BackupManifest, value: 'keep' | 'expire') => {
    for (const key of [manifest.key, manifest.manifestKey]) {
      if (!key) continue;
      await deps.s3.send(
        new PutObjectTaggingCommand({
          Bucket: deps.bucket,
          Key: key,
          VersionId: key === manifest.key ? manifest.versionId : undefined,
          Tagging: {
            TagSet: [
              { Key: RETENTION_TAG, Value: value },
              { Key: 'responder-database', Value: db.name },
            ],
          },
        }),
      );
    }
  };
  const [newest] = verified;
  if (newest) await tag(newest, 'keep');
  const dropped = verified[keepLast];
  if (dropped) await tag(dropped, 'expire');
}
