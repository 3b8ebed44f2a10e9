import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handleAlertmanagerWebhook, type IngestDeps } from '../functions/ingest/ingest-alerts.ts';
import { dynamoDbStateStore } from '../src/adapters/dynamodb-state-store.ts';
import { staticCredentialSource } from '../src/adapters/secrets-manager-credentials.ts';
import type { ActionRequest } from '../src/domain/actions.ts';
import { compileRoutes } from '../src/domain/routing.ts';
import { DependencyUnavailableError, type StateStore, silentLog, systemClock } from '../src/ports.ts';
import { freePort } from './support/processes.ts';
import {
  auditOf,
  type Json,
  loadEvent,
  startTestRuntime,
  TEST_TOKEN,
  type TestRuntime,
  testConfig,
} from './support/runtime.ts';

const clone = <T>(value: T): T => structuredClone(value);

describe('POST /alertmanager', () => {
  const config = testConfig({ webhook: { maxBodyBytes: 4096 } });
  let t: TestRuntime;
  /** One runtime for a block whose tests all refuse and record nothing (each checks it), so cannot interfere. */
  const sharedRuntime = () => {
    beforeAll(async () => {
      t = await startTestRuntime({ config });
    });
    afterAll(async () => {
      await t.stop();
    });
  };
  /** A new runtime for each test of a block whose tests write. */
  const runtimePerTest = () => {
    beforeEach(async () => {
      t = await startTestRuntime({ config });
    });
    afterEach(async () => {
      await t.stop();
    });
  };
  /** For a test that writes inside a shared block: a runtime of its own. */
  const withOwnRuntime = async (test: () => Promise<void>) => {
    const shared = t;
    t = await startTestRuntime({ config });
    try {
      await test();
    } finally {
      await t.stop();
      t = shared;
    }
  };

  const incidents = async () =>
    (await t.get('/api/incidents')).body.incidents as Array<Record<string, unknown>>;

  describe('authentication', () => {
    sharedRuntime();
    it.each([
      ['no credential', {}],
      ['a wrong token', { authorization: 'Bearer not-the-token' }],
      ['a wrong scheme', { authorization: `Token ${TEST_TOKEN}` }],
      ['an empty bearer', { authorization: 'Bearer ' }],
      [
        'basic auth with a wrong password',
        { authorization: `Basic ${Buffer.from('alertmanager:nope').toString('base64')}` },
      ],
      [
        'basic auth with a wrong user',
        { authorization: `Basic ${Buffer.from(`mallory:${TEST_TOKEN}`).toString('base64')}` },
      ],
    ])('answers 401 to %s and records nothing', async (_name, headers) => {
      // WHEN
      const response = await fetch(t.runtime.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(loadEvent('firing.json')),
      });
      // THEN
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/Bearer/);
      expect(await incidents()).toEqual([]);
    });

    it('accepts basic auth, the other http_config mode', () =>
      withOwnRuntime(async () => {
        const basic = `Basic ${Buffer.from(`alertmanager:${TEST_TOKEN}`).toString('base64')}`;
        const response = await t.post('/alertmanager', loadEvent('firing.json'), { authorization: basic });
        expect(response.status).toBe(202);
        expect(await incidents()).toHaveLength(1);
      }));
  });

  describe('bad input is refused and changes nothing', () => {
    sharedRuntime();
    const firing = loadEvent('firing.json');
    // Loosely typed on purpose: each case breaks the payload in a way its type would forbid.
    const cases: Array<[string, (body: Json) => void]> = [
      ['version', (b) => delete b.version],
      ['version', (b) => (b.version = 4)],
      ['version', (b) => (b.version = '3')],
      ['groupKey', (b) => delete b.groupKey],
      ['groupKey', (b) => (b.groupKey = 17)],
      ['status', (b) => delete b.status],
      ['status', (b) => (b.status = 'burning')],
      ['receiver', (b) => delete b.receiver],
      ['groupLabels', (b) => delete b.groupLabels],
      ['commonLabels', (b) => (b.commonLabels = ['alertname'])],
      ['commonAnnotations', (b) => delete b.commonAnnotations],
      ['externalURL', (b) => delete b.externalURL],
      ['truncatedAlerts', (b) => (b.truncatedAlerts = -1)],
      ['alerts', (b) => delete b.alerts],
      ['alerts', (b) => (b.alerts = [])],
      ['alerts', (b) => (b.alerts = {})],
      ['alerts[0].status', (b) => delete b.alerts[0].status],
      ['alerts[0].labels', (b) => delete b.alerts[0].labels],
      [
        'alerts[0].labels.severity',
        (b) => {
          b.alerts[0].labels.severity = 1;
        },
      ],
      ['alerts[0].annotations', (b) => delete b.alerts[0].annotations],
      ['alerts[0].startsAt', (b) => delete b.alerts[0].startsAt],
      [
        'alerts[0].startsAt',
        (b) => {
          b.alerts[0].startsAt = 'yesterday';
        },
      ],
      ['alerts[0].endsAt', (b) => delete b.alerts[0].endsAt],
      ['alerts[0].fingerprint', (b) => delete b.alerts[0].fingerprint],
      [
        'alerts[0].fingerprint',
        (b) => {
          b.alerts[0].fingerprint = 42;
        },
      ],
    ];
    it.each(cases)('answers 400 naming %s', async (field, mutate) => {
      // GIVEN
      const body = clone(firing);
      mutate(body);
      // WHEN
      const response = await t.post('/alertmanager', body);
      // THEN
      expect(response.status).toBe(400);
      expect(response.body.error).toBe('invalid Alertmanager webhook payload');
      expect(response.body.details.join('\n')).toContain(`${field}:`);
      expect(await incidents()).toEqual([]);
    });

    it('answers 400 to a body that is not JSON', async () => {
      const response = await t.post('/alertmanager', '{"version": "4",');
      expect(response.status).toBe(400);
      expect(response.body.error).toBe('body is not valid JSON');
    });

    it('answers 413 above the body limit, before parsing', async () => {
      const body = clone(firing);
      (body.commonAnnotations as Record<string, string>).description = 'x'.repeat(5000);
      const response = await t.post('/alertmanager', body);
      expect(response.status).toBe(413);
      expect(response.body.error).toMatch(/4096-byte limit/);
      expect(await incidents()).toEqual([]);
    });

    it('checks the credential before the size: a large anonymous body gets 401', async () => {
      const response = await fetch(t.runtime.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: 'x'.repeat(50_000),
      });
      expect(response.status).toBe(401);
    });

    it.each([['text/plain'], ['application/x-www-form-urlencoded']])('answers 415 to %s', async (type) => {
      const response = await t.post('/alertmanager', JSON.stringify(firing), { 'content-type': type });
      expect(response.status).toBe(415);
      expect(await incidents()).toEqual([]);
    });

    it('accepts application/json with a charset', () =>
      withOwnRuntime(async () => {
        const response = await t.post('/alertmanager', JSON.stringify(firing), {
          'content-type': 'application/json; charset=utf-8',
        });
        expect(response.status).toBe(202);
      }));
  });

  describe('incidents', () => {
    runtimePerTest();
    it('opens one incident per group with severity from labels, and the resolved delivery resolves it', async () => {
      // WHEN
      const opened = await t.post('/alertmanager', loadEvent('firing.json'));
      const resolved = await t.post('/alertmanager', loadEvent('resolved.json'));
      // THEN
      expect(opened.status).toBe(202);
      expect(opened.body.incident).toMatchObject({ status: 'open', severity: 'P1' });
      expect(resolved.status).toBe(202);
      expect(resolved.body.incident).toEqual({ ...opened.body.incident, status: 'resolved' });
      const detail = (await t.get(`/api/incidents/${opened.body.incident.id}`)).body;
      expect(detail).toMatchObject({
        status: 'resolved',
        severity: 'P1',
        labels: { alertname: 'PostgresDown', service: 'payments-api' },
        alerts: { firing: 0, resolved: 1, truncated: 0 },
      });
      expect(detail.resolvedAt).toEqual(expect.any(String));
      expect(detail.audit.map((entry: { type: string }) => entry.type)).toEqual(
        expect.arrayContaining(['incident.opened', 'incident.resolved']),
      );
    });

    it('opens a new incident when a resolved group fires again', async () => {
      // GIVEN
      const first = await t.post('/alertmanager', loadEvent('firing.json'));
      await t.post('/alertmanager', loadEvent('resolved.json'));
      const again = loadEvent('firing.json');
      (again.alerts[0] as Record<string, string>).startsAt = '2026-11-23T05:00:00.000Z';
      // WHEN
      const second = await t.post('/alertmanager', again);
      // THEN
      expect(second.status).toBe(202);
      expect(second.body.incident.id).not.toBe(first.body.incident.id);
      const list = await incidents();
      expect(list.map((incident) => incident.status).sort()).toEqual(['open', 'resolved']);
    });

    it('keeps several alerts of a group in one incident and records truncation', async () => {
      const many = await t.post('/alertmanager', loadEvent('multiple-alerts.json'));
      const truncated = await t.post('/alertmanager', loadEvent('truncated-group.json'));
      expect(many.body.incident.severity).toBe('P3');
      const list = await incidents();
      expect(list).toHaveLength(2);
      const byId = Object.fromEntries(list.map((incident) => [incident.id, incident]));
      expect(byId[many.body.incident.id]).toMatchObject({ alerts: { firing: 3, resolved: 0, truncated: 0 } });
      expect(byId[truncated.body.incident.id]).toMatchObject({ alerts: { firing: 2, truncated: 6 } });
    });

    it('updates the open incident when the group changes, raising severity but never lowering it', async () => {
      // GIVEN a warning group
      const first = loadEvent('multiple-alerts.json');
      const opened = await t.post('/alertmanager', first);

      // WHEN one alert resolves and a critical one joins
      const update = clone(first);
      const [a0, a1] = update.alerts as Array<Record<string, unknown>>;
      if (!a0 || !a1) throw new Error('sample event changed');
      a0.status = 'resolved';
      a0.endsAt = '2026-11-23T03:20:00.000Z';
      a1.labels = { ...(a1.labels as object), severity: 'critical' };
      const updated = await t.post('/alertmanager', update);
      // THEN
      expect(updated.body.incident).toMatchObject({
        id: opened.body.incident.id,
        status: 'open',
        severity: 'P1',
      });
      const detail = (await t.get(`/api/incidents/${opened.body.incident.id}`)).body;
      expect(detail.alerts).toEqual({ firing: 2, resolved: 1, truncated: 0 });
      expect(detail.deliveries).toBe(2);
    });
  });

  describe('deduplication', () => {
    runtimePerTest();
    it('answers a repeated delivery 200 and changes nothing', async () => {
      const first = await t.post('/alertmanager', loadEvent('firing.json'));
      const second = await t.post('/alertmanager', loadEvent('firing.json'));
      expect(first.status).toBe(202);
      expect(second.status).toBe(200);
      expect(second.body.status).toBe('duplicate');
      await t.runtime.dispatcher.idle();
      const [incident] = await incidents();
      expect(incident?.deliveries).toBe(1);
      expect(await auditOf(t.runtime.store, first.body.incident.id, 'action.requested')).toHaveLength(2);
    });

    it('20 identical concurrent posts make one incident and one set of actions', async () => {
      // WHEN
      const responses = await Promise.all(
        Array.from({ length: 20 }, () => t.post('/alertmanager', loadEvent('firing.json'))),
      );
      await t.runtime.dispatcher.idle();
      // THEN
      const statuses = responses.map((response) => response.status).sort();
      expect(statuses.filter((status) => status === 202)).toHaveLength(1);
      // the others are duplicates, or (still in flight) told to retry: never processed twice
      expect(statuses.filter((status) => status === 200 || status === 503)).toHaveLength(19);
      const list = await incidents();
      expect(list).toHaveLength(1);
      const id = list[0]?.id as string;
      expect(await auditOf(t.runtime.store, id, 'incident.opened')).toHaveLength(1);
      const requested = await auditOf(t.runtime.store, id, 'action.requested');
      expect(requested.map((entry) => entry.data?.kind).sort()).toEqual(['escalate', 'probe']);
      // each action function ran exactly once
      expect(await auditOf(t.runtime.store, id, 'action.received')).toHaveLength(2);
      const finished = (await auditOf(t.runtime.store, id)).filter((entry) =>
        ['action.completed', 'action.recorded'].includes(entry.type),
      );
      expect(finished.map((entry) => entry.data?.kind).sort()).toEqual(['escalate', 'probe']);
    });
  });

  describe('routing', () => {
    runtimePerTest();
    it('runs remediation on firing only, and rules that opt in on resolved too', async () => {
      const firing = await t.post('/alertmanager', loadEvent('firing.json'));
      const resolved = await t.post('/alertmanager', loadEvent('resolved.json'));
      expect(firing.body.actions.map((a: { kind: string }) => a.kind)).toEqual(['probe', 'escalate']);
      // database-trouble acts on firing only and takes the alert (no continue): no remediation on
      // resolve, only the escalation policy's request that ends the escalation
      expect(resolved.body.actions).toEqual([
        expect.objectContaining({ kind: 'escalate', rule: 'escalation-policy' }),
      ]);
      // the catch-all page route opts in to resolved
      const multi = loadEvent('multiple-alerts.json');
      await t.post('/alertmanager', multi);
      const multiResolved = clone(multi);
      multiResolved.status = 'resolved';
      for (const alert of multiResolved.alerts) {
        alert.status = 'resolved';
        alert.endsAt = '2026-11-23T04:00:00.000Z';
      }
      const answer = await t.post('/alertmanager', multiResolved);
      expect(answer.body.actions).toEqual([expect.objectContaining({ kind: 'escalate', rule: 'page' })]);
    });
  });
});

describe('safety', () => {
  const primaryDown = () => {
    const event = loadEvent('firing.json');
    const labels = { ...(event.commonLabels as Record<string, string>), alertname: 'PrimarySiteDown' };
    event.commonLabels = labels;
    event.groupKey = '{}:{alertname="PrimarySiteDown"}';
    (event.alerts[0] as Record<string, unknown>).labels = labels;
    return event;
  };

  it('the kill switch in the config turns remediation into a recorded skip, and still pages', async () => {
    // GIVEN
    const t = await startTestRuntime({ config: testConfig({ safety: { automationEnabled: false } }) });
    try {
      // WHEN
      const response = await t.post('/alertmanager', primaryDown());
      await t.runtime.dispatcher.idle();
      // THEN
      expect(response.status).toBe(202);
      expect(response.body.actions).toEqual([
        expect.objectContaining({ kind: 'failover', skipped: 'automation disabled' }),
        expect.objectContaining({ kind: 'escalate' }),
      ]);
      const id = response.body.incident.id;
      const skipped = await auditOf(t.runtime.store, id, 'action.skipped');
      expect(skipped.map((entry) => entry.message)).toEqual([
        'skipped: automation disabled (failover from rule primary-site-down)',
      ]);
      const received = await auditOf(t.runtime.store, id, 'action.received');
      expect(received.map((entry) => entry.data?.kind)).toEqual(['escalate']);
    } finally {
      await t.stop();
    }
  });

  it('the runtime flag does the same, and turning it back on restores remediation', async () => {
    const t = await startTestRuntime();
    try {
      // GIVEN
      const off = await fetch(`${t.runtime.url}/api/automation`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ enabled: false, reason: 'database migration in progress' }),
      });
      expect(off.status).toBe(200);
      expect(((await off.json()) as Json).effective).toBe(false);
      // WHEN
      const skipped = await t.post('/alertmanager', primaryDown());
      await t.runtime.store.setAutomationFlag({ enabled: true });
      const later = primaryDown();
      (later.alerts[0] as Record<string, string>).startsAt = '2026-11-23T06:00:00.000Z';
      const ran = await t.post('/alertmanager', later);
      await t.runtime.dispatcher.idle();
      // THEN
      expect(skipped.body.actions[0]).toMatchObject({ kind: 'failover', skipped: 'automation disabled' });
      expect(ran.body.actions[0]).toMatchObject({ kind: 'failover' });
      expect(ran.body.actions[0].skipped).toBeUndefined();
      const received = await auditOf(t.runtime.store, ran.body.incident.id, 'action.received');
      expect(received.map((entry) => entry.data?.kind).sort()).toEqual(['escalate', 'escalate', 'failover']);
    } finally {
      await t.stop();
    }
  });

  it('dry run marks every action request, and the actions record it', async () => {
    const t = await startTestRuntime({ config: testConfig({ safety: { dryRun: true } }) });
    try {
      const response = await t.post('/alertmanager', primaryDown());
      await t.runtime.dispatcher.idle();
      expect(response.body.actions.map((a: { dryRun: boolean }) => a.dryRun)).toEqual([true, true]);
      const received = await auditOf(t.runtime.store, response.body.incident.id, 'action.received');
      expect(received.map((entry) => entry.message).sort()).toEqual([
        'escalate received (dry run)',
        'failover received (dry run)',
      ]);
    } finally {
      await t.stop();
    }
  });

  it('a route action and the responder_dry_run label each request a dry run on their own', async () => {
    const config = testConfig({
      routes: [
        {
          name: 'careful',
          matchers: ['alertname="PrimarySiteDown"'],
          actions: [{ kind: 'failover', dryRun: true }],
        },
        { name: 'other', matchers: [], actions: [{ kind: 'backup' }] },
      ],
    });
    const t = await startTestRuntime({ config });
    try {
      const routed = await t.post('/alertmanager', primaryDown());
      const labelled = loadEvent('multiple-alerts.json');
      for (const alert of labelled.alerts)
        (alert.labels as Record<string, string>).responder_dry_run = 'true';
      const byLabel = await t.post('/alertmanager', labelled);
      const plain = await t.post('/alertmanager', loadEvent('truncated-group.json'));
      expect(routed.body.actions[0].dryRun).toBe(true);
      expect(byLabel.body.actions[0].dryRun).toBe(true);
      expect(plain.body.actions[0].dryRun).toBe(false);
    } finally {
      await t.stop();
    }
  });
});

describe('faults', () => {
  const config = testConfig();
  const base = ({ store, ...overrides }: Partial<IngestDeps> & { store: StateStore }): IngestDeps => ({
    config,
    routes: compileRoutes(config.routes),
    deliveries: store,
    incidents: store,
    audit: store,
    floodLimits: store,
    automation: store,
    dispatcher: { dispatch: async () => {} },
    credentials: staticCredentialSource({ token: TEST_TOKEN, username: 'alertmanager' }),
    clock: systemClock,
    log: silentLog,
    ...overrides,
  });
  const request = (body: unknown) => ({
    method: 'POST',
    path: '/alertmanager',
    headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
    query: {},
    body: Buffer.from(JSON.stringify(body)),
  });

  let deadPort: number;
  beforeAll(async () => {
    deadPort = await freePort();
  });

  it('answers 503 with Retry-After when the state store is unreachable', async () => {
    // GIVEN the production DynamoDB adapter pointed at a port nothing listens on
    const client = new DynamoDBClient({
      endpoint: `http://127.0.0.1:${deadPort}`,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    const store = dynamoDbStateStore({ client, tableName: 'responder-state' });
    // WHEN
    const response = await handleAlertmanagerWebhook(request(loadEvent('firing.json')), base({ store }));
    // THEN
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(JSON.parse(response.body).error).toMatch(/state store \(DynamoDB\) is unavailable/);
    client.destroy();
  });

  it('never answers 5xx for bad input, even with the store down', async () => {
    const client = new DynamoDBClient({
      endpoint: `http://127.0.0.1:${deadPort}`,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    const store = dynamoDbStateStore({ client, tableName: 'responder-state' });
    const response = await handleAlertmanagerWebhook(request({ version: '4' }), base({ store }));
    expect(response.statusCode).toBe(400);
    client.destroy();
  });

  it('a dispatch failure answers 503, gives the delivery back, and the retry is neither lost nor doubled', async () => {
    // GIVEN a bus that fails once
    const t = await startTestRuntime();
    const dispatched: ActionRequest[] = [];
    let failures = 1;
    const deps = base({
      store: t.runtime.store,
      dispatcher: {
        async dispatch(requests) {
          if (failures-- > 0)
            throw new DependencyUnavailableError('event bus (EventBridge)', new Error('throttled'));
          dispatched.push(...requests);
        },
      },
    });
    try {
      // WHEN Alertmanager delivers, gets 503, and retries
      const first = await handleAlertmanagerWebhook(request(loadEvent('firing.json')), deps);
      const retry = await handleAlertmanagerWebhook(request(loadEvent('firing.json')), deps);
      const again = await handleAlertmanagerWebhook(request(loadEvent('firing.json')), deps);
      // THEN
      expect(first.statusCode).toBe(503);
      expect(retry.statusCode).toBe(202);
      expect(again.statusCode).toBe(200);
      expect(dispatched.map((r) => r.kind)).toEqual(['probe', 'escalate']);
      const list = await t.runtime.store.listIncidents({ limit: 10 });
      expect(list.incidents).toHaveLength(1);
      expect(list.incidents[0]?.deliveries).toBe(2); // the failed attempt recorded the incident; the retry updated it
    } finally {
      await t.stop();
    }
  });
});

describe('large groups', () => {
  let large: TestRuntime;
  beforeAll(async () => {
    large = await startTestRuntime();
  });
  afterAll(async () => {
    await large.stop();
  });

  it('a group bigger than a DynamoDB item still opens an incident, keeping the firing alerts that fit', async () => {
    // GIVEN a 1 MiB-class delivery: 400 alerts with 1.5 KB descriptions
    const big = clone(loadEvent('multiple-alerts.json'));
    const template = big.alerts[0] as Record<string, unknown>;
    big.alerts = Array.from({ length: 400 }, (_, i) => ({
      ...template,
      fingerprint: `big-${i}`,
      labels: { ...(template.labels as object), instance: `node-${i}:9100` },
      annotations: { description: 'd'.repeat(1_500) },
      startsAt: new Date(Date.parse('2026-11-23T03:00:00Z') + i * 1000).toISOString(),
    }));
    expect(JSON.stringify(big).length).toBeGreaterThan(600_000);
    // WHEN
    const answer = await large.post('/alertmanager', big);
    // THEN accepted, not a 500 Alertmanager would retry forever
    expect(answer.status).toBe(202);
    const detail = (await large.get(`/api/incidents/${answer.body.incident.id}`)).body;
    expect(detail.alerts.firing + detail.alerts.truncated).toBe(400);
    expect(detail.alerts.firing).toBeGreaterThan(100);
    // the newest alerts are the ones kept
    const kept = detail.alertDetails.map((alert: { fingerprint: string }) => alert.fingerprint);
    expect(kept).toContain('big-399');
    expect(kept).not.toContain('big-0');
  });

  it('a 450 KB summary (the incident title) is cut rather than failing the item write', async () => {
    const body = clone(loadEvent('firing.json'));
    (body.commonAnnotations as Record<string, string>).summary = 's'.repeat(450_000);
    (body as Record<string, unknown>).groupKey = '{}:{alertname="HugeSummary"}';
    const answer = await large.post('/alertmanager', body);
    expect(answer.status).toBe(202);
    const detail = (await large.get(`/api/incidents/${answer.body.incident.id}`)).body;
    expect(detail.title.length).toBeLessThanOrEqual(1024);
    expect(detail.title.startsWith('PostgresDown (payments-api): sss')).toBe(true);
  });
});

describe('escalation requests from ingest', () => {
  it('a dry-run escalate from a route does not stand in for the escalation policy', async () => {
    const t = await startTestRuntime({
      config: testConfig({
        routes: [{ name: 'rehearse', matchers: [], actions: [{ kind: 'escalate', dryRun: true }] }],
      }),
    });
    try {
      const answer = await t.post('/alertmanager', loadEvent('firing.json'));
      expect(answer.body.actions.map((a: Json) => [a.rule, a.dryRun])).toEqual([
        ['rehearse', true],
        ['escalation-policy', false],
      ]);
      await t.runtime.dispatcher.idle();
      const escalation = (await t.get(`/api/incidents/${answer.body.incident.id}`)).body.escalation;
      expect(escalation.sent.map((s: Json) => s.tier)).toEqual(['on-call']);
    } finally {
      await t.stop();
    }
  });
});
