import { IdempotencyAlreadyInProgressError } from '@aws-lambda-powertools/idempotency';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ActionOutcome, recordRequestOnly, runActionRequest } from '../src/actions/run-action.ts';
import { dynamoDbActionIdempotency } from '../src/adapters/dynamodb-action-idempotency.ts';
import { type ActionRequest, actionRequestSchema } from '../src/domain/actions.ts';
import { LOCAL_TABLE_NAME, scheduledRequest } from '../src/local/runtime.ts';
import { silentLog, systemClock } from '../src/ports.ts';
import { startTestRuntime, type TestRuntime, testConfig } from './support/runtime.ts';

let counter = 0;
const request = (overrides: Partial<ActionRequest> = {}): ActionRequest =>
  actionRequestSchema.parse({
    actionId: `test-action-${Date.now()}-${counter++}`,
    kind: 'failover',
    trigger: 'alert',
    requestedAt: new Date().toISOString(),
    dryRun: false,
    incidentId: '20261123-0a0b0c0d',
    ...overrides,
  });

describe('Function: runActionRequest', () => {
  let t: TestRuntime;
  let performed: ActionRequest[];
  const perform = async (r: ActionRequest): Promise<ActionOutcome> => {
    performed.push(r);
    return { status: 'completed', summary: `did ${r.kind}` };
  };
  beforeAll(async () => {
    t = await startTestRuntime();
  });
  afterAll(async () => {
    await t.stop();
  });
  beforeEach(async () => {
    performed = [];
    await t.runtime.store.setAutomationFlag({ enabled: true });
  });
  const deps = (config = testConfig()) => ({
    config,
    incidents: t.runtime.store,
    audit: t.runtime.store,
    automation: t.runtime.store,
    idempotency: t.runtime.idempotency,
    clock: systemClock,
    log: silentLog,
  });

  it('a failed failover whose page cannot be requested (no bus, as in the DR stack) is not run again by the retry', async () => {
    // GIVEN a failover that fails, and a dispatcher that refuses, as the DR stack's has no bus
    const r = request({ incidentId: undefined });
    let runs = 0;
    const failing = async (): Promise<ActionOutcome> => {
      runs += 1;
      return { status: 'failed', summary: 'Route 53 refused the change', subject: `dns-${r.actionId}` };
    };
    const noBus = {
      dispatch: async () => {
        throw new Error('EVENT_BUS_NAME is not set for this function: it cannot request actions');
      },
    };
    // WHEN Lambda delivers it, and retries as it would after an error
    const first = await runActionRequest('failover', r, failing, { ...deps(), dispatcher: noBus });
    const retry = await runActionRequest('failover', r, failing, { ...deps(), dispatcher: noBus });
    // THEN it ran once, reported its failure, and said that its page could not be requested
    expect(runs).toBe(1);
    expect(first).toMatchObject({ status: 'done', outcome: { status: 'failed' } });
    expect(retry).toEqual(first);
    const system = await t.runtime.store.listSystemAudit(new Date().toISOString().slice(0, 10));
    const types = system.filter((entry) => entry.data?.actionId === r.actionId).map((entry) => entry.type);
    expect(types).toEqual(['action.received', 'action.failed', 'action.outcome-unrecorded']);
  });

  it('runs a request once however often EventBridge delivers it', async () => {
    // GIVEN
    const r = request();
    // WHEN three deliveries arrive at once, and one more later
    const results = await Promise.allSettled(
      [1, 2, 3].map(() => runActionRequest('failover', r, perform, deps())),
    );
    const late = await runActionRequest('failover', r, perform, deps());
    // THEN it ran once; the later delivery gets its stored result, and one that arrived while it ran
    // either that result or an "in progress" error, which the platform retries
    expect(performed).toHaveLength(1);
    const stored = { status: 'done', outcome: { status: 'completed', summary: 'did failover' } };
    expect(late).toEqual(stored);
    const fulfilled = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const rejected = results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
    expect(fulfilled.length).toBeGreaterThanOrEqual(1);
    for (const value of fulfilled) expect(value).toEqual(stored);
    for (const reason of rejected) expect(reason).toBeInstanceOf(IdempotencyAlreadyInProgressError);
    const trail = await t.runtime.store.listAudit('20261123-0a0b0c0d');
    expect(trail.filter((entry) => entry.data?.actionId === r.actionId).map((entry) => entry.type)).toEqual([
      'action.received',
      'action.completed',
    ]);
  });

  it('skips remediation while the runtime kill switch is off, even if ingest requested it earlier', async () => {
    await t.runtime.store.setAutomationFlag({ enabled: false, reason: 'test' });
    const r = request();
    const result = await runActionRequest('failover', r, perform, deps());
    expect(result).toEqual({ status: 'skipped', reason: 'automation disabled' });
    expect(performed).toEqual([]);
    // a skipped request is finished: a redelivery gets the skip, and does not run it later
    await t.runtime.store.setAutomationFlag({ enabled: true });
    expect(await runActionRequest('failover', r, perform, deps())).toEqual(result);
    expect(performed).toEqual([]);
  });

  it('skips remediation when the config disables automation, but still pages', async () => {
    const config = testConfig({ safety: { automationEnabled: false } });
    const skipped = await runActionRequest('backup', request({ kind: 'backup' }), perform, deps(config));
    const paged = await runActionRequest('escalate', request({ kind: 'escalate' }), perform, deps(config));
    expect(skipped.status).toBe('skipped');
    expect(paged.status).toBe('done');
    expect(performed.map((r) => r.kind)).toEqual(['escalate']);
  });

  it('gives the claim back when the action fails, so the retry runs it', async () => {
    const r = request();
    let attempts = 0;
    const flaky = async (req: ActionRequest): Promise<ActionOutcome> => {
      attempts += 1;
      if (attempts === 1) throw new Error('Route 53 throttled');
      return perform(req);
    };
    await expect(runActionRequest('failover', r, flaky, deps())).rejects.toThrow(/throttled/);
    const retried = await runActionRequest('failover', r, flaky, deps());
    expect(retried.status).toBe('done');
    expect(performed).toHaveLength(1);
    const types = (await t.runtime.store.listAudit('20261123-0a0b0c0d'))
      .filter((entry) => entry.data?.actionId === r.actionId)
      .map((entry) => entry.type);
    expect(types).toEqual(['action.received', 'action.failed', 'action.received', 'action.completed']);
  });

  it('a body that reads alongside action.received acts only once that entry is written: a failed write gives the request back', async () => {
    // GIVEN a body that reads first (as escalate does), and an audit trail that refuses one write
    const r = request({ kind: 'escalate' });
    let reads = 0;
    const readsFirst = Object.assign(
      async (req: ActionRequest, run?: { received: Promise<void> }): Promise<ActionOutcome> => {
        reads += 1;
        await run?.received;
        return perform(req);
      },
      { readsFirst: true } as const,
    );
    let refusals = 1;
    const audit = {
      ...t.runtime.store,
      appendAudit: async (...args: Parameters<typeof t.runtime.store.appendAudit>) => {
        if (args[0].type === 'action.received' && refusals-- > 0) throw new Error('DynamoDB throttled');
        return t.runtime.store.appendAudit(...args);
      },
    };
    // WHEN it runs, and the platform retries it
    await expect(runActionRequest('escalate', r, readsFirst, { ...deps(), audit })).rejects.toThrow(
      /throttled/,
    );
    const retried = await runActionRequest('escalate', r, readsFirst, { ...deps(), audit });
    // THEN the first run read and did nothing; the retry ran it, once, with its entries in order
    expect(reads).toBe(2);
    expect(performed).toHaveLength(1);
    expect(retried).toEqual({ status: 'done', outcome: { status: 'completed', summary: 'did escalate' } });
    const types = (await t.runtime.store.listAudit('20261123-0a0b0c0d'))
      .filter((entry) => entry.data?.actionId === r.actionId)
      .map((entry) => entry.type);
    expect(types).toEqual(['action.failed', 'action.received', 'action.completed']);
  });

  it('an action whose result cannot be stored is reported, and a redelivery does not run it again', async () => {
    // GIVEN a failover, and a state table that refuses to store its result once
    const r = request();
    const saveSuccess = vi
      .spyOn(t.runtime.idempotency.persistenceStore, 'saveSuccess')
      .mockRejectedValueOnce(new Error('DynamoDB throttled'));
    try {
      // WHEN it runs, and is delivered again
      const first = await runActionRequest('failover', r, perform, deps());
      const again = runActionRequest('failover', r, perform, deps());
      // THEN the first delivery reports what it did; the second finds it still in progress, and it ran once
      expect(first).toEqual({ status: 'done', outcome: { status: 'completed', summary: 'did failover' } });
      await expect(again).rejects.toBeInstanceOf(IdempotencyAlreadyInProgressError);
      expect(performed).toHaveLength(1);
      const types = (await t.runtime.store.listAudit('20261123-0a0b0c0d'))
        .filter((entry) => entry.data?.actionId === r.actionId)
        .map((entry) => entry.type);
      expect(types).toEqual(['action.received', 'action.completed', 'action.outcome-unrecorded']);
    } finally {
      saveSuccess.mockRestore();
    }
  });

  it("holds an action in progress only for the Lambda context's time left", async () => {
    // GIVEN an invocation with 1 ms left, whose result cannot be stored, so its record stays in progress
    const client = new DynamoDBClient({
      endpoint: t.runtime.endpoints.dynamodb,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const idempotency = dynamoDbActionIdempotency({ client, tableName: LOCAL_TABLE_NAME });
    idempotency.config.registerLambdaContext({ getRemainingTimeInMillis: () => 1 } as Context);
    vi.spyOn(idempotency.persistenceStore, 'saveSuccess').mockRejectedValueOnce(
      new Error('DynamoDB throttled'),
    );
    const r = request();
    try {
      // WHEN it runs, and is delivered again after that time
      await runActionRequest('failover', r, perform, { ...deps(), idempotency });
      const again = await runActionRequest('failover', r, perform, { ...deps(), idempotency });
      // THEN the redelivery was not held off for a fixed lease: the platform's retry after a timeout runs it
      expect(again.status).toBe('done');
      expect(performed).toHaveLength(2);
    } finally {
      client.destroy();
    }
  });

  it('refuses a request routed to the wrong function', async () => {
    await expect(runActionRequest('backup', request({ kind: 'failover' }), perform, deps())).rejects.toThrow(
      /the backup function received a failover request/,
    );
  });

  it('the placeholder bodies record the request and say what they did not do', async () => {
    const outcome = await recordRequestOnly('rotate')(request({ kind: 'rotate', dryRun: true }));
    expect(outcome).toMatchObject({ status: 'recorded' });
    expect(outcome.summary).toBe(
      'rotate request recorded (dry run); this release does not carry out rotate actions yet',
    );
  });

  it('a scheduled request has an id derived from its time, so a repeated firing is a duplicate', async () => {
    const at = new Date('2026-11-23T03:00:00Z');
    const first = scheduledRequest('probe', at, false);
    expect(first).toMatchObject({ actionId: 'schedule-probe-2026-11-23T03:00:00.000Z', trigger: 'schedule' });
    const ran = await runActionRequest('probe', first, perform, deps());
    expect(ran.status).toBe('done');
    expect(await runActionRequest('probe', scheduledRequest('probe', at, false), perform, deps())).toEqual(
      ran,
    );
    expect(performed).toHaveLength(1);
  });
});

describe('Failed remediations page by their kind', () => {
  let t: TestRuntime;
  const dispatched: ActionRequest[] = [];
  beforeAll(async () => {
    t = await startTestRuntime();
  });
  afterAll(async () => {
    await t.stop();
  });
  const deps = () => ({
    config: testConfig({ severity: { actionFailures: { backup: 'P2', failover: 'P1' } } }),
    incidents: t.runtime.store,
    audit: t.runtime.store,
    automation: t.runtime.store,
    idempotency: t.runtime.idempotency,
    clock: systemClock,
    log: silentLog,
    dispatcher: {
      async dispatch(requests: readonly ActionRequest[]) {
        dispatched.push(...requests);
      },
    },
  });
  const outcome = (status: ActionOutcome['status'], summary: string) => async (): Promise<ActionOutcome> => ({
    status,
    summary,
  });

  it('a failed backup opens a P2 incident and asks for a page; the next success resolves it', async () => {
    const backup = (id: string) =>
      request({ actionId: id, kind: 'backup', incidentId: undefined, params: { database: 'payments' } });
    // WHEN a backup fails twice and then succeeds
    await runActionRequest(
      'backup',
      backup('backup-1'),
      outcome('failed', 'pg_dump: connection refused'),
      deps(),
    );
    await runActionRequest(
      'backup',
      backup('backup-2'),
      outcome('failed', 'pg_dump: connection refused'),
      deps(),
    );
    const open = (await t.runtime.store.listIncidents({ limit: 10, status: 'open' })).incidents;
    // THEN one incident, at the configured severity, with an escalation per failure (the escalation dedupes)
    expect(open).toEqual([
      expect.objectContaining({
        severity: 'P2',
        title: 'backup of payments failed: pg_dump: connection refused',
        labels: expect.objectContaining({ alertname: 'BackupFailed', subject: 'payments' }),
      }),
    ]);
    expect(dispatched.map((r) => [r.kind, r.incidentId])).toEqual([
      ['escalate', open[0]?.id],
      ['escalate', open[0]?.id],
    ]);
    await runActionRequest('backup', backup('backup-3'), outcome('completed', 'dumped 12 MB'), deps());
    expect((await t.runtime.store.getIncident(open[0]?.id ?? ''))?.status).toBe('resolved');
    expect(dispatched).toHaveLength(3);
    // a success with nothing open opens nothing; dry runs and recorded placeholders never page
    await runActionRequest('backup', backup('backup-4'), outcome('completed', 'dumped 12 MB'), deps());
    await runActionRequest(
      'failover',
      request({ kind: 'failover', dryRun: true, incidentId: undefined }),
      outcome('failed', 'would fail'),
      deps(),
    );
    expect(dispatched).toHaveLength(3);
  });
});
