import { Resolver } from 'node:dns/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  type Change,
  ChangeResourceRecordSetsCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { build } from 'esbuild';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../lib/app.ts';
import { BACKUP_ENTRIES } from '../lib/backup-image.ts';
import { esbuildOptions, FUNCTION_NAMES, type FunctionName } from '../lib/bundling.ts';
import { ensureStateTable, STATE_TABLE_KEYS } from '../src/adapters/dynamodb-state-store.ts';
import { rdsEngineFor } from '../src/adapters/rds-database-failover.ts';
import { DEFAULT_POLICY } from '../src/config/escalation.ts';
import type { ResponderConfig } from '../src/config/schema.ts';
import { ackKeyOf } from '../src/escalation/ack-link.ts';
import { signApproveToken } from '../src/escalation/approve-link.ts';
import {
  type AwsRecorder,
  type RdsFixtures,
  type RecordedCall,
  type RecorderOptions,
  type Route53RecordSet,
  startAwsRecorder,
} from './support/aws-recorder.ts';
import { failoverConfigInput, httpSite } from './support/failover.ts';
import { type PostgresServer, startPostgres } from './support/postgres.ts';
import { loadEvent, testConfig } from './support/runtime.ts';
import {
  ACCOUNT,
  type AuthorizedCall,
  busPolicyStatements,
  type DeployedFunction,
  decide,
  functionsOf,
  ResolvedTemplate,
  type Statement,
  statementMatches,
  wildcardMatch,
} from './support/template-iam.ts';

const ROOT = join(import.meta.dirname, '..');

async function pgQuery(server: PostgresServer, database: string, text: string) {
  const client = new pg.Client({
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    database,
  });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}
const TOKEN = 'iam-test-token-0123456789abcdef';
/** A secret the rotate function rotates (generated strategy), configured by name. */
const API_KEY_SECRET = 'responder/iam-test-api-key';
/** The services whose grants must each be used by some call (logs, X-Ray and KMS are called by the platform). */
const CHECKED_SERVICES = [
  'dynamodb',
  'sns',
  'secretsmanager',
  'events',
  'lambda',
  's3',
  'ecs',
  'rds',
  'route53',
];

/**
 * What each function runs, as the stacks build it: the esbuild bundle of `functions/<name>/handler.ts`
 * (NodejsFunction), or for a container-image function the entry its image bundles with the same
 * options (lib/backup-image.ts).
 */
const ENTRIES: Record<FunctionName, string> = {
  ...(Object.fromEntries(
    FUNCTION_NAMES.map((name) => [name, join(ROOT, 'functions', name, 'handler.ts')]),
  ) as Record<FunctionName, string>),
  backup: BACKUP_ENTRIES.handler,
};

/**
 * Grants of code that has not landed yet, as `<function label>: <action>[ keys <pattern>]`: each may go
 * unused, and the last test fails as soon as one is used, so the entry goes with the code that uses it.
 */
const AWAITING_CODE: readonly string[] = [];

/** A loopback port nothing listens on until the recovery test opens it. */
const GATEWAY_PORT = await freePort();

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

type Handler = (event: unknown, context: Context) => Promise<Record<string, unknown>>;

/** A function as deployed (template) and as it runs here (its bundle, its environment, its access key). */
interface Running extends DeployedFunction {
  /** `ingest`, `api`, ..., and `dr-failover` for the DR stack's failover function. */
  readonly label: string;
  readonly accessKeyId: string;
  readonly busPolicy: readonly Statement[];
  handler: Handler;
}

const BASE_ENV = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_') && name !== 'NODE_OPTIONS'),
);

/** Replaces process.env with exactly what Lambda would give this function (plus quiet Powertools). */
function useEnvOf(fn: Running, endpoint: string) {
  const next: Record<string, string | undefined> = {
    ...BASE_ENV,
    ...fn.environment,
    AWS_REGION: fn.region,
    AWS_ACCESS_KEY_ID: fn.accessKeyId,
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL: endpoint,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  };
  delete next.NODE_OPTIONS;
  for (const name of Object.keys(process.env)) if (!(name in next)) delete process.env[name];
  Object.assign(process.env, next);
}

/** Runs `run` under exactly the environment Lambda gives `fn` (useEnvOf), and puts the previous one back. */
async function inEnvOf<T>(fn: Running, endpoint: string, run: () => Promise<T>): Promise<T> {
  const previous = { ...process.env };
  useEnvOf(fn, endpoint);
  try {
    return await run();
  } finally {
    for (const name of Object.keys(process.env)) if (!(name in previous)) delete process.env[name];
    Object.assign(process.env, previous);
  }
}

const contextOf = (fn: Running) =>
  ({
    functionName: fn.name,
    functionVersion: '$LATEST',
    awsRequestId: `request-${fn.label}`,
    invokedFunctionArn: fn.arn,
    memoryLimitInMB: '512',
    getRemainingTimeInMillis: () => 10_000,
  }) as unknown as Context;

function httpEvent(method: string, path: string, body?: string, auth = true): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: '',
    headers: {
      ...(auth ? { authorization: `Bearer ${TOKEN}` } : {}),
      'content-type': body?.startsWith('by=') ? 'application/x-www-form-urlencoded' : 'application/json',
    },
    requestContext: { http: { method, path }, requestId: `r-${method}-${path}` },
    body: body ? Buffer.from(body).toString('base64') : undefined,
    isBase64Encoded: Boolean(body),
  } as unknown as APIGatewayProxyEventV2;
}

/** The request context IAM evaluates a recorded call in. */
function authorizedCall(call: RecordedCall, fn: Running): AuthorizedCall {
  const context: Record<string, string[]> = { 'aws:PrincipalArn': [fn.roleArn] };
  if (call.leadingKeys) context['dynamodb:LeadingKeys'] = [...call.leadingKeys];
  if (call.source !== undefined) context['events:source'] = [call.source];
  if (call.detailType !== undefined) context['events:detail-type'] = [call.detailType];
  for (const [key, values] of Object.entries(call.context ?? {})) context[key] = [...values];
  return { action: call.action, resource: call.resource, context };
}

function describeCall(call: RecordedCall): string {
  const keys = call.leadingKeys ? ` keys=[${call.leadingKeys.join(',')}]` : '';
  const source = call.source ? ` source=${call.source}` : '';
  const context = Object.entries(call.context ?? {})
    .map(([key, values]) => ` ${key}=[${values.join(',')}]`)
    .join('');
  return `${call.caller}: ${call.action} on ${call.resource}${keys}${source}${context}`;
}

/**
 * `target`'s Allow grants of the checked services (action, resource and leading-key pattern) that no
 * call in `calls` used; an entry of `awaited` may go unused, and goes to `usedAwaited` once used.
 */
function unusedGrants(
  target: Running,
  calls: readonly RecordedCall[],
  options: {
    readonly services?: readonly string[];
    readonly awaited?: readonly string[];
    readonly usedAwaited?: string[];
  } = {},
): string[] {
  const services = options.services ?? CHECKED_SERVICES;
  const unused: string[] = [];
  const own = calls.filter((call) => call.caller === target.label);
  for (const statement of target.statements) {
    if (statement.Effect !== 'Allow') continue;
    const actions = [statement.Action ?? []].flat();
    const resources = [statement.Resource ?? []].flat();
    const keyPatterns = Object.entries(statement.Condition ?? {}).flatMap(([, keys]) =>
      [keys['dynamodb:LeadingKeys'] ?? []].flat(),
    );
    for (const action of actions) {
      if (!services.includes(action.split(':')[0] ?? '')) continue;
      for (const resource of resources) {
        for (const pattern of keyPatterns.length > 0 ? keyPatterns : [undefined]) {
          const used = own.some(
            (call) =>
              wildcardMatch(action, call.action, true) &&
              wildcardMatch(resource, call.resource) &&
              (pattern === undefined ||
                (call.leadingKeys ?? []).some((key) => wildcardMatch(pattern, key))) &&
              statementMatches(statement, authorizedCall(call, target)),
          );
          const entry = `${target.label}: ${action}${pattern ? ` keys ${pattern}` : ''}`;
          const awaited = options.awaited?.includes(entry) ?? false;
          if (used && awaited) options.usedAwaited?.push(entry);
          if (!used && !awaited)
            unused.push(`${target.label}: ${action} on ${resource}${pattern ? ` keys ${pattern}` : ''}`);
        }
      }
    }
  }
  return unused;
}

// Every AWS request each function's own bundle sends, in its real scenarios, checked against the role
// the synthesized template gives that function: a grant missing in AWS (dynalite checks no IAM) or one
// no code uses fails here, for every function of both stacks.
describe('IAM: each function is granted exactly the AWS calls its code makes', () => {
  const config = testConfig({
    backups: {
      // Nothing listens on port 9: a backup reads the secret, fails to connect, records the failure
      // and opens an incident (which requests its escalation).
      databases: [
        { name: 'payments', secret: 'responder/iam-test-backup-db', connectTimeoutSeconds: 1 },
        // A real PostgreSQL (started below) with enough rows for a multipart upload of several parts.
        { name: 'orders', secret: 'responder/iam-test-orders-db', compression: '0' },
      ],
    },
    escalation: {
      policy: {
        ...DEFAULT_POLICY,
        // Each tier is due 60 ms after the one before, so each sweep here pages the next one.
        P1: {
          respondWithin: '15 minutes',
          tiers: [
            { name: 'on-call', topics: ['on-call'], escalateAfterMinutes: 0.001 },
            { name: 'team-lead', topics: ['team-lead'], escalateAfterMinutes: 0.001 },
            { name: 'cto', topics: ['cto'] },
          ],
        },
      },
    },
    secrets: {
      // A generated API key by name; the webhook credential and the ack-link key the stack creates
      // rotate too (secrets.own).
      rotations: [{ secret: API_KEY_SECRET, strategy: 'generated', field: 'key', bytes: 32 }],
    },
    // DNS failover in switch mode: the failover function runs in the DR stack only, the primary bus
    // forwards its requests there, and the switch endpoint reads the switch item.
    failover: {
      mode: 'switch',
      hostedZoneId: 'Z0123456789ABCDEFGHIJ',
      zoneName: 'example.com',
      record: { name: 'api.example.com', type: 'A', ttl: 60 },
      primary: { record: { values: ['192.0.2.10'] }, targets: ['gateway'] },
      // Targets that read no secret: the DR function probes them from the DR region.
      dr: { record: { values: ['198.51.100.20'] }, targets: ['gateway'] },
    },
    probes: {
      targets: [
        // Backup freshness: the newest verified backup of orders, from the catalog.
        { name: 'orders-backup', kind: 'backup', database: 'orders' },
        // Nothing listens on port 9: the probe reads its secret, fails, and turns the target unhealthy.
        {
          name: 'database',
          kind: 'postgres',
          host: '127.0.0.1',
          port: 9,
          secret: 'responder/iam-test-db',
          failureThreshold: 1,
          timeoutMs: 1000,
        },
        // Closed until the test opens it: unhealthy first, then recovered (its incident resolved).
        {
          name: 'gateway',
          kind: 'tcp',
          host: '127.0.0.1',
          port: GATEWAY_PORT,
          failureThreshold: 1,
          recoveryThreshold: 1,
          timeoutMs: 1000,
        },
      ],
    },
  });
  const running: Running[] = [];
  /** The secrets the rotate function rotates: the id an operator names, the ARN, the rotated field. */
  const rotated: Array<{ readonly id: string; readonly arn: string; readonly field: string }> = [];
  let recorder: AwsRecorder;
  let database: PostgresServer;
  let out: string;
  /** What each schedule puts on the bus, by kind, as the template says. */
  const scheduled = new Map<string, Record<string, unknown>>();
  const scheduledRun = (kind: string) => {
    const detail = scheduled.get(kind);
    if (!detail) throw new Error(`no schedule for ${kind}`);
    return detail;
  };
  let delivered = 0;
  /** AWAITING_CODE entries some call used (filled by the unused-grants test). */
  const usedAwaited: string[] = [];

  const fn = (label: string): Running => {
    const found = running.find((candidate) => candidate.label === label);
    if (!found) throw new Error(`no function ${label}`);
    return found;
  };

  /** Runs one function as Lambda would: its environment, its context; the previous environment after. */
  async function invoke(label: string, event: unknown): Promise<Record<string, unknown>> {
    const target = fn(label);
    return inEnvOf(target, recorder.url, () => target.handler(event, contextOf(target)));
  }

  /** Delivers every event put on the bus so far to the function its rule targets, as EventBridge would. */
  async function deliverEvents() {
    while (delivered < recorder.events.length) {
      const event = recorder.events[delivered++];
      if (!event) continue;
      const detail = JSON.parse(event.Detail) as { kind: string };
      // The primary bus forwards failover requests to the DR bus, whose rule runs the DR function.
      const label = detail.kind === 'failover' ? 'dr-failover' : detail.kind;
      await invoke(label, { source: event.Source, 'detail-type': event.DetailType, detail });
    }
  }

  const api = async (method: string, path: string, body?: unknown, auth = true) => {
    const text = typeof body === 'string' ? body : body === undefined ? undefined : JSON.stringify(body);
    const answer = await invoke('api', httpEvent(method, path, text, auth));
    const raw = String(answer.body ?? '');
    let parsed: unknown = raw;
    try {
      parsed = JSON.parse(raw);
    } catch {
      // HTML pages stay text
    }
    return { status: answer.statusCode as number, body: parsed as Record<string, unknown> };
  };
  const webhook = async (payload: unknown) =>
    (await invoke('ingest', httpEvent('POST', '/alertmanager', JSON.stringify(payload)))).statusCode;

  beforeAll(async () => {
    database = await startPostgres();
    await pgQuery(database, 'postgres', 'CREATE DATABASE orders');
    await pgQuery(
      database,
      'orders',
      `CREATE TABLE lines (id int PRIMARY KEY, body text);
       INSERT INTO lines SELECT g, repeat(md5(g::text) || md5((g * 7)::text), 4) FROM generate_series(1, 120000) g;`,
    );
    const built = buildApp(config, new App({ context: { 'aws:cdk:bundling-stacks': [] } }));
    const primary = new ResolvedTemplate(
      Template.fromStack(built.primary).toJSON() as ResolvedTemplate['template'],
      config.aws.region,
      'primary',
    );
    const dr = new ResolvedTemplate(
      Template.fromStack(built.dr).toJSON() as ResolvedTemplate['template'],
      config.aws.drRegion,
      'dr',
    );
    for (const id of primary.idsOf('AWS::Scheduler::Schedule')) {
      const input = String((primary.properties(id).Target as { Input: string }).Input).replaceAll(
        '<aws.scheduler.scheduled-time>',
        new Date().toISOString(),
      );
      const detail = JSON.parse(input) as { kind: string; params?: { database?: string } };
      scheduled.set(
        detail.params?.database ? `${detail.kind}:${detail.params.database}` : detail.kind,
        detail,
      );
    }

    out = await mkdtemp(join(tmpdir(), 'responder-iam-'));
    const bundles = new Map<FunctionName, string>();
    for (const name of FUNCTION_NAMES) {
      const file = join(out, name, 'index.mjs');
      await build({ ...esbuildOptions(ENTRIES[name], config), outfile: file });
      bundles.set(name, file);
    }

    for (const [stack, resolved] of [
      ['', primary],
      ['dr-', dr],
    ] as const) {
      const busPolicy = busPolicyStatements(resolved);
      for (const deployed of functionsOf(resolved)) {
        const name = deployed.environment.POWERTOOLS_SERVICE_NAME?.replace(/^responder-/, '') as FunctionName;
        const label = `${stack}${name}`;
        running.push({
          ...deployed,
          label,
          accessKeyId: `AKID${label.replace(/\W/g, '').toUpperCase()}`,
          busPolicy,
          handler: async () => {
            throw new Error(`${label} is not loaded`);
          },
        });
      }
    }

    const secretArn = (name: string) =>
      `arn:aws:secretsmanager:${config.aws.region}:${ACCOUNT}:secret:${name}`;
    const webhookArn = fn('ingest').environment.WEBHOOK_SECRET_ARN ?? '';
    const ackArn = fn('escalate').environment.ACK_SECRET_ARN ?? '';
    // Each rotation schedule's secret (name or ARN, as the template names it) → its rotation function.
    const rotationLambda = new Map(
      primary.idsOf('AWS::SecretsManager::RotationSchedule').map((id) => {
        const schedule = primary.resolve(primary.properties(id)) as {
          SecretId: string;
          RotationLambdaARN: string;
        };
        return [schedule.SecretId, schedule.RotationLambdaARN] as const;
      }),
    );
    rotated.push(
      { id: API_KEY_SECRET, arn: secretArn(`${API_KEY_SECRET}-AbCdEf`), field: 'key' },
      { id: webhookArn, arn: webhookArn, field: 'token' },
      { id: ackArn, arn: ackArn, field: 'key' },
    );
    recorder = await startAwsRecorder({
      callers: {
        AKIDSETUP: 'setup',
        ...Object.fromEntries(running.map((r) => [r.accessKeyId, r.label])),
      },
      secrets: {
        [webhookArn]: {
          arn: webhookArn,
          value: JSON.stringify({ token: TOKEN, username: 'alertmanager' }),
          rotationLambdaArn: rotationLambda.get(webhookArn),
        },
        [ackArn]: {
          arn: ackArn,
          value: JSON.stringify({ key: 'k'.repeat(64) }),
          rotationLambdaArn: rotationLambda.get(ackArn),
        },
        [API_KEY_SECRET]: {
          arn: secretArn(`${API_KEY_SECRET}-AbCdEf`),
          value: JSON.stringify({ key: 'a'.repeat(43), note: 'kept' }),
          rotationLambdaArn: rotationLambda.get(API_KEY_SECRET),
        },
        'responder/iam-test-db': {
          arn: secretArn('responder/iam-test-db-AbCdEf'),
          value: JSON.stringify({ username: 'probe', password: 'probe-password' }),
        },
        'responder/iam-test-orders-db': {
          arn: secretArn('responder/iam-test-orders-db-AbCdEf'),
          value: JSON.stringify({
            engine: 'postgres',
            host: database.host,
            port: database.port,
            username: database.user,
            password: database.password,
            dbname: 'orders',
          }),
        },
        'responder/iam-test-backup-db': {
          arn: secretArn('responder/iam-test-backup-db-AbCdEf'),
          value: JSON.stringify({
            engine: 'postgres',
            host: '127.0.0.1',
            port: 9,
            username: 'backup',
            password: 'backup-password',
            dbname: 'payments',
          }),
        },
      },
      hashKeys: { '': STATE_TABLE_KEYS.partitionKey, [STATE_TABLE_KEYS.index]: 'gsi1pk' },
      invoke: async (functionName, payload) => {
        const target = running.find((r) => r.name === functionName || r.arn === functionName);
        if (!target) return { payload: JSON.stringify({ errorMessage: `no ${functionName}` }), failed: true };
        try {
          return { payload: JSON.stringify(await invoke(target.label, JSON.parse(payload))) };
        } catch (error) {
          return { payload: JSON.stringify({ errorMessage: (error as Error).message }), failed: true };
        }
      },
    });

    for (const [region, table] of new Set(
      running.map((r) => [r.region, r.environment.STATE_TABLE_NAME ?? ''] as const),
    )) {
      const client = new DynamoDBClient({
        region,
        endpoint: recorder.url,
        credentials: { accessKeyId: 'AKIDSETUP', secretAccessKey: 'test' },
      });
      await ensureStateTable(client, table);
      client.destroy();
    }

    // Each bundle is loaded under its own function's environment (module scope reads it), once per function.
    for (const target of running) {
      const name = target.environment.POWERTOOLS_SERVICE_NAME?.replace(/^responder-/, '') as FunctionName;
      const previous = { ...process.env };
      useEnvOf(target, recorder.url);
      const url = `${pathToFileURL(bundles.get(name) ?? '').href}?function=${target.label}`;
      target.handler = ((await import(url)) as { handler: Handler }).handler;
      for (const key of Object.keys(process.env)) if (!(key in previous)) delete process.env[key];
      Object.assign(process.env, previous);
    }
  }, 180_000);

  afterAll(async () => {
    vi.useRealTimers();
    await recorder?.stop();
    database?.destroy();
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('ingest takes a firing delivery once, a duplicate, a delivery whose dispatch fails, and its retry', async () => {
    const firing = loadEvent('firing.json');
    expect(await webhook(firing)).toBe(202);
    expect(await webhook(firing)).toBe(200);
    // A database-category site outage: routes to failover, and pages the DBA topic with the first tier.
    const siteDown = loadEvent('firing.json');
    siteDown.groupKey = '{}:{alertname="PrimarySiteDown"}';
    siteDown.commonLabels = {
      ...(siteDown.commonLabels as object),
      alertname: 'PrimarySiteDown',
      category: 'database',
    };
    siteDown.groupLabels = { alertname: 'PrimarySiteDown' };
    for (const alert of siteDown.alerts) {
      alert.labels = { ...(alert.labels as object), alertname: 'PrimarySiteDown', category: 'database' };
      alert.fingerprint = 'a1b2c3d4e5f60718';
    }
    // The bus refuses once: ingest answers 5xx and gives its delivery claim back for Alertmanager's retry.
    recorder.faults.push({
      caller: 'ingest',
      action: 'events:PutEvents',
      times: 1,
      status: 400,
      type: 'AccessDeniedException',
    });
    expect(await webhook(siteDown)).toBeGreaterThanOrEqual(500);
    expect(await webhook(siteDown)).toBe(202);
    expect(await webhook(loadEvent('security-incident.json'))).toBe(202);
    expect(recorder.events.map((e) => JSON.parse(e.Detail).kind)).toEqual(
      expect.arrayContaining(['probe', 'escalate', 'failover']),
    );
  });

  const swept = (from: number) => recorder.published.slice(from).map((p) => p.get('TopicArn') ?? '');
  const topicArn = (name: string) =>
    (JSON.parse(fn('escalate').environment.ESCALATION_TOPICS ?? '{}') as Record<string, string>)[name] ?? '';

  it('the action functions take what ingest requested: probe turns unhealthy and asks for a page', async () => {
    // The clock (the bundles share this process's Date) stands still from the first page until the
    // sweeps below move it: a slow run here must not let the next tier, 60 ms on, fall due early.
    vi.useFakeTimers({ toFake: ['Date'] });
    await deliverEvents();
    const topics = recorder.published.map((p) => p.get('TopicArn'));
    for (const name of ['on-call', 'dba', 'security']) expect(topics).toContain(topicArn(name));
    expect(recorder.calls.some((c) => c.caller === 'probe' && c.action === 'events:PutEvents')).toBe(true);
  });

  it('the scheduled sweep pages the tiers after the first', async () => {
    const before = recorder.published.length;
    // Tiers are 60 ms apart: a sweep pages each one due, and the next sweep any that fell due since.
    try {
      for (let sweep = 0; sweep < 5 && !swept(before).includes(topicArn('cto')); sweep++) {
        vi.setSystemTime(Date.now() + 150);
        const result = await invoke('escalate', {
          source: 'responder',
          'detail-type': 'Action Requested',
          detail: { ...scheduledRun('escalate'), actionId: `schedule-escalate-${sweep}` },
        });
        expect(result).toMatchObject({ status: 'done', outcome: { status: 'completed' } });
      }
    } finally {
      vi.useRealTimers();
    }
    expect(swept(before)).toEqual(expect.arrayContaining([topicArn('team-lead'), topicArn('cto')]));
  });

  it('the incident API reads, acknowledges, switches automation and runs probes in the probe function', async () => {
    expect((await api('GET', '/healthz', undefined, false)).status).toBe(200);
    const list = await api('GET', '/api/incidents');
    expect(list.status).toBe(200);
    const incidents = list.body.incidents as Array<{ id: string; title: string }>;
    expect(incidents.length).toBeGreaterThanOrEqual(2);
    const [first] = incidents;
    expect((await api('GET', `/api/incidents/${first?.id}`)).status).toBe(200);
    // Acknowledging tells every tier and topic already paged, from the API function.
    const before = recorder.published.length;
    for (const incident of incidents) {
      expect([200, 409]).toContain(
        (await api('POST', `/api/incidents/${incident.id}/ack`, { by: 'alice' })).status,
      );
    }
    expect(recorder.published.slice(before).map((p) => p.get('TopicArn'))).toEqual(
      expect.arrayContaining(['on-call', 'team-lead', 'cto', 'security', 'dba'].map(topicArn)),
    );
    // The link in a page, as a phone opens it and posts its form.
    const link = recorder.published
      .map((p) => JSON.parse(p.get('Message') ?? '{}').sms as string)
      .map((sms) => /\/ack\/(\S+)$/.exec(sms)?.[1])
      .find(Boolean);
    expect(link).toBeDefined();
    expect((await api('GET', `/ack/${link}`, undefined, false)).status).toBe(200);
    expect([200, 409]).toContain((await api('POST', `/ack/${link}`, 'by=bob', false)).status);
    expect((await api('GET', '/api/automation')).status).toBe(200);
    expect(
      (await api('PUT', '/api/automation', { enabled: true, reason: 'iam test', by: 'alice' })).status,
    ).toBe(200);
    expect((await api('GET', '/api/probes')).status).toBe(200);
    expect((await api('POST', '/api/probes', {})).status).toBe(200);
    // Backups: a dry run waits for the backup function, a backup is handed to it, and the catalog is read.
    expect((await api('POST', '/api/backups', { database: 'payments', dryRun: true })).status).toBe(200);
    expect((await api('POST', '/api/backups', { database: 'payments' })).status).toBe(202);
    expect((await api('GET', '/api/backups')).status).toBe(200);
    expect((await api('GET', '/api/backups/payments@20260101T000000.000Z')).status).toBe(404);
    // Rotations: the API invokes the rotate function, which starts the rotation (RotateSecret).
    const rotation = await api('POST', '/api/rotations', { secret: API_KEY_SECRET, dryRun: true });
    expect(rotation).toMatchObject({ status: 200, body: { status: 'completed' } });
    await deliverEvents();
  });

  it('the incident API asks the DR failover function in its region: status, dry run, approval and the signed approve link', async () => {
    const drCalls = () =>
      recorder.calls.filter((c) => c.caller === 'api' && c.action === 'lambda:InvokeFunction').length;
    const before = drCalls();
    const status = await api('GET', '/api/failover');
    expect(status).toMatchObject({
      status: 200,
      body: { status: 'completed', result: { active: 'primary' } },
    });
    const dry = await api('POST', '/api/failover', { to: 'dr', dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.body.summary).toMatch(/refused at|dry run/);
    const approval = await api('POST', '/api/failover/approvals/alert-failover-unknown', {});
    expect(approval).toMatchObject({ status: 200, body: { status: 'recorded' } });
    // The link an approval page carries, signed with the ack-link key (before the rotation test rotates it).
    const ackSecret = recorder.secrets.get(fn('api').environment.ACK_SECRET_ARN ?? '');
    const current = [...(ackSecret?.versions.values() ?? [])].find((v) => v.stages.includes('AWSCURRENT'));
    const token = signApproveToken(ackKeyOf(current?.value ?? ''), {
      requestId: 'alert-failover-iam',
      expiresAt: new Date(Date.now() + 600_000),
    });
    expect((await api('GET', `/approve/${token}`, undefined, false)).status).toBe(200);
    const approved = await api('POST', `/approve/${token}`, 'by=carol', false);
    expect(approved.status).toBe(200);
    expect(String(approved.body)).toMatch(/Not failed over/);
    // Status, dry run, approval and the link's POST: four invocations of the DR function, in its region.
    expect(drCalls() - before).toBe(4);
    expect(
      recorder.calls.filter((c) => c.caller === 'api' && c.action === 'lambda:InvokeFunction').at(-1)
        ?.resource,
    ).toBe(`arn:aws:lambda:${config.aws.drRegion}:${ACCOUNT}:function:responder-payments-api-dr-failover`);
  });

  it('a scheduled probe run finds the gateway back and resolves its incident', async () => {
    const gateway = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => gateway.listen(GATEWAY_PORT, '127.0.0.1', resolve));
    try {
      const result = await invoke('probe', {
        source: 'responder',
        'detail-type': 'Action Requested',
        detail: { ...scheduledRun('probe'), actionId: 'schedule-probe-recovery' },
      });
      const report = (
        result.outcome as { result: { results: Array<{ target: string; transition?: string }> } }
      ).result;
      expect(report.results).toEqual(
        expect.arrayContaining([expect.objectContaining({ target: 'gateway', transition: 'healthy' })]),
      );
      await deliverEvents();
    } finally {
      await new Promise<void>((resolve) => gateway.close(() => resolve()));
    }
  });

  it('a resolved delivery ends the escalation with a notice', async () => {
    const before = recorder.published.length;
    expect(await webhook(loadEvent('resolved.json'))).toBe(202);
    await deliverEvents();
    expect(recorder.published.length).toBeGreaterThan(before);
  });

  it('backup, rotate and failover (in the DR region) record requests once, and give a failed one back', async () => {
    for (const label of ['backup', 'rotate', 'dr-failover']) {
      const kind = label.replace('dr-', '');
      const request = (id: string) => ({
        actionId: `operator-${label}-${id}`,
        kind,
        trigger: 'operator',
        requestedAt: new Date().toISOString(),
        dryRun: false,
        params:
          kind === 'backup' ? { database: 'payments' } : kind === 'rotate' ? { secret: API_KEY_SECRET } : {},
      });
      const done = await invoke(label, request('ok'));
      expect(done).toMatchObject({ status: 'done' });
      // A redelivery gets the stored result (dynalite, unlike DynamoDB, returns no item with the failed
      // condition, so Powertools reads it: GetItem)
      expect(await invoke(label, request('ok'))).toEqual(done);
      recorder.faults.push({
        caller: label,
        // The first audit write (action.received) fails: the action has not run, so its claim is given back.
        action: 'dynamodb:PutItem',
        leadingKeyPrefix: 'AUDIT#',
        times: 1,
        status: 400,
        type: 'ValidationException',
      });
      await expect(invoke(label, request('failing'))).rejects.toThrow();
    }
  });

  it("rotate starts each configured rotation (RotateSecret) and runs Secrets Manager's four steps; a failed step opens an incident, the success resolves it", async () => {
    const stored = (arn: string) => {
      const secret = recorder.secrets.get(arn);
      if (!secret) throw new Error(`no secret ${arn} in the recorder`);
      return secret;
    };
    const atStage = (arn: string, stage: string) =>
      [...stored(arn).versions].find(([, version]) => version.stages.includes(stage));
    for (const [index, secret] of rotated.entries()) {
      const [currentId, current] = atStage(secret.arn, 'AWSCURRENT') ?? [];
      const before = JSON.parse(current?.value ?? '{}') as Record<string, unknown>;
      // An operator's (or an alert route's) request: the API key's earlier one left AWSPENDING behind,
      // which the repair removes first; then RotateSecret, whose steps Secrets Manager runs.
      const started = await invoke('rotate', {
        actionId: `operator-rotate-steps-${index}`,
        kind: 'rotate',
        trigger: 'operator',
        requestedAt: new Date().toISOString(),
        dryRun: false,
        params: { secret: secret.id },
      });
      expect(started).toMatchObject({ status: 'done', outcome: { status: 'recorded' } });
      const token = (started.outcome as { data: { token: string } }).data.token;
      expect(stored(secret.arn).versions.get(token)?.stages).toEqual(['AWSPENDING']);
      for (const Step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret']) {
        const event = { Step, SecretId: secret.arn, ClientRequestToken: token };
        if (index === 0 && Step === 'createSecret') {
          // The first attempt cannot store the pending value: the rotation incident opens and requests
          // its escalation, and Secrets Manager retries the step.
          recorder.faults.push({
            caller: 'rotate',
            action: 'secretsmanager:PutSecretValue',
            times: 1,
            status: 400,
            type: 'InvalidRequestException',
          });
          await expect(invoke('rotate', event)).rejects.toThrow();
        }
        expect(await invoke('rotate', event)).toMatchObject({ step: Step });
      }
      const after = JSON.parse(atStage(secret.arn, 'AWSCURRENT')?.[1].value ?? '{}') as Record<
        string,
        unknown
      >;
      expect(atStage(secret.arn, 'AWSCURRENT')?.[0]).toBe(token);
      expect(atStage(secret.arn, 'AWSPREVIOUS')?.[0]).toBe(currentId);
      // Secrets Manager itself takes AWSPENDING off once finishSecret returns; none is left elsewhere.
      expect([undefined, token]).toContain(atStage(secret.arn, 'AWSPENDING')?.[0]);
      expect(after[secret.field]).not.toEqual(before[secret.field]);
      expect({ ...after, [secret.field]: null }).toEqual({ ...before, [secret.field]: null });
    }
    const incidentCalls = recorder.calls.filter(
      (c) =>
        c.caller === 'rotate' && c.action === 'dynamodb:PutItem' && c.leadingKeys?.[0]?.startsWith('INC#'),
    );
    // Opened by the failed step, resolved by the finished rotation.
    expect(incidentCalls.length).toBeGreaterThanOrEqual(2);
    expect(recorder.calls.some((c) => c.caller === 'rotate' && c.action === 'events:PutEvents')).toBe(true);
    await deliverEvents();
  });

  it("the scheduled backup of a database runs in the backup function's image bundle", async () => {
    const result = await invoke('backup', {
      source: 'responder',
      'detail-type': 'Action Requested',
      detail: { ...scheduledRun('backup:payments'), actionId: 'schedule-backup-payments-iam' },
    });
    expect(result).toMatchObject({ status: 'done' });
    await deliverEvents();
  });

  it('backs up a real database through S3 (multipart, verified, tagged), and an S3 failure mid-upload aborts it', async () => {
    const request = (id: string) => ({
      actionId: `operator-backup-orders-${id}`,
      kind: 'backup',
      trigger: 'operator',
      requestedAt: new Date().toISOString(),
      dryRun: false,
      params: { database: 'orders' },
    });
    const good = (await invoke('backup', request('ok'))) as { outcome: { status: string; summary: string } };
    expect(good.outcome.status, good.outcome.summary).toBe('completed');
    const stored = [...recorder.objects.keys()].filter((key) => key.endsWith('.dump'));
    expect(stored).toHaveLength(1);
    // The second part fails on every attempt: the upload is aborted by its id, and no object is stored.
    recorder.faults.push({
      caller: 'backup',
      action: 's3:PutObject',
      skip: 2,
      times: 9,
      status: 500,
      type: 'InternalError',
    });
    const failed = (await invoke('backup', request('s3-fails'))) as {
      outcome: { status: string; summary: string };
    };
    recorder.faults.length = 0;
    expect(failed.outcome.status).toBe('failed');
    expect(failed.outcome.summary).toMatch(/the upload to S3 failed/);
    expect([...recorder.objects.keys()].filter((key) => key.endsWith('.dump'))).toEqual(stored);
    expect(recorder.uploads.size).toBe(0);
    await deliverEvents();
  });

  it('dr-failover asks for approval on an alert, pages through the primary bus, and takes the approval', async () => {
    const asked = (await invoke('dr-failover', {
      actionId: 'alert-failover-iam',
      kind: 'failover',
      trigger: 'alert',
      requestedAt: new Date().toISOString(),
      dryRun: false,
      params: { to: 'dr' },
    })) as { outcome: { status: string; summary: string } };
    expect(asked.outcome.summary).toMatch(/waits for approval/);
    // The escalate request crossed to the primary bus with its incident: the escalate function there
    // records it in the primary table (into the group's open incident, opened and paged on-call by the
    // approval the ingest test's alert asked for).
    await deliverEvents();
    const listed = (await api('GET', '/api/incidents')).body.incidents as Array<{
      labels: Record<string, string>;
      annotations: Record<string, string>;
    }>;
    expect(listed.find((i) => i.labels.alertname === 'FailoverApproval')?.annotations.summary).toContain(
      'responder failover approve alert-failover-iam',
    );
    expect(
      recorder.published.some(
        (p) =>
          p.get('TopicArn') === topicArn('on-call') &&
          String(JSON.parse(p.get('Message') ?? '{}').email).includes('responder failover approve'),
      ),
    ).toBe(true);
    const approved = (await invoke('dr-failover', {
      actionId: 'operator-approve-iam',
      kind: 'failover',
      trigger: 'operator',
      requestedAt: new Date().toISOString(),
      dryRun: false,
      params: { approve: 'alert-failover-iam', by: 'alice' },
    })) as { outcome: { status: string; summary: string } };
    // Approving runs every gate again: here the DR target is closed, so it refuses at dr-ready.
    expect(approved.outcome.summary).toMatch(/refused at (primary-down|dr-ready|cooldown|already-there)/);
  });

  it('probe and escalate give a failed request back for the retry, and run it once', async () => {
    for (const label of ['probe', 'escalate']) {
      recorder.faults.push({
        caller: label,
        // The first audit write (action.received) fails: the action has not run, so its claim is given back.
        action: 'dynamodb:PutItem',
        leadingKeyPrefix: 'AUDIT#',
        times: 1,
        status: 400,
        type: 'ValidationException',
      });
      const request = {
        actionId: `operator-${label}-failing`,
        kind: label,
        trigger: 'operator',
        requestedAt: new Date().toISOString(),
        dryRun: true,
        params: {},
        ...(label === 'escalate' ? { incidentId: '20260101-00000000' } : {}),
      };
      await expect(invoke(label, request)).rejects.toThrow();
      // The retry runs it, and a redelivery after that gets its stored result
      const retried = await invoke(label, request);
      expect(retried).toMatchObject({ status: 'done' });
      expect(await invoke(label, request)).toEqual(retried);
    }
  });

  it("the switch endpoint (DR region) answers Route 53's health check from the switch item: 503 primary, 200 dr", async () => {
    const endpoint = fn('dr-failover-switch');
    const path = endpoint.environment.SWITCH_PATH ?? '';
    expect(path).toMatch(/^\/switch\/[0-9a-f-]{36}$/);
    const get = async (rawPath: string) =>
      (await invoke('dr-failover-switch', {
        version: '2.0',
        rawPath,
        rawQueryString: '',
        headers: {},
        requestContext: { http: { method: 'GET', path: rawPath } },
        isBase64Encoded: false,
      })) as { statusCode: number; body: string };
    // No switch item yet: the primary is active.
    expect(await get(path)).toMatchObject({ statusCode: 503, body: 'primary' });
    const client = new DynamoDBClient({
      region: endpoint.region,
      endpoint: recorder.url,
      credentials: { accessKeyId: 'AKIDSETUP', secretAccessKey: 'test' },
    });
    try {
      await client.send(
        new PutItemCommand({
          TableName: endpoint.environment.STATE_TABLE_NAME,
          Item: {
            pk: { S: 'FAILOVER#switch' },
            sk: { S: 'STATE' },
            active: { S: 'dr' },
            version: { N: '1' },
          },
        }),
      );
    } finally {
      client.destroy();
    }
    expect(await get(path)).toMatchObject({ statusCode: 200, body: 'dr' });
    // Any other path: 404, without a read.
    const before = recorder.calls.filter((c) => c.caller === 'dr-failover-switch').length;
    expect(await get('/switch/guess')).toMatchObject({ statusCode: 404 });
    expect(await get('/')).toMatchObject({ statusCode: 404 });
    expect(recorder.calls.filter((c) => c.caller === 'dr-failover-switch')).toHaveLength(before);
  });

  it('every function of both stacks sent calls, each one a call the recorder understood', () => {
    const unknown = recorder.calls.filter(
      (c) => c.caller.startsWith('unknown') || c.action.startsWith('unknown:'),
    );
    expect(unknown.map(describeCall)).toEqual([]);
    const withoutKey = recorder.calls.filter(
      (c) => c.action.startsWith('dynamodb:') && c.caller !== 'setup' && (c.leadingKeys ?? []).length === 0,
    );
    expect(withoutKey.map(describeCall)).toEqual([]);
    const silent = running.filter((r) => !recorder.calls.some((c) => c.caller === r.label));
    expect(silent.map((r) => r.label)).toEqual([]);
  });

  it("allows every recorded call under the calling function's role and the bus policy", () => {
    const refused = recorder.calls
      .filter((call) => call.caller !== 'setup')
      .flatMap((call) => {
        const caller = fn(call.caller);
        const busPolicy = call.action.startsWith('events:') ? caller.busPolicy : [];
        const verdict = decide(caller.statements, busPolicy, authorizedCall(call, caller));
        return verdict === 'allowed' ? [] : [`${describeCall(call)} → ${verdict}`];
      });
    expect([...new Set(refused)]).toEqual([]);
  });

  it(`grants no ${CHECKED_SERVICES.join('/')} action, resource or key that no call used`, () => {
    const unused = running.flatMap((target) =>
      unusedGrants(target, recorder.calls, { awaited: AWAITING_CODE, usedAwaited }),
    );
    expect(unused).toEqual([]);
  });

  it('awaits code only for grants no call uses yet: remove an AWAITING_CODE entry once its code lands', () => {
    expect([...new Set(usedAwaited)]).toEqual([]);
  });
});

/** The calls of `target` its role (and, for events, the bus policy) does not allow, each once. */
function refusedCalls(target: Running, calls: readonly RecordedCall[]): string[] {
  const refused = calls
    .filter((call) => call.caller === target.label)
    .flatMap((call) => {
      const busPolicy = call.action.startsWith('events:') ? target.busPolicy : [];
      const verdict = decide(target.statements, busPolicy, authorizedCall(call, target));
      return verdict === 'allowed' ? [] : [`${describeCall(call)} → ${verdict}`];
    });
  return [...new Set(refused)];
}

/**
 * The DR stack's failover function for `config`, in a deployment of its own: its role from the
 * synthesized template, its esbuild bundle loaded under its environment, and a recorder of its own
 * (with the state table) that it signs to, as do `aliases` (more access keys of the same role, by
 * label). The recorder authorizes Route 53 calls under the function's role as they arrive.
 */
async function startDrFailover(
  label: string,
  config: ResponderConfig,
  fixtures: Pick<RecorderOptions, 'rds' | 'route53'> & { readonly secrets?: RecorderOptions['secrets'] },
  aliases: Readonly<Record<string, string>> = {},
): Promise<{ readonly target: Running; readonly recorder: AwsRecorder; readonly out: string }> {
  const { dr } = buildApp(config, new App({ context: { 'aws:cdk:bundling-stacks': [] } }));
  const resolved = new ResolvedTemplate(
    Template.fromStack(dr).toJSON() as ResolvedTemplate['template'],
    config.aws.drRegion,
    'dr',
  );
  const deployed = functionsOf(resolved).find(
    (candidate) => candidate.environment.POWERTOOLS_SERVICE_NAME === 'responder-failover',
  );
  if (!deployed) throw new Error('no DR failover function');
  const target: Running = {
    ...deployed,
    label,
    accessKeyId: `AKID${label.replace(/\W/g, '').toUpperCase()}`,
    busPolicy: busPolicyStatements(resolved),
    handler: async () => {
      throw new Error(`${label} is not loaded`);
    },
  };
  const recorder = await startAwsRecorder({
    callers: { AKIDSETUP: 'setup', [target.accessKeyId]: label, ...aliases },
    hashKeys: { '': STATE_TABLE_KEYS.partitionKey, [STATE_TABLE_KEYS.index]: 'gsi1pk' },
    invoke: async () => ({ payload: '{}', failed: true }),
    ...fixtures,
    secrets: fixtures.secrets ?? {},
    authorize: (call) =>
      call.caller === 'setup' || decide(target.statements, [], authorizedCall(call, target)) === 'allowed',
  });
  let out = '';
  try {
    const client = new DynamoDBClient({
      region: target.region,
      endpoint: recorder.url,
      credentials: { accessKeyId: 'AKIDSETUP', secretAccessKey: 'test' },
    });
    await ensureStateTable(client, target.environment.STATE_TABLE_NAME ?? '');
    client.destroy();
    out = await mkdtemp(join(tmpdir(), 'responder-iam-dr-'));
    const file = join(out, 'index.mjs');
    await build({ ...esbuildOptions(ENTRIES.failover, config), outfile: file });
    target.handler = await inEnvOf(
      target,
      recorder.url,
      async () =>
        ((await import(`${pathToFileURL(file).href}?function=${label}`)) as { handler: Handler }).handler,
    );
  } catch (error) {
    await recorder.stop();
    if (out) await rm(out, { recursive: true, force: true });
    throw error;
  }
  return { target, recorder, out };
}

// The DR failover function with each RDS engine, in its own deployment: its bundle runs a failover dry
// run, and the engine it builds (rdsEngineFor, as the handler wires it) inspects, fences and promotes
// both sites, failover then failback, under the function's credentials and region. Every RDS call must
// be granted, and every RDS grant used.
describe('IAM: the DR failover function is granted exactly the RDS calls of its database engine', () => {
  const DR = 'eu-central-1';
  const PRIMARY = 'eu-west-1';
  const DR_CLUSTER = `arn:aws:rds:${DR}:${ACCOUNT}:cluster:payments-dr`;
  const PRIMARY_CLUSTER = `arn:aws:rds:${PRIMARY}:${ACCOUNT}:cluster:payments`;
  const engines = {
    'rds-replica': {
      database: {
        engine: 'rds-replica',
        replicaInstance: 'payments-dr',
        primaryInstance: 'payments',
        primaryRegion: PRIMARY,
      },
      rds: (): RdsFixtures => ({
        instances: [
          {
            region: DR,
            id: 'payments-dr',
            source: `arn:aws:rds:${PRIMARY}:${ACCOUNT}:db:payments`,
            status: 'available',
          },
          { region: PRIMARY, id: 'payments', status: 'available' },
        ],
        globalClusters: [],
      }),
      actions: ['rds:DescribeDBInstances', 'rds:PromoteReadReplica'],
    },
    'aurora-global': {
      database: {
        engine: 'aurora-global',
        globalClusterIdentifier: 'payments-global',
        drClusterArn: DR_CLUSTER,
        primaryClusterArn: PRIMARY_CLUSTER,
      },
      rds: (): RdsFixtures => ({
        instances: [],
        globalClusters: [
          { id: 'payments-global', clusters: [PRIMARY_CLUSTER, DR_CLUSTER], writer: PRIMARY_CLUSTER },
        ],
      }),
      actions: [
        'rds:DescribeDBClusters',
        'rds:DescribeGlobalClusters',
        'rds:FailoverGlobalCluster',
        'rds:SwitchoverGlobalCluster',
      ],
    },
  } as const;

  for (const [name, scenario] of Object.entries(engines)) {
    describe(name, () => {
      const label = `dr-failover-${name}`;
      let recorder: AwsRecorder;
      let target: Running;
      let out: string;
      const sites: Array<{ close(): void }> = [];

      beforeAll(async () => {
        // The primary site fails its probe, the DR site passes: every gate of the dry run passes.
        const primarySite = await httpSite(false);
        const drSite = await httpSite(true);
        sites.push(primarySite, drSite);
        const config = testConfig(
          failoverConfigInput(
            { primary: primarySite.url, dr: drSite.url },
            {
              database: scenario.database as NonNullable<
                Parameters<typeof failoverConfigInput>[1]
              >['database'],
            },
          ),
        );
        ({ target, recorder, out } = await startDrFailover(label, config, { rds: scenario.rds() }));
        await inEnvOf(target, recorder.url, async () => {
          const dryRun = await target.handler(
            {
              actionId: `operator-failover-dry-${name}`,
              kind: 'failover',
              trigger: 'operator',
              requestedAt: new Date().toISOString(),
              dryRun: true,
              params: { to: 'dr' },
            },
            contextOf(target),
          );
          expect((dryRun.outcome as { summary: string }).summary).toMatch(/^dry run: every gate passes/);
          const engine = rdsEngineFor(config.failover?.database as Parameters<typeof rdsEngineFor>[0], {
            drRegion: config.aws.drRegion,
            pollIntervalMs: 1,
          });
          const options = { timeoutMs: 10_000, sourceAnswers: true, allowDataLoss: false };
          expect((await engine.inspect('dr')).role).toBe('replica');
          expect((await engine.inspect('primary')).role).toBe('writer');
          expect((await engine.fence('primary')).reachable).toBe(true);
          if (name === 'rds-replica') {
            expect((await engine.promote('dr', options)).detail).toMatch(/promoted/);
            // A human rebuilds the old primary as a read replica of the DR instance; then failback.
            const rebuilt = recorder.rds.instances.find((i) => i.id === 'payments');
            if (rebuilt) rebuilt.source = `arn:aws:rds:${DR}:${ACCOUNT}:db:payments-dr`;
            expect((await engine.promote('primary', options)).detail).toMatch(/promoted/);
          } else {
            // The primary region does not answer: a failover that accepts the loss, then a switchover back.
            expect(
              (await engine.promote('dr', { ...options, sourceAnswers: false, allowDataLoss: true })).detail,
            ).toMatch(/after a failover/);
            expect((await engine.promote('primary', options)).detail).toMatch(/after a switchover/);
          }
          expect((await engine.fence('dr')).reachable).toBe(true);
        });
      }, 120_000);

      afterAll(async () => {
        for (const site of sites) site.close();
        await recorder?.stop();
        if (out) await rm(out, { recursive: true, force: true });
      });

      it('sent each RDS call the engine needs, and only calls the recorder understood', () => {
        const calls = recorder.calls.filter((call) => call.caller === label);
        expect(calls.filter((c) => c.action.startsWith('unknown')).map(describeCall)).toEqual([]);
        expect(
          [...new Set(calls.filter((c) => c.action.startsWith('rds:')).map((c) => c.action))].sort(),
        ).toEqual([...scenario.actions]);
        expect(
          calls.filter((c) => c.action.startsWith('rds:') && c.status !== 200).map(describeCall),
        ).toEqual([]);
      });

      it("allows every call under the function's role", () => {
        expect(refusedCalls(target, recorder.calls)).toEqual([]);
      });

      it('grants no RDS action or resource that no call used', () => {
        expect(unusedGrants(target, recorder.calls, { services: ['rds'] })).toEqual([]);
      });
    });
  }
});

// The DR failover function with a self-managed PostgreSQL standby, in its own deployment: its bundle
// runs a drill (the primary answers, so a planned failover) against two real clusters in streaming
// replication. It reads both logins from Secrets Manager, writes marker rows, fences, promotes, moves
// the switch and stores the drill's report in the state table: every call allowed under its role, and
// no login grant unused.
describe('IAM: the DR failover function with a PostgreSQL standby reads its logins and stores a drill report', () => {
  const label = 'dr-failover-postgres-standby';
  let primaryDb: PostgresServer;
  let drDb: PostgresServer;
  let recorder: AwsRecorder;
  let target: Running;
  let out: string;
  let outcome: { status: string; summary: string; result: { report?: { passed: boolean; drillId: string } } };
  const sites: Array<{ close(): void }> = [];
  const stubs: Array<{ mockRestore(): void }> = [];
  const secretArn = (config: ResponderConfig, name: string) =>
    `arn:aws:secretsmanager:${config.aws.drRegion}:${ACCOUNT}:secret:${name}-AbC123`;
  const login = (server: PostgresServer) =>
    JSON.stringify({
      engine: 'postgres',
      host: server.host,
      port: server.port,
      username: server.user,
      password: server.password,
      dbname: 'postgres',
    });

  beforeAll(async () => {
    primaryDb = await startPostgres();
    drDb = await startPostgres({ standbyOf: primaryDb });
    const primarySite = await httpSite(true);
    const drSite = await httpSite(true);
    sites.push(primarySite, drSite);
    const config = testConfig(
      failoverConfigInput(
        { primary: primarySite.url, dr: drSite.url },
        {
          database: {
            engine: 'postgres-standby',
            primarySecret: 'test/primary-db',
            drSecret: 'test/dr-db',
            promoteTimeoutSeconds: 30,
          },
          drill: { environment: 'test', markerIntervalMs: 40 },
        },
      ),
    );
    ({ target, recorder, out } = await startDrFailover(label, config, {
      secrets: {
        'test/primary-db': { arn: secretArn(config, 'test/primary-db'), value: login(primaryDb) },
        'test/dr-db': { arn: secretArn(config, 'test/dr-db'), value: login(drDb) },
      },
    }));
    // Verification asks the zone's name servers (node:dns/promises, shared with the bundle): here they
    // answer the DR value, as Route 53 does once its health check reads the switch.
    stubs.push(
      vi.spyOn(Resolver.prototype, 'resolveNs').mockResolvedValue(['ns-1.awsdns-test.net']),
      vi
        .spyOn(Resolver.prototype, 'resolve4')
        .mockImplementation((async (name: string) =>
          name === 'ns-1.awsdns-test.net'
            ? ['192.0.2.53']
            : ['127.0.0.2']) as unknown as Resolver['resolve4']),
    );
    const result = await inEnvOf(target, recorder.url, () =>
      target.handler(
        {
          actionId: 'operator-drill-postgres',
          kind: 'failover',
          trigger: 'operator',
          requestedAt: new Date().toISOString(),
          dryRun: false,
          params: { drill: true, by: 'alice' },
        },
        contextOf(target),
      ),
    );
    outcome = result.outcome as typeof outcome;
  }, 120_000);

  afterAll(async () => {
    for (const stub of stubs) stub.mockRestore();
    for (const site of sites) site.close();
    await recorder?.stop();
    if (out) await rm(out, { recursive: true, force: true });
    drDb?.destroy();
    primaryDb?.destroy();
  });

  it('drills: the standby is promoted and the report passes', async () => {
    expect(outcome.status, outcome.summary).toBe('completed');
    expect(outcome.result.report?.passed).toBe(true);
    const { rows } = await pgQuery(drDb, 'postgres', 'SELECT pg_is_in_recovery() AS r');
    expect(rows[0]?.r).toBe(false);
  });

  it('read both logins and stored the report, each call allowed under its role', () => {
    const calls = recorder.calls.filter((call) => call.caller === label);
    expect(
      [
        ...new Set(calls.filter((c) => c.action === 'secretsmanager:GetSecretValue').map((c) => c.resource)),
      ].sort(),
    ).toEqual([secretArn(testConfig(), 'test/dr-db'), secretArn(testConfig(), 'test/primary-db')].sort());
    const report = calls.filter(
      (c) =>
        c.action === 'dynamodb:PutItem' &&
        (c.leadingKeys ?? []).some((key) => key.startsWith('FAILOVER#drill#')),
    );
    expect(report).toHaveLength(1);
    expect(refusedCalls(target, recorder.calls)).toEqual([]);
  });

  it('grants no Secrets Manager action or secret that no call used', () => {
    expect(unusedGrants(target, recorder.calls, { services: ['secretsmanager'] })).toEqual([]);
  });
});

// The DR failover function in `records` mode, in its own deployment: its bundle fails over for real (an
// operator's request, policy auto: the primary site fails its probe, the DR site passes) and moves the
// record the runbook's way: ListResourceRecordSets reads it, ChangeResourceRecordSets UPSERTs the DR
// site's value (throttled once, so the retry is seen too), GetChange follows the change to INSYNC. The
// recorder refuses any Route 53 call the role does not allow, as IAM would; every grant must be used;
// and the grant's condition keys must refuse every other change in the zone.
describe('IAM: the DR failover function in records mode is granted exactly the Route 53 calls of its UPSERT', () => {
  const label = 'dr-failover-records';
  /** Another access key of the same role: the changes the role must not make are sent under it. */
  const OTHER = { key: 'AKIDDRFAILOVEROTHER', label: `${label}/other-changes` };
  const ZONE = { id: 'Z0123456789ABC', name: 'payments.test.' };
  /** The zone's name server, as the zone's NS record and the stubbed system resolver name it. */
  const NAME_SERVER = { name: 'ns-1.awsdns-test.net', address: '192.0.2.53' };
  const RECORDS: readonly Route53RecordSet[] = [
    { name: 'payments.test.', type: 'NS', ttl: 172_800, values: [NAME_SERVER.name] },
    { name: 'api.payments.test.', type: 'A', ttl: 5, values: ['127.0.0.1'] },
    { name: 'api.payments.test.', type: 'AAAA', ttl: 5, values: ['::1'] },
    { name: 'www.payments.test.', type: 'A', ttl: 300, values: ['192.0.2.80'] },
  ];
  let recorder: AwsRecorder;
  let target: Running;
  let out: string;
  let outcome: { status: string; summary: string };
  const sites: Array<{ close(): void }> = [];
  const stubs: Array<{ mockRestore(): void }> = [];
  const zone = () => recorder.route53.zones.find((z) => z.id === ZONE.id);
  const route53Calls = (caller: string) =>
    recorder.calls.filter((call) => call.caller === caller && call.action.startsWith('route53:'));

  beforeAll(async () => {
    const primarySite = await httpSite(false);
    const drSite = await httpSite(true);
    sites.push(primarySite, drSite);
    const config = testConfig(
      failoverConfigInput({ primary: primarySite.url, dr: drSite.url }, { mode: 'records' }),
    );
    expect(config.failover).toMatchObject({ hostedZoneId: ZONE.id, record: { name: 'api.payments.test' } });
    ({ target, recorder, out } = await startDrFailover(
      label,
      config,
      { route53: { zones: [{ ...ZONE, records: RECORDS.map((record) => ({ ...record })) }] } },
      { [OTHER.key]: OTHER.label },
    ));
    // The function verifies the move with the zone's own name servers (node:dns/promises, which its
    // bundle shares with this process): here the zone's NS record names one, and it answers what the
    // recorder's zone holds now. A resolver not pointed at it answers nothing.
    const failing = (name: string) =>
      Object.assign(new Error(`queryA ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    stubs.push(
      vi.spyOn(Resolver.prototype, 'resolveNs').mockImplementation(async (name: string) => {
        const ns = zone()?.records.find((r) => r.name === `${name}.` && r.type === 'NS');
        if (!ns) throw failing(name);
        return [...ns.values];
      }),
      vi.spyOn(Resolver.prototype, 'resolve4').mockImplementation(async function (
        this: Resolver,
        name: string,
      ) {
        if (name === NAME_SERVER.name) return [NAME_SERVER.address];
        const answer = zone()?.records.find((r) => r.name === `${name}.` && r.type === 'A');
        if (!this.getServers().includes(NAME_SERVER.address) || !answer) throw failing(name);
        return [...answer.values];
      } as unknown as Resolver['resolve4']),
    );
    recorder.faults.push({
      caller: label,
      action: 'route53:ChangeResourceRecordSets',
      times: 1,
      status: 400,
      type: 'Throttling',
    });
    const result = await inEnvOf(target, recorder.url, () =>
      target.handler(
        {
          actionId: 'operator-failover-records',
          kind: 'failover',
          trigger: 'operator',
          requestedAt: new Date().toISOString(),
          dryRun: false,
          params: { to: 'dr', by: 'alice' },
        },
        contextOf(target),
      ),
    );
    outcome = result.outcome as typeof outcome;
  }, 120_000);

  afterAll(async () => {
    for (const stub of stubs) stub.mockRestore();
    for (const site of sites) site.close();
    await recorder?.stop();
    if (out) await rm(out, { recursive: true, force: true });
  });

  it("fails over: the record answers the DR site's value, INSYNC, verified at the zone's name server", () => {
    expect(outcome.status, outcome.summary).toBe('completed');
    const [change] = /\/change\/C\w+/.exec(outcome.summary) ?? [];
    expect(outcome.summary).toContain(
      `UPSERT api.payments.test 127.0.0.1 → 127.0.0.2 (change ${change}, INSYNC`,
    );
    expect(outcome.summary).toMatch(/api\.payments\.test answers 127\.0\.0\.2/);
    // Only the configured record changed.
    expect(zone()?.records.find((r) => r.name === 'api.payments.test.' && r.type === 'A')).toEqual({
      name: 'api.payments.test.',
      type: 'A',
      ttl: 5,
      values: ['127.0.0.2'],
    });
    expect(zone()?.records.filter((r) => !(r.name === 'api.payments.test.' && r.type === 'A'))).toEqual(
      RECORDS.filter((r) => !(r.name === 'api.payments.test.' && r.type === 'A')),
    );
  });

  it('read the record, UPSERTed it (again after the throttle) and followed the change: PENDING, then INSYNC', () => {
    const calls = recorder.calls.filter((call) => call.caller === label);
    expect(calls.filter((c) => c.action.startsWith('unknown')).map(describeCall)).toEqual([]);
    const changeId = /\/change\/(C\w+)/.exec(outcome.summary)?.[1];
    const zoneArn = `arn:aws:route53:::hostedzone/${ZONE.id}`;
    const upsert = {
      'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['api.payments.test'],
      'route53:ChangeResourceRecordSetsRecordTypes': ['A'],
      'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
    };
    expect(
      route53Calls(label).map(({ action, resource, context, status }) => ({
        action,
        resource,
        context,
        status,
      })),
    ).toEqual([
      { action: 'route53:ListResourceRecordSets', resource: zoneArn, context: undefined, status: 200 },
      { action: 'route53:ChangeResourceRecordSets', resource: zoneArn, context: upsert, status: 400 },
      { action: 'route53:ChangeResourceRecordSets', resource: zoneArn, context: upsert, status: 200 },
      ...[1, 2].map(() => ({
        action: 'route53:GetChange',
        resource: `arn:aws:route53:::change/${changeId}`,
        context: undefined,
        status: 200,
      })),
    ]);
  });

  it("allows every call under the function's role", () => {
    expect(refusedCalls(target, recorder.calls)).toEqual([]);
  });

  it('grants no Route 53 action or resource that no call used', () => {
    expect(unusedGrants(target, recorder.calls, { services: ['route53'] })).toEqual([]);
  });

  it('refuses, as IAM would, any other change in the zone: another name, type or action, or one more change in the batch', async () => {
    const client = new Route53Client({
      region: target.region,
      endpoint: recorder.url,
      credentials: { accessKeyId: OTHER.key, secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    const upsert = (Name: string, Type: 'A' | 'AAAA' = 'A', Value = '192.0.2.66'): Change => ({
      Action: 'UPSERT',
      ResourceRecordSet: { Name, Type, TTL: 60, ResourceRecords: [{ Value }] },
    });
    const send = (Changes: Change[], HostedZoneId = ZONE.id) =>
      client.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId,
          ChangeBatch: { Comment: 'not the runbook', Changes },
        }),
      );
    const before = structuredClone(zone()?.records);
    const names = (...values: string[]) => ({
      'route53:ChangeResourceRecordSetsNormalizedRecordNames': values,
    });
    const refusals: Array<readonly [string, Change[], Record<string, string[]>, string?]> = [
      ['another name', [upsert('www.payments.test.')], names('www.payments.test')],
      [
        'a name that only starts like it',
        [upsert('api.payments.test.payments.test.')],
        names('api.payments.test.payments.test'),
      ],
      ['a wildcard', [upsert('*.payments.test.')], names('\\052.payments.test')],
      ['the zone apex', [upsert('payments.test.')], names('payments.test')],
      [
        'another type',
        [upsert('api.payments.test.', 'AAAA', '::2')],
        { 'route53:ChangeResourceRecordSetsRecordTypes': ['AAAA'] },
      ],
      [
        'another action',
        [
          {
            Action: 'DELETE',
            ResourceRecordSet: {
              Name: 'api.payments.test.',
              Type: 'A',
              TTL: 5,
              ResourceRecords: [{ Value: '127.0.0.2' }],
            },
          },
        ],
        { 'route53:ChangeResourceRecordSetsActions': ['DELETE'] },
      ],
      [
        'the allowed UPSERT and one more',
        [upsert('api.payments.test.'), upsert('www.payments.test.')],
        names('api.payments.test', 'www.payments.test'),
      ],
      ['the allowed UPSERT in another zone', [upsert('api.payments.test.')], {}, 'ZOTHERZONE0000'],
    ];
    try {
      for (const [what, changes, keys, zoneId] of refusals) {
        const from = recorder.calls.length;
        await expect(send(changes, zoneId), what).rejects.toMatchObject({ name: 'AccessDenied' });
        const [call, ...more] = recorder.calls.slice(from);
        expect(more, what).toEqual([]);
        expect(call, what).toMatchObject({
          caller: OTHER.label,
          action: 'route53:ChangeResourceRecordSets',
          resource: `arn:aws:route53:::hostedzone/${zoneId ?? ZONE.id}`,
          status: 403,
          context: expect.objectContaining(keys),
        });
        expect(call && decide(target.statements, [], authorizedCall(call, target)), what).toBe(
          'implicitly denied',
        );
      }
      expect(zone()?.records).toEqual(before);
      // The same client may make the runbook's change, its name written in any case and with its dot:
      // the refusals above are the condition keys' and the zone's, not the client's.
      const allowed = await send([upsert('API.Payments.Test.', 'A', '127.0.0.2')]);
      expect(allowed.ChangeInfo?.Status).toBe('PENDING');
      expect(route53Calls(OTHER.label).at(-1)).toMatchObject({
        status: 200,
        context: expect.objectContaining(names('api.payments.test')),
      });
      const listed = await client.send(
        new ListResourceRecordSetsCommand({
          HostedZoneId: ZONE.id,
          StartRecordName: 'api.payments.test.',
          StartRecordType: 'A',
          MaxItems: 1,
        }),
      );
      expect(listed.ResourceRecordSets).toEqual([
        { Name: 'api.payments.test.', Type: 'A', TTL: 60, ResourceRecords: [{ Value: '127.0.0.2' }] },
      ]);
    } finally {
      client.destroy();
    }
  });
});
