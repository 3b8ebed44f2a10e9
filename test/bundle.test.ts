import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { esbuildOptions } from '../lib/bundling.ts';
import { loadEvent, startTestRuntime, type TestRuntime, testConfig } from './support/runtime.ts';

const ROOT = join(import.meta.dirname, '..');
const TOKEN = 'bundle-test-token-0123456789';

type Handler = (event: unknown, context: Context) => Promise<Record<string, unknown>>;

/**
 * Loopback stand-ins for the two AWS APIs that have no local implementation here, speaking their
 * JSON wire protocols so the bundled SDK clients are exercised for real.
 */
function fakeAws(secretString: string) {
  const events: Array<{ DetailType: string; Detail: string; EventBusName: string }> = [];
  const published: URLSearchParams[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const target = String(req.headers['x-amz-target']);
      if (body.startsWith('Action=Publish&')) {
        // SNS speaks the query protocol: a form in, XML out.
        published.push(new URLSearchParams(body));
        res.setHeader('content-type', 'text/xml');
        res.end(
          `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>sns-${published.length}</MessageId></PublishResult><ResponseMetadata><RequestId>r-${published.length}</RequestId></ResponseMetadata></PublishResponse>`,
        );
        return;
      }
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      if (target === 'secretsmanager.GetSecretValue') {
        const { SecretId } = JSON.parse(body) as { SecretId: string };
        res.end(
          JSON.stringify({
            ARN: SecretId,
            Name: SecretId.includes('ack') ? 'responder-ack' : 'responder-webhook',
            SecretString: SecretId.includes('ack') ? JSON.stringify({ key: 'a'.repeat(64) }) : secretString,
            VersionId: 'v1',
          }),
        );
      } else if (target === 'AWSEvents.PutEvents') {
        const { Entries } = JSON.parse(body) as { Entries: typeof events };
        events.push(...Entries);
        res.end(
          JSON.stringify({ FailedEntryCount: 0, Entries: Entries.map((_, i) => ({ EventId: `e-${i}` })) }),
        );
      } else {
        res.statusCode = 400;
        res.end(JSON.stringify({ __type: 'UnknownOperationException', message: target }));
      }
    });
  });
  return { server, events, published };
}

const context = (name: string) =>
  ({
    functionName: `responder-${name}`,
    functionVersion: '$LATEST',
    awsRequestId: `request-${name}`,
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:responder-${name}`,
    memoryLimitInMB: '512',
    getRemainingTimeInMillis: () => 10_000,
  }) as unknown as Context;

function apiEvent(method: string, path: string, body?: string): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: '',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    requestContext: { http: { method, path }, requestId: 'r-1' },
    body: body ? Buffer.from(body).toString('base64') : undefined,
    isBase64Encoded: Boolean(body),
  } as unknown as APIGatewayProxyEventV2;
}

// The Lambda bundles as the stacks build them, run in this process against dynalite and loopback fakes:
// a bundle that cannot start (ESM require shim, config define, env) fails here rather than in AWS.
describe('Lambda bundles', () => {
  let t: TestRuntime;
  let out: string;
  let fake: ReturnType<typeof fakeAws>;
  const handlers: Record<string, Handler> = {};

  beforeAll(async () => {
    t = await startTestRuntime();
    fake = fakeAws(JSON.stringify({ token: TOKEN, username: 'alertmanager' }));
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    const fakeUrl = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    Object.assign(process.env, {
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_ENDPOINT_URL_DYNAMODB: t.runtime.endpoints.dynamodb,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: fakeUrl,
      AWS_ENDPOINT_URL_EVENTBRIDGE: fakeUrl,
      AWS_ENDPOINT_URL_SNS: fakeUrl,
      ESCALATION_TOPICS: JSON.stringify({
        'on-call': 'arn:aws:sns:eu-west-1:123456789012:responder-on-call',
      }),
      ACK_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:responder-ack-AbCdEf',
      PUBLIC_URL: 'https://api.example.com',
      STATE_TABLE_NAME: 'responder-state',
      EVENT_BUS_NAME: 'responder-bus',
      WEBHOOK_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:responder-webhook-AbCdEf',
      POWERTOOLS_TRACE_ENABLED: 'false',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    out = await mkdtemp(join(tmpdir(), 'responder-bundles-'));
    for (const name of ['ingest', 'api', 'probe', 'failover', 'escalate']) {
      const file = join(out, name, 'index.mjs');
      await build({
        ...esbuildOptions(join(ROOT, 'functions', name, 'handler.ts'), testConfig()),
        outfile: file,
      });
      handlers[name] = ((await import(pathToFileURL(file).href)) as { handler: Handler }).handler;
    }
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => fake.server.close(() => resolve()));
    await t.stop();
    await rm(out, { recursive: true, force: true });
  });

  it('ingest accepts an Alertmanager delivery and puts one event per routed action on the bus', async () => {
    const body = JSON.stringify(loadEvent('firing.json'));
    const response = await handlers.ingest?.(apiEvent('POST', '/alertmanager', body), context('ingest'));
    expect(response?.statusCode).toBe(202);
    expect(
      fake.events.map((event) => [event.EventBusName, event.DetailType, JSON.parse(event.Detail).kind]),
    ).toEqual([
      ['responder-bus', 'Action Requested', 'probe'],
      ['responder-bus', 'Action Requested', 'escalate'],
    ]);
    const again = await handlers.ingest?.(apiEvent('POST', '/alertmanager', body), context('ingest'));
    expect(again?.statusCode).toBe(200);
    expect(fake.events).toHaveLength(2);
  });

  it('the incident API bundle lists what ingest recorded, and refuses a wrong token', async () => {
    const response = await handlers.api?.(apiEvent('GET', '/api/incidents'), context('api'));
    expect(response?.statusCode).toBe(200);
    const incidents = JSON.parse(String(response?.body)).incidents as Array<{ severity: string }>;
    expect(incidents).toEqual([expect.objectContaining({ status: 'open', severity: 'P1' })]);
    const anonymous = apiEvent('GET', '/api/incidents');
    anonymous.headers.authorization = 'Bearer wrong';
    expect((await handlers.api?.(anonymous, context('api')))?.statusCode).toBe(401);
  });

  it('an action bundle takes the EventBridge event once, and a direct invoke payload too', async () => {
    const probeEvent = fake.events.find((event) => JSON.parse(event.Detail).kind === 'probe');
    const envelope = {
      'detail-type': probeEvent?.DetailType,
      source: 'responder',
      detail: JSON.parse(String(probeEvent?.Detail)),
    };
    const first = await handlers.probe?.(envelope, context('probe'));
    expect(first).toMatchObject({ status: 'done' });
    // The redelivery gets the first run's stored result, and probes nothing
    const eventsBefore = fake.events.length;
    expect(await handlers.probe?.(envelope, context('probe'))).toEqual(first);
    expect(fake.events).toHaveLength(eventsBefore);
    const direct = {
      actionId: 'manual-failover-bundle-test',
      kind: 'failover',
      trigger: 'operator',
      requestedAt: '2026-11-23T03:00:00Z',
      dryRun: true,
    };
    expect(await handlers.failover?.(direct, context('failover'))).toMatchObject({
      status: 'done',
      outcome: { status: 'recorded' },
    });
    expect(await handlers.failover?.({ kind: 'failover' }, context('failover'))).toEqual({
      status: 'skipped',
      reason: 'malformed request',
    });
  });

  it('the escalate bundle pages on-call through SNS, and the API bundle takes the acknowledgement', async () => {
    const escalateEvent = fake.events.find((event) => JSON.parse(event.Detail).kind === 'escalate');
    const detail = JSON.parse(String(escalateEvent?.Detail));
    expect(await handlers.escalate?.({ detail }, context('escalate'))).toMatchObject({ status: 'done' });
    expect(fake.published).toHaveLength(1);
    const publish = fake.published[0];
    expect(publish?.get('TopicArn')).toBe('arn:aws:sns:eu-west-1:123456789012:responder-on-call');
    expect(publish?.get('MessageStructure')).toBe('json');
    expect(publish?.get('Subject')).toMatch(/^\[P1\] payments-api: PostgresDown/);
    const sms = JSON.parse(publish?.get('Message') ?? '{}').sms as string;
    expect(sms).toMatch(/Ack: https:\/\/api\.example\.com\/ack\/\S+$/);
    const ack = await handlers.api?.(
      apiEvent('POST', `/api/incidents/${detail.incidentId}/ack`, JSON.stringify({ by: 'alice' })),
      context('api'),
    );
    expect(ack?.statusCode).toBe(200);
    // the acknowledgement notice went to on-call from the API function
    expect(fake.published.map((p) => p.get('MessageAttributes.entry.5.Value.StringValue'))).toEqual([
      'page',
      'acknowledged',
    ]);
  });
});

describe('Lambda bundles: what the functions validate at run time', () => {
  it.each([['escalate'], ['failover'], ['api']])(
    'the %s bundle checks what arrives with zod/mini: neither classic zod nor the config schema is in it',
    async (name) => {
      // GIVEN the bundle as the stack builds it
      const { metafile } = await build({
        ...esbuildOptions(join(ROOT, 'functions', name, 'handler.ts'), testConfig()),
        write: false,
        metafile: true,
        outfile: join(tmpdir(), `responder-${name}-inputs.mjs`),
      });

      // THEN the run-time checks (action requests, carried incidents, API bodies) are zod/mini's
      const inputs = Object.keys(metafile?.inputs ?? {});
      expect(inputs.some((input) => input.includes('zod/v4/mini'))).toBe(true);
      expect(inputs.filter((input) => /zod\/v4\/classic|src\/config\/schema\.ts/.test(input))).toEqual([]);
    },
  );
});
