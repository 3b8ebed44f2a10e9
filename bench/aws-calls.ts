/**
 * The AWS calls of the hot paths, counted on the real Lambda bundles: every SDK client of a bundle is
 * pointed (AWS_ENDPOINT_URL) at a loopback timing proxy in front of test/support/aws-recorder.ts
 * (DynamoDB forwarded to dynalite; Secrets Manager, EventBridge and SNS answered there). The proxy
 * records each request the bundle sends: service, action, when it arrived and when its answer was
 * sent. From those, per scenario: calls by service, and the sequential critical path (the longest
 * chain of calls each starting after the previous one ended; overlapping calls count once).
 */
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { ensureStateTable, STATE_TABLE_KEYS } from '../src/adapters/dynamodb-state-store.ts';
import { readBody, startAwsRecorder } from '../test/support/aws-recorder.ts';

const ROOT = join(import.meta.dirname, '..');
const TOKEN = 'bench-token-0123456789abcdef';
const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const TABLE = 'responder-state';
const WEBHOOK_SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:responder-webhook-AbCdEf`;
const ACK_SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:responder-ack-AbCdEf`;

/** The services the table reports, by the signing name in each request's credential scope. */
export const SERVICES = {
  dynamodb: 'DynamoDB',
  events: 'EventBridge',
  sns: 'SNS',
  secretsmanager: 'Secrets Manager',
} as const;
type ServiceLabel = (typeof SERVICES)[keyof typeof SERVICES];

export interface TimedCall {
  readonly service: string;
  readonly action: string;
  /** DynamoDB: the kind of item reached (its partition key up to the first `#`), for reading the figures. */
  readonly item?: string;
  /** ms since the scenario started: request headers received, answer fully sent. */
  readonly startMs: number;
  endMs: number;
}

export interface ScenarioCalls {
  readonly scenario: string;
  readonly description: string;
  readonly byService: Record<ServiceLabel, number> & Record<string, number>;
  readonly total: number;
  readonly criticalPath: number;
  /** Issue 9's target for the critical path, where it sets one. */
  readonly targetCriticalPath?: number;
  /** The handler's own answer (status code or action result status). */
  readonly outcome: string;
  readonly wallMs: number;
  readonly calls: ReadonlyArray<{
    service: string;
    action: string;
    item?: string;
    startMs: number;
    endMs: number;
  }>;
}

/** Longest chain of calls where each starts at or after the previous one's end. */
export function criticalPathLength(calls: readonly TimedCall[]): number {
  const sorted = [...calls].sort((a, b) => a.startMs - b.startMs || a.endMs - b.endMs);
  const chain: number[] = [];
  let longest = 0;
  sorted.forEach((call, i) => {
    let best = 0;
    for (let j = 0; j < i; j++) {
      const before = sorted[j];
      if (before && before.endMs <= call.startMs) best = Math.max(best, chain[j] ?? 0);
    }
    chain[i] = best + 1;
    longest = Math.max(longest, best + 1);
  });
  return longest;
}

/** `INCIDENT#abc` → `INCIDENT`: what a DynamoDB request reaches (a Query: its index or table). */
function itemKindOf(body: Buffer): string | undefined {
  try {
    const input = JSON.parse(body.toString('utf8')) as {
      Key?: Record<string, { S?: string }>;
      Item?: Record<string, { S?: string }>;
      IndexName?: string;
    };
    const pk = (input.Key ?? input.Item)?.[STATE_TABLE_KEYS.partitionKey]?.S;
    return pk ? pk.split('#')[0] : input.IndexName ? `index ${input.IndexName}` : undefined;
  } catch {
    return undefined;
  }
}

/** A loopback proxy that times every request on its way to `target`. */
export async function startTimingProxy(target: string) {
  const { port: targetPort } = new URL(target);
  const calls: TimedCall[] = [];
  let origin = performance.now();
  const server: Server = createServer((req, res) => {
    const startMs = performance.now() - origin;
    void readBody(req).then((body) => {
      const scope = /Credential=[^/]+\/\d+\/[^/]+\/([^/]+)\//.exec(String(req.headers.authorization ?? ''));
      const signingName = scope?.[1] ?? 'unsigned';
      const amzTarget = String(req.headers['x-amz-target'] ?? '');
      const action = amzTarget
        ? amzTarget.slice(amzTarget.indexOf('.') + 1)
        : (new URLSearchParams(body.toString('utf8')).get('Action') ?? req.url ?? '?');
      const call: TimedCall = {
        service: SERVICES[signingName as keyof typeof SERVICES] ?? signingName,
        action,
        item: signingName === 'dynamodb' ? itemKindOf(body) : undefined,
        startMs,
        endMs: Number.NaN,
      };
      calls.push(call);
      res.on('finish', () => {
        call.endMs = performance.now() - origin;
      });
      const forwarded = httpRequest(
        {
          host: '127.0.0.1',
          port: Number(targetPort),
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forwarded.on('error', (error) => {
        res.statusCode = 502;
        res.end(error.message);
      });
      forwarded.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** Starts a new scenario: forgets the calls so far and restarts the clock. */
    reset() {
      calls.length = 0;
      origin = performance.now();
    },
    take(): TimedCall[] {
      return calls.splice(0);
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

type Handler = (event: unknown, context: Context) => Promise<Record<string, unknown>>;

const context = (name: string) =>
  ({
    functionName: `responder-${name}`,
    functionVersion: '$LATEST',
    awsRequestId: `bench-${name}-${Date.now()}`,
    invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:responder-${name}`,
    memoryLimitInMB: '512',
    getRemainingTimeInMillis: () => 10_000,
  }) as unknown as Context;

function webhookEvent(body: unknown) {
  const text = JSON.stringify(body);
  return {
    version: '2.0',
    routeKey: 'POST /alertmanager',
    rawPath: '/alertmanager',
    rawQueryString: '',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    requestContext: { http: { method: 'POST', path: '/alertmanager' }, requestId: `r-${Date.now()}` },
    body: Buffer.from(text).toString('base64'),
    isBase64Encoded: true,
  };
}

/** The environment the stack gives each function (lib/responder-stack.ts), pointed at the proxy. */
function environmentOf(name: 'ingest' | 'escalate', endpoint: string): Record<string, string> {
  const common = {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: `AKID${name.toUpperCase()}`,
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_ENDPOINT_URL: endpoint,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_LAMBDA_FUNCTION_NAME: `responder-${name}`,
    POWERTOOLS_SERVICE_NAME: `responder-${name}`,
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
    STATE_TABLE_NAME: TABLE,
  };
  return name === 'ingest'
    ? { ...common, WEBHOOK_SECRET_ARN, EVENT_BUS_NAME: 'responder-bus' }
    : {
        ...common,
        ESCALATION_TOPICS: JSON.stringify(
          Object.fromEntries(
            ['on-call', 'team-lead', 'cto', 'security', 'dba'].map((topic) => [
              topic,
              `arn:aws:sns:${REGION}:${ACCOUNT}:responder-${topic}`,
            ]),
          ),
        ),
        ACK_SECRET_ARN,
        PUBLIC_URL: 'https://api.example.com',
      };
}

/** Runs `fn` with exactly `env` added to process.env (module scope and SDK clients read it), then restores it. */
async function withEnv<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const previous = { ...process.env };
  for (const name of Object.keys(process.env)) if (name.startsWith('AWS_')) delete process.env[name];
  Object.assign(process.env, env);
  try {
    return await fn();
  } finally {
    for (const name of Object.keys(process.env)) if (!(name in previous)) delete process.env[name];
    Object.assign(process.env, previous);
  }
}

/**
 * (a) a new firing delivery, (b) the same delivery again, (d) the escalate request (a) put on the bus
 * (the first page), then (c) the delivery that resolves it: run after (d), since a resolved incident
 * is not paged. Each container is warmed first with a delivery (and its escalation) of another alert,
 * so the figures are a warm container's; the warm-ups are reported too, as a cold container's.
 */
/** Issue 9's targets: sequential calls on the critical path. */
export const CRITICAL_PATH_TARGETS: Readonly<Record<string, number>> = { a: 5, d: 7 };
const ORDER = ['a', 'b', 'c', 'd', 'a-cold', 'd-cold'];

export async function benchAwsCalls(bundles: { ingest: string; escalate: string }) {
  const recorder = await startAwsRecorder({
    callers: { AKIDINGEST: 'ingest', AKIDESCALATE: 'escalate', AKIDSETUP: 'setup' },
    secrets: {
      [WEBHOOK_SECRET_ARN]: {
        arn: WEBHOOK_SECRET_ARN,
        value: JSON.stringify({ token: TOKEN, username: 'alertmanager' }),
      },
      [ACK_SECRET_ARN]: { arn: ACK_SECRET_ARN, value: JSON.stringify({ key: 'k'.repeat(64) }) },
    },
    hashKeys: { '': STATE_TABLE_KEYS.partitionKey, [STATE_TABLE_KEYS.index]: 'gsi1pk' },
    invoke: async () => ({ payload: '{"errorMessage":"the bench invokes no function"}', failed: true }),
  });
  const proxy = await startTimingProxy(recorder.url);
  try {
    const setup = new DynamoDBClient({
      region: REGION,
      endpoint: recorder.url,
      credentials: { accessKeyId: 'AKIDSETUP', secretAccessKey: 'bench' },
    });
    await ensureStateTable(setup, TABLE);
    setup.destroy();

    const handlers: Record<'ingest' | 'escalate', Handler> = {
      ingest: await withEnv(
        environmentOf('ingest', proxy.url),
        async () => ((await import(pathToFileURL(bundles.ingest).href)) as { handler: Handler }).handler,
      ),
      escalate: await withEnv(
        environmentOf('escalate', proxy.url),
        async () => ((await import(pathToFileURL(bundles.escalate).href)) as { handler: Handler }).handler,
      ),
    };

    const results: ScenarioCalls[] = [];
    const run = async (
      scenario: string,
      description: string,
      name: 'ingest' | 'escalate',
      event: unknown,
    ) => {
      proxy.reset();
      const started = performance.now();
      const answer = await withEnv(environmentOf(name, proxy.url), () =>
        (handlers[name] as Handler)(event, context(name)),
      );
      const wallMs = performance.now() - started;
      const calls = proxy.take();
      const byService: Record<string, number> = Object.fromEntries(
        Object.values(SERVICES).map((service) => [service, 0]),
      );
      for (const call of calls) byService[call.service] = (byService[call.service] ?? 0) + 1;
      results.push({
        scenario,
        description,
        byService: byService as ScenarioCalls['byService'],
        total: calls.length,
        criticalPath: criticalPathLength(calls),
        targetCriticalPath: CRITICAL_PATH_TARGETS[scenario],
        outcome: String(answer.statusCode ?? answer.status),
        wallMs: Number(wallMs.toFixed(1)),
        calls: calls.map((call) => ({
          service: call.service,
          action: call.action,
          item: call.item,
          startMs: Number(call.startMs.toFixed(2)),
          endMs: Number(call.endMs.toFixed(2)),
        })),
      });
      return answer;
    };
    /** The escalate request ingest put on the bus after the first `from` events. */
    const escalateRequestAfter = (from: number) => {
      const event = recorder.events
        .slice(from)
        .find((entry) => (JSON.parse(entry.Detail) as { kind?: string }).kind === 'escalate');
      if (!event) throw new Error('ingest put no escalate request on the bus');
      return { source: event.Source, 'detail-type': event.DetailType, detail: JSON.parse(event.Detail) };
    };

    const firing = JSON.parse(readFileSync(join(ROOT, 'events', 'firing.json'), 'utf8'));
    const resolved = JSON.parse(readFileSync(join(ROOT, 'events', 'resolved.json'), 'utf8'));
    const warmUp = structuredClone(firing);
    warmUp.groupKey = '{}:{alertname="PostgresBenchWarmUp"}';
    warmUp.commonLabels.alertname = 'PostgresBenchWarmUp';
    warmUp.groupLabels = { alertname: 'PostgresBenchWarmUp' };
    warmUp.alerts[0].labels.alertname = 'PostgresBenchWarmUp';
    warmUp.alerts[0].fingerprint = 'benchwarmup0001';

    await run('a-cold', 'new delivery, cold', 'ingest', webhookEvent(warmUp));
    await run('d-cold', 'first page, cold', 'escalate', escalateRequestAfter(0));
    const beforeA = recorder.events.length;
    await run('a', 'new delivery', 'ingest', webhookEvent(firing));
    await run('b', 'duplicate delivery', 'ingest', webhookEvent(firing));
    await run('d', 'first page', 'escalate', escalateRequestAfter(beforeA));
    await run('c', 'resolution', 'ingest', webhookEvent(resolved));
    return {
      method:
        'each request the bundle sends to the loopback AWS endpoint (DynamoDB on dynalite), timed from its arrival to its answer; critical path = longest chain of calls each starting after the previous ended',
      scenarios: results.sort((x, y) => ORDER.indexOf(x.scenario) - ORDER.indexOf(y.scenario)),
    };
  } finally {
    await proxy.stop();
    await recorder.stop();
  }
}
