import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PublishCommand, type PublishCommandInput, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import dynalite from 'dynalite';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEscalateAction } from '../functions/escalate/escalate-incident.ts';
import { approvalPager } from '../functions/failover/approval-page.ts';
import { createFailoverAction } from '../functions/failover/failover-dns.ts';
import type { ActionEnvironment } from '../src/actions/environment.ts';
import { type ActionResult, runActionRequest } from '../src/actions/run-action.ts';
import { dynamoDbActionIdempotency } from '../src/adapters/dynamodb-action-idempotency.ts';
import { DynamoDbFailoverStore } from '../src/adapters/dynamodb-failover-store.ts';
import { dynamoDbStateStore, ensureStateTable } from '../src/adapters/dynamodb-state-store.ts';
import { SnsPager } from '../src/adapters/sns-pager.ts';
import { StateTable } from '../src/adapters/state-table.ts';
import { type ActionRequest, actionRequestSchema } from '../src/domain/actions.ts';
import type { ProbeResult } from '../src/domain/probes.ts';
import { verifyApproveToken } from '../src/escalation/approve-link.ts';
import { Escalator } from '../src/escalation/escalator.ts';
import { type ActionDispatcher, noProbeMetrics, type StateStore, silentLog } from '../src/ports.ts';
import { failoverConfigInput } from './support/failover.ts';
import { testConfig } from './support/runtime.ts';

const ACK_KEY = 'k'.repeat(48);
const ON_CALL = 'arn:aws:sns:eu-west-1:123456789012:responder-on-call';
const TOPICS = Object.fromEntries(
  ['on-call', 'team-lead', 'cto', 'security', 'dba'].map((name) => [
    name,
    `arn:aws:sns:eu-west-1:123456789012:responder-${name}`,
  ]),
);
const config = testConfig(
  failoverConfigInput(
    { primary: 'http://127.0.0.1:9/health', dr: 'http://127.0.0.1:9/health' },
    { policy: { alert: 'approve', operator: 'auto' }, cooldownMinutes: 0 },
  ),
);
const clock = { now: () => new Date() };
const sns = mockClient(SNSClient);

/** The primary targets fail and the DR targets pass: every gate of a move to the DR site passes. */
const probe = async (names: readonly string[]): Promise<ProbeResult[]> =>
  names.map((target) => ({
    target,
    kind: 'http',
    ok: target.startsWith('dr-'),
    latencyMs: 1,
    detail: target.startsWith('dr-') ? 'HTTP 200' : 'HTTP 503',
    observed: {},
    at: new Date().toISOString(),
  }));

let server: ReturnType<typeof dynalite>;
let client: DynamoDBClient;
let tables = 0;

beforeAll(async () => {
  server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  client = new DynamoDBClient({
    region: 'eu-west-1',
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
});
afterAll(async () => {
  sns.restore();
  client?.destroy();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
});

/** One region's environment over its own state table; the primary's pages through the SNS mock. */
async function region(name: 'dr' | 'primary', dispatcher: ActionDispatcher) {
  const tableName = `responder-${name}-state-${++tables}`;
  await ensureStateTable(client, tableName);
  const store = dynamoDbStateStore({ client, tableName });
  const env: ActionEnvironment = {
    config,
    incidents: store,
    audit: store,
    automation: store,
    targetHealth: store,
    idempotency: dynamoDbActionIdempotency({ client, tableName }),
    secrets: { getSecretString: async () => '' },
    dispatcher,
    clock,
    log: silentLog,
    metrics: noProbeMetrics,
    escalator:
      name === 'primary'
        ? new Escalator({
            config,
            incidents: store,
            escalations: store,
            audit: store,
            floodLimits: store,
            clock,
            log: silentLog,
            pager: new SnsPager({ client: new SNSClient({ region: 'eu-west-1' }), topicArns: TOPICS }),
            links: { publicUrl: 'https://api.example.com', ackKey: async () => ACK_KEY },
          })
        : undefined,
  };
  return { store, env, table: new StateTable({ client, tableName }) };
}

const noBus: ActionDispatcher = {
  async dispatch() {
    throw new Error('the primary region has no bus of its own here');
  },
};

/**
 * The two regions as deployed: the DR failover function over the DR table, whose requests cross (as
 * JSON, like EventBridge) to the primary region's escalate function over the primary table.
 */
async function regions() {
  const primary = await region('primary', noBus);
  const escalate = createEscalateAction(primary.env);
  const crossed: ActionRequest[] = [];
  const deliver = (request: ActionRequest) =>
    runActionRequest('escalate', actionRequestSchema.parse(JSON.parse(JSON.stringify(request))), escalate, {
      ...primary.env,
    });
  const delivered: ActionResult[] = [];
  const primaryBus: ActionDispatcher = {
    carriesIncidents: true,
    async dispatch(requests) {
      for (const request of requests) {
        crossed.push(request);
        delivered.push(await deliver(request));
      }
    },
  };
  const dr = await region('dr', primaryBus);
  const failover = createFailoverAction({
    config,
    store: new DynamoDbFailoverStore(dr.table),
    probe,
    // The record never answers the DR value: a move is made but not verified.
    resolve: async () => ['127.0.0.1'],
    verifyTimeoutMs: 0,
    sleep: async () => {},
    audit: dr.store,
    clock,
    log: silentLog,
    requestApproval: approvalPager(dr.env),
  });
  const runFailover = (params: Record<string, unknown>, trigger: 'alert' | 'operator') =>
    runActionRequest(
      'failover',
      actionRequestSchema.parse({
        actionId: `${trigger}-failover-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
        kind: 'failover',
        trigger,
        requestedAt: new Date().toISOString(),
        dryRun: false,
        params,
      }),
      failover,
      dr.env,
    );
  return { primary, dr, crossed, delivered, deliver, runFailover };
}

const openIncidents = async (store: StateStore) =>
  (await store.listIncidents({ limit: 50, status: 'open' })).incidents;
const pages = (): PublishCommandInput[] => sns.commandCalls(PublishCommand).map((call) => call.args[0].input);

describe('Failover in AWS: the DR region pages through the primary region, over two state tables', () => {
  let sequence = 0;
  beforeEach(() => {
    sns.reset();
    sns.on(PublishCommand).callsFake(async () => ({ MessageId: `m-${++sequence}` }));
  });

  it('an approval asked for in the DR region is recorded in the primary table and pages on-call there', async () => {
    // GIVEN the two regions, each with its own table
    const { primary, dr, crossed, delivered, runFailover } = await regions();

    // WHEN an alert asks the DR failover function to fail over (policy.alert: approve)
    const asked = await runFailover({ to: 'dr' }, 'alert');

    // THEN the DR function waits for approval, with its incident in the DR table
    expect(asked).toMatchObject({ status: 'done', outcome: { status: 'recorded' } });
    const requestId = asked.status === 'done' ? (asked.outcome.data?.approval as string) : '';
    const [drIncident] = await openIncidents(dr.store);
    expect(drIncident).toMatchObject({ severity: 'P1', labels: { alertname: 'FailoverApproval' } });
    // and the escalate request that crossed carries the incident, not the DR table's id
    expect(crossed).toHaveLength(1);
    expect(crossed[0]?.incidentId).toBeUndefined();
    expect(crossed[0]?.params.incident).toMatchObject({
      status: 'firing',
      severity: 'P1',
      groupKey: 'action:failover:approval',
      auditData: { originIncidentId: drIncident?.id, requestId },
    });
    // and the primary region recorded its own incident and paged on-call for it
    expect(delivered[0]).toMatchObject({ status: 'done', outcome: { status: 'completed' } });
    const [incident, ...others] = await openIncidents(primary.store);
    expect(others).toEqual([]);
    expect(incident).toMatchObject({ severity: 'P1', labels: { alertname: 'FailoverApproval', to: 'dr' } });
    expect(incident?.annotations.summary).toContain(`responder failover approve ${requestId}`);
    expect(pages()).toHaveLength(1);
    const page = pages()[0];
    expect(page).toMatchObject({
      TopicArn: ON_CALL,
      MessageStructure: 'json',
      MessageAttributes: expect.objectContaining({
        severity: { DataType: 'String', StringValue: 'P1' },
        incident_id: { DataType: 'String', StringValue: incident?.id },
      }),
    });
    const email = JSON.parse(page?.Message ?? '{}').email as string;
    expect(email).toContain(`responder failover approve ${requestId}`);
    // with the approve link signed here, in the primary region, with the ack-link key
    const token = /Or approve in a browser: https:\/\/api\.example\.com\/approve\/(\S+) \(until /.exec(
      email,
    )?.[1];
    expect(verifyApproveToken(ACK_KEY, token ?? '', new Date())).toMatchObject({
      ok: true,
      token: { requestId },
    });
    expect(await primary.store.getEscalation(incident?.id ?? '')).toMatchObject({
      sent: [expect.objectContaining({ event: 'page', tier: 'on-call', topic: 'on-call' })],
    });
  });

  it('a duplicate delivery opens no second incident and pages no one twice, also past its idempotency record', async () => {
    // GIVEN an approval already paged in the primary region
    const { primary, crossed, deliver, runFailover } = await regions();
    await runFailover({ to: 'dr' }, 'alert');
    const request = crossed[0] as ActionRequest;
    expect(pages()).toHaveLength(1);
    const [first] = await openIncidents(primary.store);

    // WHEN EventBridge delivers the same request again, and once more under another action id (an
    // idempotency record gone, or a second sender)
    const again = await deliver(request);
    const copy = await deliver({ ...request, actionId: `${request.actionId}-copy` });

    // THEN one incident, one page
    expect(again.status).toBe('done');
    expect(copy).toMatchObject({ status: 'done', outcome: { status: 'completed' } });
    expect(copy.status === 'done' && copy.outcome.summary).toMatch(
      new RegExp(`^incident ${first?.id} recorded .*escalation paging: nothing due now$`),
    );
    expect((await openIncidents(primary.store)).map((incident) => incident.id)).toEqual([first?.id]);
    expect(pages()).toHaveLength(1);
  });

  it('a failover moved but not verified in the DR region pages FailoverFailed in the primary region', async () => {
    // GIVEN the two regions
    const { primary, runFailover } = await regions();

    // WHEN an operator fails over and the record never answers the DR value
    const result = await runFailover({ to: 'dr', by: 'alice' }, 'operator');

    // THEN the failure's incident is in the primary table, and paged
    expect(result).toMatchObject({ status: 'done', outcome: { status: 'failed' } });
    const [incident] = await openIncidents(primary.store);
    expect(incident).toMatchObject({
      severity: 'P1',
      labels: { alertname: 'FailoverFailed', kind: 'failover' },
    });
    expect(pages().map((page) => page.MessageAttributes?.incident_id?.StringValue)).toEqual([incident?.id]);
  });

  it.each([
    ['not an object', 'approve me', /incident: Invalid input: expected object, received string/],
    [
      'too many labels',
      { labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`l${i}`, 'v'])) },
      /labels: expected at most 64 labels/,
    ],
    ['an over-long title', { title: 'x'.repeat(1025) }, /title: expected at most 1024 characters/],
    ['a severity that is none', { severity: 'P0' }, /severity: expected one of P1, P2, P3, P4/],
    ['a label that is not text', { labels: { alertname: 7 } }, /labels\.alertname: expected a string/],
  ])(
    'refuses a carried incident with %s: recorded as failed, nothing recorded or paged',
    async (_, bad, problem) => {
      // GIVEN the primary region and a valid carried incident, spoiled
      const { primary, crossed, deliver, runFailover } = await regions();
      await runFailover({ to: 'dr' }, 'alert');
      sns.resetHistory();
      const valid = crossed[0] as ActionRequest;
      const incident =
        typeof bad === 'string'
          ? bad
          : { ...(valid.params.incident as object), groupKey: `spoiled-${Math.random()}`, ...bad };
      const before = await openIncidents(primary.store);

      // WHEN it arrives
      const result = await deliver({
        ...valid,
        actionId: `${valid.actionId}-bad`,
        params: { ...valid.params, incident },
      });

      // THEN it is refused, saying why, and nothing is written or sent
      expect(result).toMatchObject({ status: 'done', outcome: { status: 'failed' } });
      const summary = result.status === 'done' ? result.outcome.summary : '';
      expect(summary).toMatch(/^refused: the incident this request carries is not valid/);
      expect(summary).toMatch(problem);
      expect(await openIncidents(primary.store)).toEqual(before);
      expect(pages()).toEqual([]);
    },
  );

  it("refuses a carried incident of another group (a probe's): it could resolve or page over it", async () => {
    const { primary, crossed, deliver, runFailover } = await regions();
    await runFailover({ to: 'dr' }, 'alert');
    sns.resetHistory();
    const valid = crossed[0] as ActionRequest;
    const before = await openIncidents(primary.store);
    const result = await deliver({
      ...valid,
      actionId: `${valid.actionId}-other-group`,
      params: {
        ...valid.params,
        incident: { ...(valid.params.incident as object), groupKey: 'probe:payments-db', status: 'resolved' },
      },
    });
    expect(result).toMatchObject({ status: 'done', outcome: { status: 'failed' } });
    const summary = result.status === 'done' ? result.outcome.summary : '';
    expect(summary).toMatch(/^refused: a carried incident must be one of the failover's/);
    expect(await openIncidents(primary.store)).toEqual(before);
    expect(pages()).toEqual([]);
  });
});
