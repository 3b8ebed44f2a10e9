/**
 * `npm run bench`: the local runtime's webhook latency (p50/p99) and throughput under concurrent
 * posts, probe fan-out, an escalation sweep, each Lambda bundle's size and cold import time (and its
 * ratio to a one-SDK-client baseline built and measured in the same run), and the AWS calls of the hot
 * paths on the real bundles (bench/aws-calls.ts), and backups of generated gigabyte databases against
 * raw pg_dump (bench/backups.ts). Figures go to stdout and to bench/results/latest.json. Nothing here
 * is a pass/fail test: it measures.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { probeAll } from '../functions/probe/probe-targets.ts';
import { esbuildOptions, FUNCTION_NAMES } from '../lib/bundling.ts';
import { loadConfigFile } from '../src/config/load.ts';
import { probeTargetSchema } from '../src/config/probe-targets.ts';
import { parseConfig } from '../src/config/schema.ts';
import { recordIncident } from '../src/incidents/record-incident.ts';
import { startLocalRuntime } from '../src/local/runtime.ts';
import { type Clock, silentLog, systemClock } from '../src/ports.ts';
import { benchAwsCalls } from './aws-calls.ts';
import { benchBackups, PEAK_RSS_TARGET_MIB, PIPELINE_TARGET_RATIO } from './backups.ts';
import { benchFailover } from './failover.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const ROOT = join(import.meta.dirname, '..');
const TOKEN = 'bench-token-0123456789abcdef';
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 500);
const CONCURRENT_TOTAL = Number(process.env.BENCH_CONCURRENT_TOTAL ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const IMPORT_RUNS = Number(process.env.BENCH_IMPORT_RUNS ?? 5);

/**
 * `BENCH_ONLY=aws-calls,sweep` runs only these sections: probes, webhook, hostile, sweep, imports,
 * aws-calls, failover, backups.
 */
const ONLY = new Set(
  (process.env.BENCH_ONLY ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean),
);
const runs = (section: string) => ONLY.size === 0 || ONLY.has(section);

const sample = JSON.parse(readFileSync(join(ROOT, 'events', 'firing.json'), 'utf8'));

/** A new delivery every time (distinct group and fingerprint), so each post takes the full path. */
function uniqueDelivery(n: number): string {
  const body = structuredClone(sample);
  body.groupKey = `{}:{alertname="BenchAlert${n}"}`;
  body.commonLabels.alertname = `BenchAlert${n}`;
  body.alerts[0].labels.alertname = `BenchAlert${n}`;
  body.alerts[0].fingerprint = `bench${n.toString(16).padStart(12, '0')}`;
  return JSON.stringify(body);
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
const median = (values: number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
const round = (value: number, digits = 1) => Number(value.toFixed(digits));

/** The local runtime on the example config, without probes, demo environment or timers; `stop` removes its data. */
async function startBenchRuntime(clock?: Clock, maxBodyBytes?: number) {
  const dataDir = mkdtempSync(join(tmpdir(), 'responder-bench-'));
  const base = await loadConfigFile();
  const config = parseConfig({
    ...base,
    probes: undefined,
    local: { demoEnvironment: false },
    // Thousands of distinct groups on purpose: measure the path, not the flood limit.
    floodLimits: { newIncidents: 1_000_000, pages: 1_000_000 },
    webhook: { ...base.webhook, ...(maxBodyBytes ? { maxBodyBytes } : {}) },
  });
  const runtime = await startLocalRuntime({
    config,
    log: silentLog,
    port: 0,
    token: TOKEN,
    timers: false,
    dataDir,
    clock,
  });
  return {
    runtime,
    async stop() {
      await runtime.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function benchWebhook() {
  const { runtime, stop } = await startBenchRuntime();
  const post = async (body: string) => {
    const started = performance.now();
    const response = await fetch(runtime.webhookUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body,
    });
    await response.arrayBuffer();
    if (response.status !== 202 && response.status !== 200) throw new Error(`unexpected ${response.status}`);
    return performance.now() - started;
  };
  try {
    let n = 0;
    for (let i = 0; i < 50; i++) await post(uniqueDelivery(n++)); // warm-up
    const sequential: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) sequential.push(await post(uniqueDelivery(n++)));
    await runtime.dispatcher.idle();

    const concurrent: number[] = [];
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < CONCURRENT_TOTAL) {
          next += 1;
          concurrent.push(await post(uniqueDelivery(n++)));
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    await runtime.dispatcher.idle();

    const duplicates: number[] = [];
    const duplicate = uniqueDelivery(0);
    for (let i = 0; i < 200; i++) duplicates.push(await post(duplicate));

    const s = [...sequential].sort((a, b) => a - b);
    const c = [...concurrent].sort((a, b) => a - b);
    const d = [...duplicates].sort((a, b) => a - b);
    return {
      sequential: { requests: SEQUENTIAL, p50Ms: round(percentile(s, 50)), p99Ms: round(percentile(s, 99)) },
      concurrent: {
        requests: CONCURRENT_TOTAL,
        concurrency: CONCURRENCY,
        throughputPerSecond: round(CONCURRENT_TOTAL / elapsed, 0),
        p50Ms: round(percentile(c, 50)),
        p99Ms: round(percentile(c, 99)),
      },
      duplicates: { requests: 200, p50Ms: round(percentile(d, 50)), p99Ms: round(percentile(d, 99)) },
    };
  } finally {
    await stop();
  }
}

/** Issue 9's target: every bundle's cold import at most this many times the one-client baseline's. */
const COLD_IMPORT_TARGET_RATIO = 1.5;
const BASELINE = 'baseline';

/** Each function's bundle and the one-SDK-client baseline (bench/baseline-handler.ts), same esbuild options. */
async function buildBundles(out: string) {
  const config = await loadConfigFile();
  const entries: Array<[string, string]> = [
    ...FUNCTION_NAMES.map((name) => [name, join(ROOT, 'functions', name, 'handler.ts')] as [string, string]),
    [BASELINE, join(ROOT, 'bench', 'baseline-handler.ts')],
  ];
  const files = new Map<string, string>();
  for (const [name, entry] of entries) {
    const dir = join(out, name);
    mkdirSync(dir);
    const file = join(dir, 'index.mjs');
    await build({ ...esbuildOptions(entry, config), outfile: file });
    files.set(name, file);
  }
  return { config, files };
}

/** The import of one bundle in a fresh node process, in ms. */
function coldImport(file: string, env: Record<string, string | undefined>): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(`file://${file}`)}); console.log(performance.now() - t);`;
  const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    encoding: 'utf8',
  });
  return Number(output.trim());
}

/**
 * Cold imports in fresh node processes, the bundles interleaved run by run so drift hits them alike.
 * The target is measured with tracing off; each function is also imported as a deployed one starts,
 * with Powertools' tracing on (the stacks turn X-Ray on, and the Tracer then loads at init).
 */
async function benchBundles({ config, files }: Awaited<ReturnType<typeof buildBundles>>) {
  const times = new Map<string, number[]>([...files.keys()].map((name) => [name, []]));
  const tracedTimes = new Map<string, number[]>([...files.keys()].map((name) => [name, []]));
  for (let i = 0; i < IMPORT_RUNS; i++) {
    for (const [name, file] of files) {
      const env = {
        AWS_REGION: config.aws.region,
        AWS_LAMBDA_FUNCTION_NAME: `responder-${name}`,
        STATE_TABLE_NAME: 'responder-state',
        EVENT_BUS_NAME: 'responder-bus',
        WEBHOOK_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:responder-webhook-AbCdEf',
      };
      times.get(name)?.push(coldImport(file, { ...env, POWERTOOLS_TRACE_ENABLED: 'false' }));
      if (name !== BASELINE) {
        tracedTimes.get(name)?.push(coldImport(file, { ...env, AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x' }));
      }
    }
  }
  const figures = [...files].map(([name, file]) => ({
    function: name,
    bundleKiB: round(statSync(file).size / 1024, 0),
    gzipKiB: round(gzipSync(readFileSync(file)).length / 1024, 0),
    coldImportMs: round(median(times.get(name) ?? [])),
  }));
  const baseline = figures.find((figure) => figure.function === BASELINE);
  const baselineMs = baseline?.coldImportMs ?? Number.NaN;
  return {
    baseline: { ...baseline, handler: 'bench/baseline-handler.ts (one DynamoDBClient)' },
    targetRatio: COLD_IMPORT_TARGET_RATIO,
    functions: figures
      .filter((figure) => figure.function !== BASELINE)
      .map((figure) => ({
        ...figure,
        ratioToBaseline: round(figure.coldImportMs / baselineMs, 2),
        meetsTarget: figure.coldImportMs / baselineMs <= COLD_IMPORT_TARGET_RATIO,
        tracingOnColdImportMs: round(median(tracedTimes.get(figure.function) ?? [])),
      })),
  };
}

const PROBE_TARGETS = Number(process.env.BENCH_PROBE_TARGETS ?? 200);
const PROBE_TIMEOUT_MS = Number(process.env.BENCH_PROBE_TIMEOUT_MS ?? 2000);
/** The bound a config gets when it sets none. */
const DEFAULT_PROBE_CONCURRENCY = parseConfig({
  service: 'bench',
  aws: { region: 'eu-west-1', drRegion: 'eu-central-1' },
}).probes.concurrency;

/** 200 HTTP targets of which half hang until their timeout: the ideal wall time is one timeout. */
async function benchProbes() {
  const hung = createServer(() => undefined);
  const fine = createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'),
  );
  const listenOn = (server: ReturnType<typeof createServer>) =>
    new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
    );
  const [hungPort, finePort] = [await listenOn(hung), await listenOn(fine)];
  const targets = Array.from({ length: PROBE_TARGETS }, (_, i) =>
    probeTargetSchema.parse({
      name: `target-${i}`,
      kind: 'http',
      url: `http://127.0.0.1:${i % 2 ? hungPort : finePort}/health`,
      body: { json: 'status', equals: 'ok' },
      timeoutMs: PROBE_TIMEOUT_MS,
    }),
  );
  const secrets = { getSecretString: async () => '' };
  global.gc?.();
  const before = process.memoryUsage();
  let peakRss = before.rss;
  let peakHeap = before.heapUsed;
  const sampler = setInterval(() => {
    const now = process.memoryUsage();
    peakRss = Math.max(peakRss, now.rss);
    peakHeap = Math.max(peakHeap, now.heapUsed);
  }, 5);
  const started = performance.now();
  const results = await probeAll(targets, {
    secrets,
    clock: systemClock,
    concurrency: DEFAULT_PROBE_CONCURRENCY,
  });
  const wallMs = performance.now() - started;
  clearInterval(sampler);
  hung.closeAllConnections();
  hung.close();
  fine.close();
  const mib = (bytes: number) => round(bytes / 2 ** 20, 1);
  return {
    targets: PROBE_TARGETS,
    hanging: results.filter((r) => !r.ok).length,
    timeoutMs: PROBE_TIMEOUT_MS,
    wallMs: round(wallMs, 0),
    overIdealMs: round(wallMs - PROBE_TIMEOUT_MS, 0),
    peakRssMiB: mib(peakRss),
    rssGrowthMiB: mib(peakRss - before.rss),
    peakHeapGrowthMiB: mib(peakHeap - before.heapUsed),
  };
}

const SWEEP_ESCALATIONS = Number(process.env.BENCH_SWEEP_ESCALATIONS ?? 200);

/** One sweep that finds 200 P1 escalations due for their team-lead tier, then an idle sweep. */
async function benchSweep() {
  let now = Date.parse('2026-11-23T03:00:00.000Z');
  const clock = { now: () => new Date(now) };
  const { runtime, stop } = await startBenchRuntime(clock);
  try {
    for (let i = 0; i < SWEEP_ESCALATIONS; i++) {
      const incident = await recordIncident(
        {
          groupKey: `bench-sweep-${i}`,
          status: 'firing',
          severity: 'P1',
          title: `BenchDown ${i}`,
          labels: { alertname: 'BenchDown', service: 'bench' },
          annotations: {},
          alerts: [],
          receiver: 'bench',
          externalURL: '',
          truncatedAlerts: 0,
          resolvedBecause: '',
          auditData: {},
        },
        { incidents: runtime.store, audit: runtime.store, clock, auditRetentionDays: 30, actor: 'bench' },
      );
      if (incident) await runtime.escalator.reconcile(incident.id);
    }
    now += 15 * 60_000;
    const started = performance.now();
    const swept = await runtime.escalator.sweep();
    const wallMs = performance.now() - started;
    const idleStarted = performance.now();
    await runtime.escalator.sweep();
    const idleMs = performance.now() - idleStarted;
    if (swept.sent.length !== SWEEP_ESCALATIONS) throw new Error(`swept ${swept.sent.length} pages`);
    return {
      escalations: SWEEP_ESCALATIONS,
      pages: swept.sent.length,
      wallMs: round(wallMs, 0),
      pagesPerSecond: round((swept.sent.length / wallMs) * 1000, 0),
      idleSweepMs: round(idleMs, 1),
    };
  } finally {
    await stop();
  }
}

/**
 * Hostile deliveries (a megabyte of whitespace in every free-text field, prototype-named severities,
 * a 600 KB groupKey, thousands of labels) posted while /healthz is polled every 5 ms: the target is
 * that none of them holds /healthz up for more than 100 ms, and none answers 5xx.
 */
async function benchHostile() {
  const { runtime, stop } = await startBenchRuntime(undefined, 10 * 1024 * 1024);
  const blank = (word: string) => `${' '.repeat(1024 * 1024)}${word}`;
  const hostile = (n: number): unknown => {
    const body = structuredClone(sample);
    body.groupKey = `{}:{alertname="Hostile${n}"}`;
    body.alerts[0].fingerprint = `hostile${n}`;
    switch (n % 4) {
      case 0:
        body.commonLabels = { alertname: blank('A'), service: blank('s'), severity: 'critical' };
        body.commonAnnotations = { summary: blank(':x'), description: blank('d') };
        body.alerts[0].annotations = { description: blank('d') };
        body.externalURL = blank('http://x');
        body.receiver = blank('r');
        break;
      case 1:
        for (const name of ['constructor', '__proto__', 'toString'])
          body.alerts.push({ ...body.alerts[0], fingerprint: `${n}${name}`, labels: { severity: name } });
        break;
      case 2:
        body.groupKey = `{}:{alertname="${'k'.repeat(600_000)}${n}"}`;
        break;
      default:
        body.alerts[0].labels = Object.fromEntries(
          Array.from({ length: 20_000 }, (_, i) => [`l${i}`, `v${i}`]),
        );
    }
    return body;
  };
  const latencies: number[] = [];
  const statuses: number[] = [];
  let polling = true;
  const poll = (async () => {
    while (polling) {
      const started = performance.now();
      await (await fetch(`${runtime.url}/healthz`)).arrayBuffer();
      latencies.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  try {
    for (let n = 0; n < 12; n++) {
      const response = await fetch(runtime.webhookUrl, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(hostile(n)),
      });
      await response.arrayBuffer();
      statuses.push(response.status);
    }
    await runtime.dispatcher.idle();
  } finally {
    polling = false;
    await poll;
    await stop();
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    deliveries: statuses.length,
    serverErrors: statuses.filter((status) => status >= 500).length,
    statuses: [...new Set(statuses)].sort(),
    healthzPolls: latencies.length,
    healthzP99Ms: round(percentile(sorted, 99)),
    healthzMaxMs: round(sorted[sorted.length - 1] ?? Number.NaN),
  };
}

const machine = {
  node: process.version,
  cpus: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
  memoryGiB: round(totalmem() / 2 ** 30, 0),
};

/** Builds the bundles into a temporary directory for `measure`, and removes them afterwards. */
async function withBundles<T>(measure: (built: Awaited<ReturnType<typeof buildBundles>>) => Promise<T>) {
  const bundleDir = mkdtempSync(join(tmpdir(), 'responder-bundles-'));
  try {
    return await measure(await buildBundles(bundleDir));
  } finally {
    rmSync(bundleDir, { recursive: true, force: true });
  }
}

function printBundles(bundles: Awaited<ReturnType<typeof benchBundles>>) {
  console.log(
    '\nLambda bundles (esbuild, same options as the CDK stacks; cold import = median of fresh node processes)',
  );
  console.log(
    `  baseline: ${bundles.baseline.handler}, ${bundles.baseline.bundleKiB} KiB, cold import ${bundles.baseline.coldImportMs} ms`,
  );
  console.log(
    `  function   bundle KiB  gzip KiB  cold import ms  x baseline  (target: at most ${COLD_IMPORT_TARGET_RATIO}x)  tracing on ms`,
  );
  for (const b of bundles.functions) {
    console.log(
      `  ${b.function.padEnd(10)} ${String(b.bundleKiB).padStart(10)} ${String(b.gzipKiB).padStart(9)} ${String(b.coldImportMs).padStart(15)} ${`${b.ratioToBaseline.toFixed(2)}x`.padStart(11)}  ${(b.meetsTarget ? 'meets' : 'over').padEnd(27)} ${String(b.tracingOnColdImportMs).padStart(13)}`,
    );
  }
}

function writeResults(file: string, results: Record<string, unknown>) {
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(
    join(ROOT, 'bench', 'results', file),
    `${JSON.stringify({ at: new Date().toISOString(), machine, ...results }, null, 2)}\n`,
  );
  console.log(`\nWritten to bench/results/${file}`);
}

console.log(`Responder benchmarks on Node ${machine.node}, ${machine.cpus}`);
// Probes first, so the memory figures are not inflated by the webhook run's leftovers.
const probes = runs('probes') ? await benchProbes() : undefined;
const webhook = runs('webhook') ? await benchWebhook() : undefined;
if (webhook) {
  console.log(
    '\nLocal runtime webhook (POST /alertmanager over loopback HTTP, dynalite state, in-process dispatch)',
  );
  console.log(
    `  sequential, new deliveries : p50 ${webhook.sequential.p50Ms} ms, p99 ${webhook.sequential.p99Ms} ms (${webhook.sequential.requests} requests)`,
  );
  console.log(
    `  ${webhook.concurrent.concurrency} concurrent, new     : ${webhook.concurrent.throughputPerSecond} req/s, p50 ${webhook.concurrent.p50Ms} ms, p99 ${webhook.concurrent.p99Ms} ms (${webhook.concurrent.requests} requests)`,
  );
  console.log(
    `  duplicates (answered 200)  : p50 ${webhook.duplicates.p50Ms} ms, p99 ${webhook.duplicates.p99Ms} ms`,
  );
}
if (probes) {
  console.log(
    `\nProbe fan-out (${probes.targets} HTTP targets, ${probes.hanging} hang until their ${probes.timeoutMs} ms timeout)`,
  );
  console.log(
    `  wall time ${probes.wallMs} ms (ideal: one timeout, ${probes.timeoutMs} ms; ${probes.overIdealMs} ms over), peak RSS ${probes.peakRssMiB} MiB (+${probes.rssGrowthMiB} MiB), heap +${probes.peakHeapGrowthMiB} MiB`,
  );
}
const hostile = runs('hostile') ? await benchHostile() : undefined;
if (hostile) {
  console.log(
    `\nHostile deliveries (${hostile.deliveries}: 1 MiB of whitespace per free-text field, prototype-named severities, 600 KB groupKey, 20,000 labels)`,
  );
  console.log(
    `  answers ${hostile.statuses.join(', ')} (${hostile.serverErrors} 5xx); /healthz while they ran: p99 ${hostile.healthzP99Ms} ms, max ${hostile.healthzMaxMs} ms (target: under 100 ms)`,
  );
}
const sweep = runs('sweep') ? await benchSweep() : undefined;
if (sweep) {
  console.log(
    `\nEscalation sweep (local runtime: dynalite state, outbox pager; ${sweep.escalations} P1 escalations due)`,
  );
  console.log(
    `  one sweep pages ${sweep.pages} team leads in ${sweep.wallMs} ms (${sweep.pagesPerSecond} pages/s); a sweep with nothing due: ${sweep.idleSweepMs} ms`,
  );
}
let bundles: Awaited<ReturnType<typeof benchBundles>> | undefined;
let awsCalls: Awaited<ReturnType<typeof benchAwsCalls>> | undefined;
if (runs('imports') || runs('aws-calls')) {
  await withBundles(async (built) => {
    if (runs('imports')) bundles = await benchBundles(built);
    if (runs('aws-calls')) {
      awsCalls = await benchAwsCalls({
        ingest: built.files.get('ingest') ?? '',
        escalate: built.files.get('escalate') ?? '',
      });
    }
  });
}
if (bundles) printBundles(bundles);
if (awsCalls) {
  console.log(
    '\nAWS calls per scenario (the ingest and escalate bundles against loopback AWS endpoints; warm container unless noted)',
  );
  console.log(
    '  scenario                        DynamoDB  EventBridge  SNS  Secrets Manager  total  critical path  target',
  );
  for (const s of awsCalls.scenarios) {
    console.log(
      `  ${`(${s.scenario}) ${s.description}`.padEnd(31)} ${String(s.byService.DynamoDB).padStart(8)} ${String(s.byService.EventBridge).padStart(12)} ${String(s.byService.SNS).padStart(4)} ${String(s.byService['Secrets Manager']).padStart(16)} ${String(s.total).padStart(6)} ${String(s.criticalPath).padStart(14)}  ${s.targetCriticalPath === undefined ? '' : `at most ${s.targetCriticalPath} (${s.criticalPath <= s.targetCriticalPath ? 'meets' : 'over'})`}`,
    );
  }
}
const failover = runs('failover') ? await benchFailover() : undefined;
if (failover) {
  console.log(
    '\nFailover (the gated path to the DR site; AWS calls counted at the ports, local DNS listener)',
  );
  for (const f of failover) {
    console.log(
      `  ${String(f.mode).padEnd(8)} AWS calls ${JSON.stringify(f.awsCalls)}; decision → DNS answers DR ${f.decisionToDnsMs ?? '-'} ms; → DR passes its probes ${f.decisionToDrPassesMs} ms; whole action ${f.totalMs} ms`,
    );
  }
}
// Last: it generates gigabytes of databases and keeps both cores busy for minutes.
const backups = runs('backups') ? await benchBackups() : undefined;
if (backups) {
  console.log(
    `\nBackups (pg_dump -Fc --compress ${backups.compression}, s3rver in the bench process, the backup in a child process bundled like the Lambda)`,
  );
  console.log(
    `  dataset        database  dump MB  ratio  raw pg_dump         pipeline            x raw (target ${PIPELINE_TARGET_RATIO})  backup: dump+upload / total    x raw       peak RSS (target ${PEAK_RSS_TARGET_MIB} MiB)`,
  );
  for (const d of backups.datasets) {
    const speed = (ms: number, mbps: number) => `${(ms / 1000).toFixed(1)} s ${mbps} MB/s`.padEnd(19);
    console.log(
      `  ${d.dataset.padEnd(14)} ${`${d.databaseMB} MB`.padStart(8)} ${String(d.dumpMB).padStart(8)} ${`${d.compressionRatio}:1`.padStart(6)}  ${speed(d.raw.wallMs, d.raw.databaseMBps)} ${speed(d.pipeline.wallMs, d.pipeline.databaseMBps)} ${`${d.pipeline.ratioToRaw.toFixed(3)}`.padStart(6)} ${d.pipeline.meetsTarget ? 'meets' : 'under'}     ${`${(d.backup.dumpUploadMs / 1000).toFixed(1)} s / ${(d.backup.wallMs / 1000).toFixed(1)} s`.padEnd(28)} ${d.backup.dumpUploadRatioToRaw.toFixed(3)} / ${d.backup.ratioToRaw.toFixed(3)}  backup ${d.backup.peakRssMiB} MiB (start ${d.backup.startRssMiB}), pipeline ${d.pipeline.peakRssMiB} MiB, pg_dump ${d.backup.pgDumpPeakRssMiB} MiB`,
    );
  }
  console.log(
    `  backup peak RSS by size: ${Object.entries(backups.memory.backupPeakRssMiB)
      .map(([name, mib]) => `${name} ${mib} MiB`)
      .join(
        ', ',
      )} (${backups.memory.meetsTarget ? 'within' : 'over'} ${PEAK_RSS_TARGET_MIB} MiB${backups.memory.flat ? ', flat' : ''})`,
  );
}
writeResults('latest.json', { webhook, probes, hostile, sweep, bundles, awsCalls, failover, backups });
