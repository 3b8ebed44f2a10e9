/**
 * Backups of generated databases (issue 10): in a throwaway PostgreSQL cluster under the temp folder,
 * a pgbench database (compresses ~55:1: measures pg_dump more than the upload), a database of
 * realistic entropy (random text and JSON that gzip compresses 3-5:1: the upload carries real bytes)
 * and the same at three times the size (memory must stay flat). For each, with the same format
 * (custom) and compression (the config's default, gzip:6):
 *
 * - raw `pg_dump` to /dev/null: wall time, MB/s of database and of dump;
 * - the dump-hash-upload pipeline alone (`streamToS3` into an embedded s3rver);
 * - Responder's whole backup (`createBackupAction`, verify `list`): dump and upload, then read-back;
 *
 * the last two in a child process (bench/backup-child.ts, bundled like the Lambda) whose peak RSS is
 * reported, and pg_dump's own peak (VmHWM, polled). s3rver runs in this process, not the child's.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import pg from 'pg';
import S3rver from 's3rver';
import { compressArgument, pgTool, toolVersion } from '../functions/backup/postgres-tools.ts';
import { esbuildOptions } from '../lib/bundling.ts';
import { loadConfigFile } from '../src/config/load.ts';
import { letPostgresPassThrough, startPostgresCluster } from '../src/local/postgres-cluster.ts';
import { freePort } from '../test/support/processes.ts';
import type { ChildJob, ChildResult } from './backup-child.ts';

const ROOT = join(import.meta.dirname, '..');
const MB = 1e6;
const MIB = 2 ** 20;
/** The realistic database's size in GB (pg_database_size); the large one is `BENCH_BACKUP_LARGE_FACTOR` times it. */
const REALISTIC_GB = Number(process.env.BENCH_BACKUP_GB ?? 1.05);
const LARGE_FACTOR = Number(process.env.BENCH_BACKUP_LARGE_FACTOR ?? 3);
/** pgbench's scale: about 15 MB of database per unit (70: about 1.05 GB). */
const PGBENCH_SCALE = Number(process.env.BENCH_BACKUP_PGBENCH_SCALE ?? 70);
/** Runs of raw pg_dump and of the pipeline (interleaved; the best of each is kept) on the 1x databases. */
const RUNS = Number(process.env.BENCH_BACKUP_RUNS ?? 3);
const COMPRESSION = 'gzip:6';
/** Issue 10's targets. */
export const PIPELINE_TARGET_RATIO = 0.95;
export const PEAK_RSS_TARGET_MIB = 150;
const BUCKET = 'bench-backups';
const PASSWORD = 'bench-backup-password';
const round = (value: number, digits = 1) => Number(value.toFixed(digits));
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

const log = (text: string) => process.stdout.write(`  ${text}\n`);

/** Rows with realistic entropy: words from a vocabulary, a reference, JSON with ids, amounts, addresses. */
const VOCABULARY =
  `the customer order payment was declined accepted because card expired address updated shipping
delayed warehouse stock refund issued invoice overdue reminder sent to from account locked after failed login
attempts password reset requested by user support ticket opened closed escalated priority high low normal
subscription renewed cancelled trial ended plan upgraded downgraded coupon applied discount tax calculated region
currency converted exchange rate batch job completed retry scheduled webhook delivered timeout gateway error
network latency spike detected in on for with and of a new old is not pending review manual check fraud score
risk verified identity document uploaded email confirmed phone number changed delivery window missed courier
picked up parcel returned damaged item replaced credit note created`
    .split(/\s+/)
    .filter(Boolean);

const chunkSql = (table: string, first: number, rows: number) => `
CREATE TABLE ${table} (
  id bigint PRIMARY KEY,
  occurred_at timestamptz NOT NULL,
  customer_id int NOT NULL,
  kind text NOT NULL,
  status text NOT NULL,
  message text,
  payload jsonb
);
INSERT INTO ${table}
SELECT g,
  timestamptz '2024-01-01' + g * interval '937 ms' + random() * interval '1 s',
  (random() * 250000)::int,
  (ARRAY['order.created','order.paid','order.shipped','order.cancelled','refund.requested','user.login',
    'user.password_reset','invoice.sent','invoice.overdue','subscription.renewed'])[1 + (random() * 9)::int],
  (ARRAY['ok','ok','ok','pending','failed','retrying'])[1 + (random() * 5)::int],
  (SELECT string_agg(w[1 + (random() * (array_length(w, 1) - 1) + 0 * i + 0 * g)::int], ' ')
     FROM generate_series(1, 6 + (random() * 18)::int) i) || ' ref ' || substr(md5(random()::text), 1, 12),
  jsonb_build_object(
    'request_id', md5(random()::text),
    'amount', round((random() * 2000)::numeric, 2),
    'currency', (ARRAY['EUR','USD','GBP','SEK'])[1 + (random() * 3)::int],
    'ip', concat_ws('.', 10, (random() * 255)::int, (random() * 255)::int, (random() * 255)::int),
    'user_agent', (ARRAY['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
      'curl/8.5.0','okhttp/4.12.0'])[1 + (random() * 3)::int],
    'items', (random() * 9)::int,
    'note', substr(md5(random()::text) || md5(random()::text), 1, (random() * 48)::int)
  )
FROM generate_series(${first}, ${first + rows - 1}) g,
  (SELECT ARRAY[${VOCABULARY.map((word) => `'${word}'`).join(',')}] AS w) v;`;

/** Rows per generated table: about 100 MB with its primary key. */
const CHUNK_ROWS = 200_000;

interface Cluster {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  query(database: string, text: string): Promise<pg.QueryResult>;
  env(database: string): NodeJS.ProcessEnv;
}

async function query(
  cluster: Omit<Cluster, 'query' | 'env'>,
  database: string,
  text: string,
): Promise<pg.QueryResult> {
  const client = new pg.Client({
    host: cluster.host,
    port: cluster.port,
    user: cluster.user,
    password: cluster.password,
    database,
  });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

const sizeOf = async (cluster: Cluster, database: string) =>
  Number((await cluster.query(database, 'SELECT pg_database_size(current_database()) AS n')).rows[0].n);

/**
 * Adds generated tables (`events_0001`, ...) to `database` until it reaches `targetBytes`, two at a
 * time (one per core). Each is created, loaded and indexed in one transaction (with wal_level
 * minimal its rows skip the WAL), then vacuumed so the dumps do not pay for the hint bits.
 */
async function fillRealistic(cluster: Cluster, database: string, targetBytes: number): Promise<number> {
  const existing = Number(
    (await cluster.query(database, "SELECT count(*) AS n FROM pg_tables WHERE tablename LIKE 'events_%'"))
      .rows[0].n,
  );
  let next = existing;
  const load = async (index: number) => {
    const table = `events_${String(index + 1).padStart(4, '0')}`;
    await cluster.query(database, `BEGIN; ${chunkSql(table, index * CHUNK_ROWS + 1, CHUNK_ROWS)} COMMIT;`);
    await cluster.query(database, `VACUUM ${table}`);
  };
  if (next === 0) await load(next++);
  const perChunk = Number(
    (await cluster.query(database, "SELECT pg_total_relation_size('events_0001') AS n")).rows[0].n,
  );
  const needed = Math.max(0, Math.ceil((targetBytes - (await sizeOf(cluster, database))) / perChunk));
  const last = next + needed;
  await Promise.all(
    [0, 1].map(async () => {
      while (next < last) await load(next++);
    }),
  );
  return next - existing;
}

interface PgDumpFigures {
  /** pg_dump's own peak resident set (VmHWM). */
  readonly pgDumpPeakRssMiB: number;
  /** pg_dump's CPU time (user + system), to tell its work from the machine's load. */
  readonly pgDumpCpuMs: number;
}

interface RawRun extends PgDumpFigures {
  readonly wallMs: number;
  readonly bytes: number;
}

/** A process's name, parent and CPU time from /proc/<pid>/stat; undefined once it is gone. */
function procStat(pid: number): { comm: string; ppid: number; cpuMs: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    // After the name: state, ppid, ..., utime (14th field of the line) and stime (15th), in 1/100 s.
    return {
      comm: stat.slice(stat.indexOf('(') + 1, close),
      ppid: Number(fields[1]),
      cpuMs: (Number(fields[11]) + Number(fields[12])) * 10,
    };
  } catch {
    return undefined;
  }
}

/** VmHWM (peak resident set) of a live process, in MiB; undefined once it is gone. */
function peakOf(pid: number): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The pids of `parent`'s children named `name`. */
function childrenNamed(parent: number, name: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      const stat = procStat(pid);
      return stat?.ppid === parent && stat.comm === name;
    });
}

/**
 * Polls `child`'s pg_dump (the child itself when `direct`) every 50 ms: its peak RSS (VmHWM only
 * grows) and CPU time, as last seen before it exited.
 */
function watchPgDump(child: ChildProcess, direct: boolean): () => PgDumpFigures {
  const seen = new Map<number, { peak: number; cpuMs: number }>();
  const timer = setInterval(() => {
    const pid = child.pid;
    if (pid === undefined) return;
    for (const target of direct ? [pid] : childrenNamed(pid, 'pg_dump')) {
      const peak = peakOf(target);
      const stat = procStat(target);
      if (peak !== undefined && stat) seen.set(target, { peak, cpuMs: stat.cpuMs });
    }
  }, 50);
  return () => {
    clearInterval(timer);
    const all = [...seen.values()];
    return {
      pgDumpPeakRssMiB: Math.max(0, ...all.map((p) => p.peak)),
      pgDumpCpuMs: all.reduce((sum, p) => sum + p.cpuMs, 0),
    };
  };
}

function waitForExit(child: ChildProcess, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${what} exited with code ${code}`)),
    );
  });
}

/** Raw `pg_dump` to /dev/null, or counting its bytes through a pipe when `count`. */
async function rawDump(cluster: Cluster, database: string, compress: string, count = false): Promise<RawRun> {
  const devNull = openSync('/dev/null', 'w');
  const started = performance.now();
  const child = spawn(pgTool('pg_dump'), ['--format=custom', `--compress=${compress}`, '--no-password'], {
    env: cluster.env(database),
    stdio: ['ignore', count ? 'pipe' : devNull, 'inherit'],
  });
  closeSync(devNull);
  let bytes = 0;
  child.stdout?.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  const stopWatching = watchPgDump(child, true);
  await waitForExit(child, 'pg_dump');
  const wallMs = performance.now() - started;
  return { wallMs, bytes, ...stopWatching() };
}

async function runChild(bundle: string, job: ChildJob): Promise<ChildResult & PgDumpFigures> {
  const child = spawn(process.execPath, ['--expose-gc', bundle, JSON.stringify(job)], {
    env: { PATH: process.env.PATH, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const stopWatching = watchPgDump(child, false);
  await waitForExit(child, `the ${job.mode} child`);
  const result = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as ChildResult;
  return { ...result, ...stopWatching() };
}

interface Dataset {
  readonly name: string;
  readonly description: string;
  readonly database: string;
  readonly runs: number;
}

async function measure(cluster: Cluster, bundle: string, s3Endpoint: string, set: Dataset) {
  const sizeBytes = await sizeOf(cluster, set.database);
  const pgDump = await toolVersion(pgTool('pg_dump'));
  const compress = compressArgument(COMPRESSION, pgDump);
  log(`${set.name}: ${round(sizeBytes / MB, 0)} MB; uncompressed dump (pg_dump -Fc -Z0)...`);
  const uncompressed = await rawDump(cluster, set.database, '0', true);
  const connection = {
    host: cluster.host,
    port: cluster.port,
    user: cluster.user,
    password: cluster.password,
    database: set.database,
  };
  const raws: RawRun[] = [];
  const pipelines: Awaited<ReturnType<typeof runChild>>[] = [];
  const load: number[] = [loadavg()[0] ?? 0];
  const pipelineRun = (run: number) =>
    runChild(bundle, {
      mode: 'pipeline',
      s3Endpoint,
      bucket: BUCKET,
      key: `pipeline/${set.name}-${run}.dump`,
      connection,
      sizeBytes,
      compression: COMPRESSION,
    });
  // Interleaved, every other run pipeline first, so that drift in the machine's load hits both alike.
  for (let run = 0; run < set.runs; run++) {
    if (run % 2 === 1) pipelines.push(await pipelineRun(run));
    raws.push(await rawDump(cluster, set.database, compress));
    if (run % 2 === 0) pipelines.push(await pipelineRun(run));
    log(
      `${set.name}: raw pg_dump ${round(raws.at(-1)?.wallMs ?? 0, 0)} ms, pipeline ${round(pipelines.at(-1)?.wallMs ?? 0, 0)} ms`,
    );
    load.push(loadavg()[0] ?? 0);
  }
  const backup = await runChild(bundle, {
    mode: 'backup',
    s3Endpoint,
    bucket: BUCKET,
    key: '',
    connection,
    sizeBytes,
    compression: COMPRESSION,
  });
  log(`${set.name}: backup ${round(backup.wallMs, 0)} ms (${backup.status})`);
  if (backup.status !== 'completed') throw new Error(`the backup of ${set.name} failed: ${backup.detail}`);
  const raw = raws.reduce((best, r) => (r.wallMs < best.wallMs ? r : best));
  const pipeline = pipelines.reduce((best, r) => (r.wallMs < best.wallMs ? r : best));
  const dumpBytes = pipeline.bytes;
  const rate = (ms: number) => ({
    databaseMBps: round(sizeBytes / MB / (ms / 1000)),
    dumpMBps: round(dumpBytes / MB / (ms / 1000)),
  });
  return {
    dataset: set.name,
    description: set.description,
    databaseMB: round(sizeBytes / MB, 0),
    dumpMB: round(dumpBytes / MB, 1),
    uncompressedDumpMB: round(uncompressed.bytes / MB, 0),
    compressionRatio: round(uncompressed.bytes / dumpBytes, 1),
    runs: set.runs,
    raw: {
      wallMs: round(raw.wallMs, 0),
      allWallMs: raws.map((r) => round(r.wallMs, 0)),
      ...rate(raw.wallMs),
      pgDumpPeakRssMiB: round(raw.pgDumpPeakRssMiB),
      pgDumpCpuMs: round(raw.pgDumpCpuMs, 0),
    },
    pipeline: {
      wallMs: round(pipeline.wallMs, 0),
      allWallMs: pipelines.map((r) => round(r.wallMs, 0)),
      ...rate(pipeline.wallMs),
      ratioToRaw: round(raw.wallMs / pipeline.wallMs, 3),
      meetsTarget: raw.wallMs / pipeline.wallMs >= PIPELINE_TARGET_RATIO,
      medianRatioToRaw: round(median(raws.map((r) => r.wallMs)) / median(pipelines.map((r) => r.wallMs)), 3),
      /** Without s3rver's CompleteMultipartUpload (it concatenates the parts on disk; S3 does not make you wait for that). */
      ratioToRawWithoutComplete: round(raw.wallMs / (pipeline.wallMs - pipeline.completeMs), 3),
      parts: pipeline.parts,
      partSizeMiB: pipeline.partSizeBytes / MIB,
      completeMs: round(pipeline.completeMs, 0),
      cpuMs: round(pipeline.cpuMs, 0),
      startRssMiB: round(pipeline.startRssMiB),
      peakRssMiB: round(Math.max(...pipelines.map((r) => r.peakRssMiB))),
      pgDumpPeakRssMiB: round(pipeline.pgDumpPeakRssMiB),
      pgDumpCpuMs: round(pipeline.pgDumpCpuMs, 0),
    },
    backup: {
      wallMs: round(backup.wallMs, 0),
      dumpUploadMs: round(backup.dumpUploadMs, 0),
      verifyMs: round(backup.wallMs - backup.dumpUploadMs, 0),
      ...rate(backup.wallMs),
      dumpUploadRatioToRaw: round(raw.wallMs / backup.dumpUploadMs, 3),
      ratioToRaw: round(raw.wallMs / backup.wallMs, 3),
      verification: backup.detail,
      cpuMs: round(backup.cpuMs, 0),
      startRssMiB: round(backup.startRssMiB),
      peakRssMiB: round(backup.peakRssMiB),
      meetsRssTarget: backup.peakRssMiB <= PEAK_RSS_TARGET_MIB,
      pgDumpPeakRssMiB: round(backup.pgDumpPeakRssMiB),
      pgDumpCpuMs: round(backup.pgDumpCpuMs, 0),
      completeMs: round(backup.completeMs, 0),
    },
    /** The 1-minute load average before and after each raw/pipeline pair (other work on the machine). */
    loadAverage: load.map((l) => round(l, 2)),
  };
}

export type BackupFigures = Awaited<ReturnType<typeof benchBackups>>;

export async function benchBackups() {
  const work = mkdtempSync(join(tmpdir(), 'responder-bench-backups-'));
  const teardown: Array<() => unknown> = [];
  try {
    const bundle = join(work, 'backup-child.mjs');
    await build({
      ...esbuildOptions(join(ROOT, 'bench', 'backup-child.ts'), await loadConfigFile()),
      outfile: bundle,
    });
    const s3Server = new S3rver({
      address: '127.0.0.1',
      port: 0,
      directory: join(work, 's3'),
      silent: true,
      configureBuckets: [{ name: BUCKET }],
    });
    const s3Address = await s3Server.run();
    teardown.push(() => s3Server.close());
    const s3Endpoint = `http://127.0.0.1:${s3Address.port}`;

    letPostgresPassThrough(work);
    const root = join(work, 'pg');
    const started = startPostgresCluster({ root, port: await freePort(), password: PASSWORD });
    teardown.push(() => started.stop());
    const cluster: Cluster = {
      host: started.host,
      port: started.port,
      user: started.user,
      password: started.password,
      query: (database, text) => query(started, database, text),
      env: (database) => ({
        PATH: process.env.PATH,
        PGHOST: started.host,
        PGPORT: String(started.port),
        PGUSER: started.user,
        PGPASSWORD: started.password,
        PGDATABASE: database,
      }),
    };
    // Generation only: wal_level minimal lets a table loaded in the transaction that created it skip
    // the WAL. The dumps read ordinary, logged tables.
    for (const setting of [
      "wal_level = 'minimal'",
      'max_wal_senders = 0',
      "max_wal_size = '16GB'",
      "checkpoint_timeout = '30min'",
      "synchronous_commit = 'off'",
      "maintenance_work_mem = '256MB'",
    ])
      await cluster.query('postgres', `ALTER SYSTEM SET ${setting}`);
    started.stop();
    started.start();

    let at = performance.now();
    const since = () => `${round((performance.now() - at) / 1000, 0)} s`;
    await cluster.query('postgres', 'CREATE DATABASE bench_pgbench');
    execFileSync(
      join(pgTool('pg_dump'), '..', 'pgbench'),
      ['-i', '-q', '-s', String(PGBENCH_SCALE), '--init-steps=dtGvp'],
      { env: cluster.env('bench_pgbench'), stdio: 'pipe' },
    );
    const generation: Record<string, unknown> = {};
    generation.pgbench = { scale: PGBENCH_SCALE, seconds: Number.parseFloat(since()) };
    log(`generated bench_pgbench (pgbench -i -s ${PGBENCH_SCALE}) in ${since()}`);
    at = performance.now();
    await cluster.query('postgres', 'CREATE DATABASE bench_realistic');
    const tables = await fillRealistic(cluster, 'bench_realistic', REALISTIC_GB * 1e9);
    generation.realistic = { tables, seconds: Number.parseFloat(since()) };
    log(`generated bench_realistic (${tables} tables of ${CHUNK_ROWS} rows) in ${since()}`);
    at = performance.now();
    await cluster.query(
      'postgres',
      'CREATE DATABASE bench_realistic_large TEMPLATE bench_realistic STRATEGY FILE_COPY',
    );
    const more = await fillRealistic(cluster, 'bench_realistic_large', LARGE_FACTOR * REALISTIC_GB * 1e9);
    generation.realisticLarge = { tables: tables + more, seconds: Number.parseFloat(since()) };
    log(`generated bench_realistic_large (a copy and ${more} more tables) in ${since()}`);

    const datasets: Dataset[] = [
      {
        name: 'pgbench',
        description: `pgbench -i -s ${PGBENCH_SCALE}`,
        database: 'bench_pgbench',
        runs: RUNS,
      },
      {
        name: 'realistic',
        description: 'random text and JSON (events tables)',
        database: 'bench_realistic',
        runs: RUNS,
      },
      {
        name: `realistic-${LARGE_FACTOR}x`,
        description: `the realistic database at ${LARGE_FACTOR}x the size`,
        database: 'bench_realistic_large',
        runs: 1,
      },
    ];
    const results = [];
    for (const set of datasets) results.push(await measure(cluster, bundle, s3Endpoint, set));
    const peaks = results.map((r) => r.backup.peakRssMiB);
    return {
      format: 'custom',
      compression: COMPRESSION,
      pipelineTargetRatio: PIPELINE_TARGET_RATIO,
      peakRssTargetMiB: PEAK_RSS_TARGET_MIB,
      generation,
      datasets: results,
      memory: {
        backupPeakRssMiB: Object.fromEntries(results.map((r) => [r.dataset, r.backup.peakRssMiB])),
        flat: Math.max(...peaks) - Math.min(...peaks) <= 10,
        meetsTarget: Math.max(...peaks) <= PEAK_RSS_TARGET_MIB,
      },
    };
  } finally {
    for (const step of teardown.reverse()) await Promise.resolve(step()).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}
