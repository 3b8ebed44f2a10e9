import { randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import dynalite from 'dynalite';
import S3rver from 's3rver';
import { type ApiDeps, handleApiRequest, operatorProbeRequest } from '../../functions/api/incidents-api.ts';
import { handleAlertmanagerWebhook } from '../../functions/ingest/ingest-alerts.ts';
import type { ProbeReport } from '../../functions/probe/run-probes.ts';
import type { ActionEnvironment } from '../actions/environment.ts';
import { type ActionResult, type PerformAction, runActionRequest } from '../actions/run-action.ts';
import { dynamoDbActionIdempotency } from '../adapters/dynamodb-action-idempotency.ts';
import { DynamoDbBackupCatalog } from '../adapters/dynamodb-backup-catalog.ts';
import { StateTableDnsZone } from '../adapters/dynamodb-dns-zone.ts';
import { DynamoDbFailoverStore } from '../adapters/dynamodb-failover-store.ts';
import { dynamoDbStateStore } from '../adapters/dynamodb-state-store.ts';
import { parseCredential, secretCredentialSource } from '../adapters/secrets-manager-credentials.ts';
import { ensureStateTable, StateTable } from '../adapters/state-table.ts';
import { StateTableSecretStore } from '../adapters/state-table-secret-store.ts';
import { ownRotations } from '../config/own-secrets.ts';
import { ACTION_KINDS, type ActionKind, ConfigError, type ResponderConfig } from '../config/schema.ts';
import { type ActionRequest, actionRequestSchema } from '../domain/actions.ts';
import { compileRoutes } from '../domain/routing.ts';
import { ackKeysOf } from '../escalation/ack-link.ts';
import { Escalator } from '../escalation/escalator.ts';
import type { HttpRequest, HttpResponse } from '../http/types.ts';
import {
  type ActionDispatcher,
  type ActionIdempotency,
  type BackupCatalog,
  type Clock,
  type DnsZone,
  type FailoverSite,
  type FailoverStore,
  type Log,
  noProbeMetrics,
  type StateStore,
  systemClock,
} from '../ports.ts';
import { localCapabilities } from './capabilities.ts';
import { PRIVATE_FILE_MODE, preparePrivateDataDir } from './data-dir.ts';
import { handleDemoRequest, isDemoPath } from './demo-api.ts';
import {
  type DemoEnvironment,
  type DemoEnvironmentOptions,
  startDemoEnvironment,
} from './demo-environment.ts';
import { type LocalDnsServer, seedLocalZone, startLocalDnsServer } from './dns-server.ts';
import { createLocalHttpServer } from './http-server.ts';
import { type ActionEventHandler, InProcessDispatcher } from './in-process-dispatcher.ts';
import { LocalPager } from './local-pager.ts';
import { nextFireTime, ScheduleEndedError, type ScheduleTimer, startSchedule } from './schedules.ts';
import { Teardown } from './teardown.ts';

export const LOCAL_TABLE_NAME = 'responder-state';
export const LOCAL_BACKUP_BUCKET = 'responder-backups';
export const VERSION = '0.1.0';
/** The local ack-link signing key's secret name, generated on first start when absent. */
export const LOCAL_ACK_SECRET = 'responder/ack-signing-key';
/**
 * The local webhook and API credential's secret name ({"token","username"}): the token the runtime
 * starts with (RESPONDER_WEBHOOK_TOKEN, else the data folder's webhook-token file) is put there, and
 * `responder rotate responder/webhook-credential` rotates it (the file follows).
 */
export const LOCAL_WEBHOOK_SECRET = 'responder/webhook-credential';

/**
 * The credential the runtime starts with becomes the secret's AWSCURRENT (a new version when it
 * differs; the one before is then AWSPREVIOUS, accepted for the grace period).
 */
async function ensureLocalWebhookCredential(
  secrets: StateTableSecretStore,
  secretId: string,
  credential: { token: string; username: string },
) {
  let stored: { token: string; username: string } | undefined;
  try {
    stored = parseCredential(await secrets.getSecretString(secretId), credential.username);
  } catch (error) {
    if (!/ResourceNotFoundException|webhook credential secret/.test((error as Error).message)) throw error;
  }
  if (stored?.token !== credential.token || stored.username !== credential.username) {
    await secrets.putSecretString(secretId, JSON.stringify(credential));
  }
}

async function ensureLocalAckKey(secrets: StateTableSecretStore, secretId: string) {
  try {
    await secrets.getSecretString(secretId);
  } catch (error) {
    if (!/ResourceNotFoundException/.test((error as Error).message)) throw error;
    await secrets.putSecretString(secretId, JSON.stringify({ key: randomBytes(32).toString('base64url') }));
  }
}

export interface LocalRuntimeOptions {
  readonly config: ResponderConfig;
  /** Where dynalite and s3rver keep their data. @default `.responder` (RESPONDER_DATA_DIR) */
  readonly dataDir?: string;
  /** @default 9095 (PORT); 0 picks a free port */
  readonly port?: number;
  /** @default RESPONDER_WEBHOOK_TOKEN, else one generated and kept in the data folder */
  readonly token?: string;
  readonly log: Log;
  readonly clock?: Clock;
  /** Wraps the dispatcher that ingest and the actions use, e.g. to inject bus faults in tests. */
  readonly wrapDispatcher?: (dispatcher: ActionDispatcher) => ActionDispatcher;
  /** Wraps the state store, e.g. to inject faults in tests. */
  readonly wrapStore?: (store: StateStore) => StateStore;
  /** Run the schedules on timers. @default true */
  readonly timers?: boolean;
  readonly retryDelaysMs?: readonly number[];
  /** Header and whole-request time limits of the HTTP server. @default 10 s and 30 s */
  readonly httpTimeouts?: { readonly headersMs: number; readonly requestMs: number };
  /** How long stop() lets requests in flight finish before it closes their connections. @default 10 s */
  readonly drainMs?: number;
  /** The DNS listener's port (with `failover`). @default config.local.dnsPort; 0 picks a free port */
  readonly dnsPort?: number;
  /** The demo environment's ports and parts (tests use free ports and no PostgreSQL). */
  readonly demo?: DemoEnvironmentOptions;
  /**
   * How a drill's `--and-back` rebuilds a site's database as a standby of the other's.
   * @default - the demo environment's PostgreSQL pair, when it runs
   */
  readonly rebuildStandby?: (site: FailoverSite) => Promise<string>;
  /**
   * Scales the failover's own waits (between failback probes, between verification polls), 0 < x ≤ 1:
   * a scaled clock for tests and demos. @default 1 (RESPONDER_TIME_SCALE)
   */
  readonly timeScale?: number;
}

export interface LocalRuntime {
  readonly url: string;
  readonly webhookUrl: string;
  /** The webhook and API token now (AWSCURRENT of `responder/webhook-credential`; a rotation changes it). */
  readonly token: string;
  readonly username: string;
  readonly dataDir: string;
  readonly store: StateStore;
  /** Where action requests' idempotency records are kept (for tests that run actions directly). */
  readonly idempotency: ActionIdempotency;
  readonly secrets: StateTableSecretStore;
  readonly dispatcher: InProcessDispatcher;
  readonly escalator: Escalator;
  /** Runs the escalation sweeper now, as its schedule does. */
  sweepEscalations(): Promise<ActionResult>;
  /** Probes now (all targets or the named ones), as `POST /api/probes` does. */
  probeNow(targets?: string[]): Promise<ProbeReport | undefined>;
  readonly endpoints: { readonly dynamodb: string; readonly s3: string };
  /** The embedded S3 (backups) and its bucket, and the backup catalog. */
  readonly s3: S3Client;
  readonly backupBucket: string;
  readonly backupCatalog: BackupCatalog;
  /** The failover switch, lock and approvals (the DR region's state table in AWS). */
  readonly failoverStore: FailoverStore;
  /** The local DNS zone, in the state table: what the DNS listener answers in `records` mode. */
  readonly dnsZone: DnsZone;
  /** The DNS listener (with `failover`): `dig @127.0.0.1 -p <dnsPort> <record>`. */
  readonly dns?: Pick<LocalDnsServer, 'host' | 'port' | 'address'>;
  readonly dnsPort?: number;
  /** The demo environment (with `local.demoEnvironment`): its sites' health can be flipped. */
  readonly demo?: DemoEnvironment;
  /** Runs one action request now, in-process, as its function would. */
  runAction(kind: ActionKind, request: ActionRequest): Promise<ActionResult>;
  stop(): Promise<void>;
}

async function loadOrCreateToken(dataDir: string, explicit?: string): Promise<string> {
  if (explicit) return explicit;
  const file = join(dataDir, 'webhook-token');
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const token = randomBytes(24).toString('base64url');
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return token;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolvePort, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolvePort((server.address() as AddressInfo).port);
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((done) => {
    server.close(() => done());
    server.closeAllConnections?.();
  });
}

/**
 * Runs the whole responder on this machine: embedded dynalite and s3rver, the HTTP API on 127.0.0.1,
 * in-process dispatch and schedule timers, all through the same logic and adapters as the Lambdas.
 */
export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const { config, log } = options;
  const clock = options.clock ?? systemClock;
  const schedules = checkedSchedules(config);
  const dataDir = resolve(options.dataDir ?? process.env.RESPONDER_DATA_DIR ?? '.responder');
  await preparePrivateDataDir(dataDir, ['dynamodb', 's3']);
  const teardown = new Teardown();
  teardown.add('the data folder claim', await claimDataDir(dataDir));
  try {
    return await startParts(options, { config, log, clock, schedules, dataDir, teardown });
  } catch (error) {
    // Leave nothing running behind a failed start, or the process would not exit.
    await teardown.run(log);
    throw error;
  }
}

async function startParts(
  options: LocalRuntimeOptions,
  parts: {
    readonly config: ResponderConfig;
    readonly log: Log;
    readonly clock: Clock;
    readonly schedules: Array<[ActionKind, string]>;
    readonly dataDir: string;
    readonly teardown: Teardown;
  },
): Promise<LocalRuntime> {
  const { config, log, clock, schedules, dataDir, teardown } = parts;
  const dynamoServer = dynalite({
    path: join(dataDir, 'dynamodb'),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  const dynamoPort = await listen(dynamoServer, 0);
  teardown.add('dynalite', () => close(dynamoServer));
  const s3Server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    directory: join(dataDir, 's3'),
    silent: true,
    configureBuckets: [{ name: LOCAL_BACKUP_BUCKET }],
  });
  const s3Address = await s3Server.run();
  teardown.add('s3rver', () => s3Server.close());
  const endpoints = {
    dynamodb: `http://127.0.0.1:${dynamoPort}`,
    s3: `http://127.0.0.1:${s3Address.port}`,
  };

  const dynamo = new DynamoDBClient({
    endpoint: endpoints.dynamodb,
    region: config.aws.region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 1000, requestTimeout: 3000 },
  });
  teardown.add('the DynamoDB client', () => dynamo.destroy());
  await ensureStateTable(dynamo, LOCAL_TABLE_NAME);
  // Backups stream to the embedded s3rver with the production adapter code.
  const s3 = new S3Client({
    endpoint: endpoints.s3,
    region: config.aws.region,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 1000, requestTimeout: 60_000 },
  });
  teardown.add('the S3 client', () => s3.destroy());
  // `responder restore` reads backups straight from S3: this is how it finds the embedded one.
  await writeFile(
    join(dataDir, 'endpoints.json'),
    `${JSON.stringify({ s3: endpoints.s3, backupBucket: LOCAL_BACKUP_BUCKET, region: config.aws.region })}\n`,
    { mode: 0o600 },
  );
  const localTable = new StateTable({ client: dynamo, tableName: LOCAL_TABLE_NAME });
  const backupCatalog = new DynamoDbBackupCatalog(localTable);
  // Failover's switch and the local DNS zone; in AWS the switch lives in the DR region.
  const failoverStore = new DynamoDbFailoverStore(localTable);
  const dnsZone = new StateTableDnsZone(localTable);
  const baseStore = dynamoDbStateStore({ client: dynamo, tableName: LOCAL_TABLE_NAME });
  const store = options.wrapStore ? options.wrapStore(baseStore) : baseStore;
  // No Lambda context here: an action in progress holds its id for Lambda's 15-minute limit.
  const idempotency = dynamoDbActionIdempotency({ client: dynamo, tableName: LOCAL_TABLE_NAME });

  const secrets = new StateTableSecretStore(dynamo, LOCAL_TABLE_NAME, clock);
  const explicitToken = options.token || process.env.RESPONDER_WEBHOOK_TOKEN || undefined;
  let token = await loadOrCreateToken(dataDir, explicitToken);
  const username = config.webhook.basicAuthUsername;
  // The credential lives in the local secret store, so a rotation applies: AWSCURRENT, and AWSPREVIOUS
  // for secrets.own.graceMinutes after it, are accepted, as in AWS.
  await ensureLocalWebhookCredential(secrets, LOCAL_WEBHOOK_SECRET, { token, username });
  const credentials = secretCredentialSource(secrets, LOCAL_WEBHOOK_SECRET, username, {
    graceMinutes: config.secrets.own.graceMinutes,
    clock,
  });
  /** After a rotation, the token file (what the CLI and a local Alertmanager read) follows the secret. */
  const followRotatedToken = async () => {
    const now = (await credentials.get()).token;
    if (now === token) return;
    token = now;
    if (!explicitToken)
      await writeFile(join(dataDir, 'webhook-token'), `${now}\n`, { mode: PRIVATE_FILE_MODE });
  };
  // The dispatcher's handlers need the capabilities, which need the dispatcher: bind them late.
  const performers: Partial<Record<ActionKind, PerformAction>> = {};
  const runAction = (kind: ActionKind, request: ActionRequest) => {
    const perform = performers[kind];
    if (!perform) throw new Error(`no ${kind} capability`);
    return runActionRequest(kind, request, perform, env);
  };
  const handlers = Object.fromEntries(
    ACTION_KINDS.map((kind): [ActionKind, ActionEventHandler] => [
      kind,
      async (event) => {
        const request = actionRequestSchema.parse(event.detail);
        const result = await runAction(kind, request);
        log.info(`action ${kind} ${result.status}`, {
          actionId: request.actionId,
          incidentId: request.incidentId,
        });
        return result;
      },
    ]),
  ) as Record<ActionKind, ActionEventHandler>;
  const dispatcher = new InProcessDispatcher({
    handlers,
    log,
    region: config.aws.region,
    deadLetterFile: join(dataDir, 'dead-letters.jsonl'),
    retryDelaysMs: options.retryDelaysMs,
  });
  teardown.add('actions in flight', () => dispatcher.idle());
  const bus = options.wrapDispatcher ? options.wrapDispatcher(dispatcher) : dispatcher;
  const ackSecret = config.escalation.ackSigningSecret ?? LOCAL_ACK_SECRET;
  await ensureLocalAckKey(secrets, ackSecret);
  // Responder's own secrets rotate locally as they do in AWS: `generated` rotations on secrets.own.
  await secrets.enableRotation(LOCAL_WEBHOOK_SECRET);
  await secrets.enableRotation(ackSecret);
  const configured = new Set(config.secrets.rotations.map((rotation) => rotation.secret));
  const withOwn: ResponderConfig = {
    ...config,
    secrets: {
      ...config.secrets,
      rotations: [
        ...config.secrets.rotations,
        ...ownRotations(config, { webhookCredential: LOCAL_WEBHOOK_SECRET, ackSigningKey: ackSecret }).filter(
          (rotation) => !configured.has(rotation.secret),
        ),
      ],
    },
  };
  const publicUrl = { value: config.api.publicUrl ?? '' };
  const escalator = new Escalator({
    config,
    incidents: store,
    escalations: store,
    audit: store,
    floodLimits: store,
    clock,
    log,
    pager: new LocalPager({
      outboxFile: join(dataDir, 'outbox.jsonl'),
      log,
      webhookUrl: config.local.pagerWebhookUrl,
      now: () => clock.now(),
    }),
    links: {
      get publicUrl() {
        return publicUrl.value;
      },
      ackKey: async () => ackKeysOf(await secrets.getCurrentAndPrevious(ackSecret)).current,
      // Links signed with the key before the last rotation keep working until they expire.
      ackKeys: async () => ackKeysOf(await secrets.getCurrentAndPrevious(ackSecret)),
    },
    delayScale: config.local.escalationDelayScale,
  });
  const env: ActionEnvironment = {
    config: withOwn,
    incidents: store,
    audit: store,
    automation: store,
    targetHealth: store,
    idempotency,
    secrets,
    dispatcher: bus,
    clock,
    log,
    metrics: noProbeMetrics,
    escalator,
    backupCatalog,
  };
  let dns: LocalDnsServer | undefined;
  const timeScale = options.timeScale ?? Number(process.env.RESPONDER_TIME_SCALE || 1);
  if (!(timeScale > 0 && timeScale <= 1)) {
    throw new Error(`RESPONDER_TIME_SCALE must be a number above 0 and at most 1, not ${timeScale}`);
  }
  const capabilities = localCapabilities({
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms * timeScale)),
    drill: {
      rebuildStandby:
        options.rebuildStandby ??
        (config.local.demoEnvironment
          ? async (site) => {
              if (!demo?.rebuildStandby) throw new Error('the demo PostgreSQL pair is not running');
              return demo.rebuildStandby(site);
            }
          : undefined),
      // Reports sit in the data folder, beside the state they describe.
      writeReport: async (drillId, markdown) => {
        const folder = join(dataDir, 'drills');
        await mkdir(folder, { recursive: true, mode: 0o700 });
        const file = join(folder, `${drillId}.md`);
        await writeFile(file, markdown, { mode: 0o600 });
        return file;
      },
    },
    // Approve links are signed with the ack-link key, under their own label, as in AWS.
    approveLink: (approval) => escalator.approveLink(approval.requestId, new Date(approval.expiresAt)),
    failoverStore,
    dnsZone,
    // Failover verifies the move as a client would: asking the local DNS listener (started below).
    resolveDns: async (name, type) => {
      if (!dns) return [];
      const resolver = new Resolver({ timeout: 1000, tries: 1 });
      resolver.setServers([`127.0.0.1:${dns.port}`]);
      if (type === 'CNAME') return resolver.resolveCname(name);
      return type === 'AAAA' ? resolver.resolve6(name) : resolver.resolve4(name);
    },
    s3,
    backupBucket: LOCAL_BACKUP_BUCKET,
    backupCatalog,
    secretVersions: secrets,
  });
  for (const kind of ACTION_KINDS) performers[kind] = capabilities[kind](env);
  const rotate = performers.rotate;
  if (rotate) {
    performers.rotate = Object.assign(async (...args: Parameters<PerformAction>) => {
      const outcome = await rotate(...args);
      if (outcome.status === 'completed') {
        await followRotatedToken().catch((error: Error) =>
          log.warn('the webhook-token file could not follow the rotated credential', {
            error: error.message,
          }),
        );
      }
      return outcome;
    }, rotate);
  }

  const ingestDeps = {
    config,
    routes: compileRoutes(config.routes),
    deliveries: store,
    incidents: store,
    audit: store,
    floodLimits: store,
    automation: store,
    dispatcher: bus,
    credentials,
    clock,
    log,
  };
  const probeNow = async (targets?: string[]) => {
    const result = await runAction('probe', operatorProbeRequest(targets, clock, config.safety.dryRun));
    return result.status === 'done' ? (result.outcome.result as ProbeReport) : undefined;
  };
  const apiDeps: ApiDeps = {
    config: withOwn,
    incidents: store,
    escalations: store,
    audit: store,
    targetHealth: store,
    automation: store,
    credentials,
    clock,
    log,
    version: VERSION,
    // The operator's on-demand probe runs here and now, through the same probe capability.
    runProbes: probeNow,
    escalator,
    rotations: { run: (request) => runAction('rotate', request) },
    failover: { run: (request) => runAction('failover', request) },
    backups: {
      catalog: backupCatalog,
      // A dry run answers at once; a backup goes through the dispatcher, which the stop waits for.
      run: async (request, wait) => {
        if (wait) return runAction('backup', request);
        await bus.dispatch([request]);
        return undefined;
      },
    },
  };

  // Before the server, so that on stop the requests it drains can still reach the demo sites.
  let demo: DemoEnvironment | undefined;
  if (config.local.demoEnvironment) {
    const started = await startDemoEnvironment({ dataDir, secrets, log, ...options.demo });
    demo = started;
    teardown.add('the demo environment', () => started.stop());
  }

  // The zone's name server: what clients (and the dns probe with `server`) resolve the record through.
  if (config.failover) {
    if (await seedLocalZone(config.failover, dnsZone)) {
      log.info(
        `local DNS zone ${config.failover.zoneName}: ${config.failover.record.name} starts at the primary's value`,
      );
    }
    const wantedDnsPort = options.dnsPort ?? config.local.dnsPort;
    try {
      dns = await startLocalDnsServer({
        failover: config.failover,
        zone: dnsZone,
        failoverStore,
        log,
        port: wantedDnsPort,
      });
    } catch (error) {
      if ((error as { code?: string }).code === 'EADDRINUSE') {
        throw new Error(
          `DNS port ${wantedDnsPort} on 127.0.0.1 is in use: stop whatever holds it or set local.dnsPort to another port (0: any free one)`,
        );
      }
      throw error;
    }
    const listener = dns;
    teardown.add('the DNS listener', () => listener.stop());
  }

  // The demo's controls are the local runtime's own routes: the deployed API never has them.
  const route = (req: HttpRequest): Promise<HttpResponse> =>
    req.path === '/alertmanager' && req.method === 'POST'
      ? handleAlertmanagerWebhook(req, ingestDeps)
      : isDemoPath(req.path)
        ? handleDemoRequest(req, { demo, credentials })
        : handleApiRequest(req, apiDeps);

  const server = createLocalHttpServer({
    route,
    log,
    maxBodyBytes: config.webhook.maxBodyBytes,
    timeouts: options.httpTimeouts,
  });
  const wantedPort = options.port ?? Number(process.env.PORT ?? 9095);
  let port: number;
  try {
    port = await server.listen(wantedPort);
  } catch (error) {
    if ((error as { code?: string }).code === 'EADDRINUSE') {
      throw new Error(
        `port ${wantedPort} on 127.0.0.1 is in use: stop whatever holds it or set PORT to another port`,
      );
    }
    throw error;
  }
  // Requests being handled finish first: closing the store under them would lose a delivery
  // that Alertmanager was already told nothing about.
  teardown.add('the HTTP server', () => server.close(options.drainMs ?? 10_000));
  const url = `http://127.0.0.1:${port}`;
  publicUrl.value ||= url;

  const timers: ScheduleTimer[] = [];
  teardown.add('the schedule timers', () => {
    for (const timer of timers) timer.stop();
  });
  if (options.timers ?? true) {
    const scale = config.local.escalationDelayScale;
    for (const [kind, expression] of schedules) {
      timers.push(
        startSchedule(expression, kind === 'escalate' ? scale : 1, (scheduledTime) => {
          void dispatcher
            .dispatch([scheduledRequest(kind, scheduledTime, config.safety.dryRun)])
            .catch((error: Error) => log.error(`scheduled ${kind} not dispatched`, { error: error.message }));
        }),
      );
    }
  }

  let stopped = false;
  return {
    url,
    webhookUrl: `${url}/alertmanager`,
    secrets,
    probeNow,
    escalator,
    async sweepEscalations() {
      return runAction('escalate', scheduledRequest('escalate', clock.now(), config.safety.dryRun));
    },
    get token() {
      return token;
    },
    username,
    dataDir,
    store,
    idempotency,
    dispatcher,
    endpoints,
    s3,
    backupBucket: LOCAL_BACKUP_BUCKET,
    backupCatalog,
    failoverStore,
    dnsZone,
    dns: dns && { host: dns.host, port: dns.port, address: dns.address },
    dnsPort: dns?.port,
    demo,
    runAction,
    async stop() {
      if (stopped) return;
      stopped = true;
      await teardown.run(log);
    },
  };
}

/**
 * The schedules the timers run, checked before anything starts: the config schema only checks their
 * shape, and a timer that cannot read its expression would otherwise fail with servers left running.
 */
function checkedSchedules(config: ResponderConfig): Array<[ActionKind, string]> {
  const schedules: Array<[ActionKind, string, string]> = [
    ['probe', config.probes.schedule, 'probes.schedule'],
    ['backup', config.backups.schedule, 'backups.schedule'],
    ['escalate', config.escalation.sweepSchedule, 'escalation.sweepSchedule'],
  ];
  const issues: string[] = [];
  for (const [, expression, field] of schedules) {
    try {
      nextFireTime(expression, new Date());
    } catch (error) {
      if (!(error instanceof ScheduleEndedError)) issues.push(`${field}: ${(error as Error).message}`);
    }
  }
  if (issues.length > 0) {
    throw new ConfigError(`the config's schedules are invalid:\n  - ${issues.join('\n  - ')}`, issues);
  }
  return schedules.map(([kind, expression]) => [kind, expression]);
}

/**
 * One runtime per data folder: LevelDB allows a single process, and a second one would fail deep
 * inside dynalite. A pid file names the owner; a stale one (its process gone) is taken over.
 */
async function claimDataDir(dataDir: string): Promise<() => Promise<void>> {
  const file = join(dataDir, 'runtime.pid');
  try {
    const owner = Number((await readFile(file, 'utf8')).trim());
    if (owner && isAlive(owner)) {
      throw new Error(
        `another responder (pid ${owner}) is using ${dataDir}: stop it, or set RESPONDER_DATA_DIR to another folder`,
      );
    }
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw error;
  }
  await writeFile(file, `${process.pid}\n`, { mode: PRIVATE_FILE_MODE });
  return () => rm(file, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

/** The request a schedule puts on the bus; its id is derived from the scheduled time, so a re-fire is a duplicate. */
export function scheduledRequest(kind: ActionKind, scheduledTime: Date, dryRun: boolean) {
  return actionRequestSchema.parse({
    actionId: `schedule-${kind}-${scheduledTime.toISOString()}`,
    kind,
    trigger: 'schedule',
    requestedAt: scheduledTime.toISOString(),
    dryRun,
    params: { scheduled: true },
  });
}
