/**
 * One backup measurement in a process of its own, so that its peak RSS is the backup's alone (the
 * bench builds this file with the Lambda bundles' esbuild options and runs it with plain `node`, as
 * the backup function runs). The job comes as JSON in argv[2]:
 *
 * - `pipeline`: `streamToS3` alone, pg_dump's custom-format archive hashed and uploaded to the bucket;
 * - `backup`: Responder's whole backup (`createBackupAction`: version check, snapshot, row counts,
 *   dump and upload, read-back with SHA-256 and `pg_restore --list`, manifest, retention tags).
 *
 * It prints one JSON line: wall times, bytes, the S3 calls' timing and its own peak RSS.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { createBackupAction } from '../functions/backup/backup-database.ts';
import { compressArgument, libpqEnv, pgTool, toolVersion } from '../functions/backup/postgres-tools.ts';
import { partSizeFor, streamToS3 } from '../functions/backup/stream-upload.ts';
import { parseConfig } from '../src/config/schema.ts';
import { actionRequestSchema } from '../src/domain/actions.ts';
import type { BackupManifest } from '../src/domain/backups.ts';
import { type BackupCatalog, silentLog, systemClock } from '../src/ports.ts';

export interface ChildJob {
  readonly mode: 'pipeline' | 'backup';
  readonly s3Endpoint: string;
  readonly bucket: string;
  readonly key: string;
  readonly connection: {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly password: string;
    readonly database: string;
  };
  /** pg_database_size, for the part size (as the backup chooses it). */
  readonly sizeBytes: number;
  readonly compression: string;
}

export interface ChildResult {
  readonly mode: ChildJob['mode'];
  readonly wallMs: number;
  /** Until the dump's object was complete in S3 (CompleteMultipartUpload or PutObject answered). */
  readonly dumpUploadMs: number;
  /** The last CompleteMultipartUpload's own time (s3rver concatenates the parts then). */
  readonly completeMs: number;
  readonly bytes: number;
  readonly parts: number;
  readonly partSizeBytes: number;
  readonly status: string;
  readonly detail?: string;
  /** RSS once the modules were loaded, before the work. */
  readonly startRssMiB: number;
  /** getrusage's ru_maxrss: the process's peak resident set. */
  readonly peakRssMiB: number;
  readonly cpuMs: number;
}

const MIB = 2 ** 20;

/** Every backup in memory: the catalog's contract, without dynalite in this process. */
class MemoryCatalog implements BackupCatalog {
  private readonly backups = new Map<string, BackupManifest>();
  private readonly locks = new Map<string, string>();
  async lockDatabase(database: string, holder: string) {
    if (this.locks.has(database)) return false;
    this.locks.set(database, holder);
    return true;
  }
  async unlockDatabase(database: string, holder: string) {
    if (this.locks.get(database) === holder) this.locks.delete(database);
  }
  async saveBackup(manifest: BackupManifest) {
    this.backups.set(manifest.id, manifest);
  }
  async getBackup(id: string) {
    return this.backups.get(id);
  }
  async latestVerified(database: string) {
    return (await this.listBackups(database, { verifiedOnly: true }))[0];
  }
  async listBackups(database: string, options: { limit?: number; verifiedOnly?: boolean } = {}) {
    return [...this.backups.values()]
      .filter((b) => b.database === database && (!options.verifiedOnly || b.status === 'verified'))
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt))
      .slice(0, options.limit ?? 100);
  }
}

async function main(job: ChildJob): Promise<ChildResult> {
  const s3 = new S3Client({
    endpoint: job.s3Endpoint,
    region: 'eu-west-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 1000, requestTimeout: 600_000 },
  });
  let started = 0;
  let dumpUploadMs = Number.NaN;
  let completeMs = 0;
  let parts = 0;
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      const name = (context as { commandName?: string }).commandName ?? '';
      const key = (args.input as { Key?: string }).Key ?? '';
      const at = performance.now();
      const output = await next(args);
      if (name === 'UploadPartCommand') parts += 1;
      if (name === 'CompleteMultipartUploadCommand') completeMs = performance.now() - at;
      if (
        (name === 'CompleteMultipartUploadCommand' || name === 'PutObjectCommand') &&
        !key.endsWith('.manifest.json')
      ) {
        dumpUploadMs = performance.now() - started;
        if (name === 'PutObjectCommand') parts = 1;
      }
      return output;
    },
    { step: 'initialize', name: 'benchTiming' },
  );
  global.gc?.();
  const startRss = process.memoryUsage().rss;
  const cpuBefore = process.cpuUsage();
  started = performance.now();
  let bytes = 0;
  let status = 'uploaded';
  let detail: string | undefined;
  const partSizeBytes = partSizeFor(job.sizeBytes);
  if (job.mode === 'pipeline') {
    const pgDump = pgTool('pg_dump');
    const version = await toolVersion(pgDump);
    const result = await streamToS3({
      s3,
      bucket: job.bucket,
      key: job.key,
      producer: {
        command: pgDump,
        args: [
          '--format=custom',
          `--compress=${compressArgument(job.compression, version)}`,
          '--no-password',
        ],
        env: libpqEnv({ ...job.connection }, 10),
        name: 'pg_dump',
      },
      partSizeBytes,
      timeoutMs: 3_600_000,
      secrets: [job.connection.password],
    });
    bytes = result.bytes;
  } else {
    const secret = 'bench/db';
    const config = parseConfig({
      service: 'bench',
      aws: { region: 'eu-west-1', drRegion: 'eu-central-1' },
      backups: {
        databases: [
          {
            name: 'bench',
            secret,
            compression: job.compression,
            verify: 'list',
            timeoutMinutes: 120,
          },
        ],
      },
    });
    const backup = createBackupAction({
      config,
      s3,
      bucket: job.bucket,
      catalog: new MemoryCatalog(),
      secrets: {
        getSecretString: async () =>
          JSON.stringify({
            engine: 'postgres',
            host: job.connection.host,
            port: job.connection.port,
            username: job.connection.user,
            password: job.connection.password,
            dbname: job.connection.database,
          }),
      },
      clock: systemClock,
      log: silentLog,
    });
    const outcome = await backup(
      actionRequestSchema.parse({
        actionId: `bench-backup-${Date.now()}`,
        kind: 'backup',
        trigger: 'operator',
        requestedAt: new Date().toISOString(),
        dryRun: false,
        params: { database: 'bench' },
      }),
    );
    status = outcome.status;
    detail = outcome.summary;
    bytes = Number((outcome.data as { bytes?: number } | undefined)?.bytes ?? 0);
  }
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  s3.destroy();
  return {
    mode: job.mode,
    wallMs,
    dumpUploadMs,
    completeMs,
    bytes,
    parts,
    partSizeBytes,
    status,
    detail,
    startRssMiB: startRss / MIB,
    // ru_maxrss is in KiB on Linux.
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

const job = JSON.parse(process.argv[2] ?? '{}') as ChildJob;
main(job).then(
  (result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  },
  (error: Error) => {
    process.stderr.write(`${error.stack ?? error.message}\n`);
    process.exitCode = 1;
  },
);
