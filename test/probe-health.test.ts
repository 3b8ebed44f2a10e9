import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { nextHealth, type ProbeResult, type TargetHealth } from '../src/domain/probes.ts';
import { DependencyUnavailableError } from '../src/ports.ts';
import {
  auditOf,
  type Json,
  loadEvent,
  startTestRuntime,
  type TestRuntime,
  testConfig,
} from './support/runtime.ts';

const result = (ok: boolean, at = '2026-11-23T03:00:00.000Z'): ProbeResult => ({
  target: 'api',
  kind: 'http',
  ok,
  latencyMs: 3,
  detail: ok ? 'fine' : 'down',
  observed: {},
  at,
});

describe('Function: nextHealth', () => {
  const thresholds = { failureThreshold: 3, recoveryThreshold: 2 };
  const fold = (oks: boolean[], start?: TargetHealth) => {
    let health = start;
    const transitions: string[] = [];
    for (const ok of oks) {
      const next = nextHealth(health, result(ok), thresholds);
      health = next.health;
      transitions.push(next.transition ?? '-');
    }
    return { health, transitions };
  };

  it('stays healthy through N-1 failures and turns unhealthy at N, once', () => {
    const { health, transitions } = fold([false, false, false, false]);
    expect(transitions).toEqual(['-', '-', 'unhealthy', '-']);
    expect(health).toMatchObject({ healthy: false, consecutiveFailures: 4 });
  });

  it('a success in between starts the count again: no flapping', () => {
    const { health, transitions } = fold([false, false, true, false, false]);
    expect(transitions).toEqual(['-', '-', '-', '-', '-']);
    expect(health?.healthy).toBe(true);
  });

  it('recovers only after M consecutive successes', () => {
    const { health, transitions } = fold([false, false, false, true, false, true, true]);
    expect(transitions).toEqual(['-', '-', 'unhealthy', '-', '-', '-', 'healthy']);
    expect(health).toMatchObject({ healthy: true, consecutiveSuccesses: 2, failingSince: undefined });
  });
});

describe('Probe runs against the local runtime', () => {
  let server: Server;
  let serverUp = false;
  let port: number;
  let t: TestRuntime;
  beforeAll(async () => {
    server = createServer((_req, res) =>
      res.writeHead(serverUp ? 200 : 503).end(serverUp ? '{"status":"ok"}' : 'down'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => server.close());
  afterEach(async () => {
    await t?.stop();
  });

  const config = (extra: Record<string, unknown> = {}) =>
    testConfig({
      probes: {
        targets: [
          {
            name: 'api',
            kind: 'http',
            url: `http://127.0.0.1:${port}/health`,
            severity: 'P1',
            failureThreshold: 3,
            recoveryThreshold: 2,
            timeoutMs: 1000,
            labels: { service: 'payments-api' },
          },
        ],
      },
      ...extra,
    });
  const probe = async (body: unknown = {}) => t.post('/api/probes', body);
  const incidents = async (): Promise<Json[]> => (await t.get('/api/incidents')).body.incidents;

  beforeEach(() => {
    serverUp = false;
  });

  it('N-1 failures open nothing, N open one incident and page once, more runs add nothing, recovery resolves it', async () => {
    t = await startTestRuntime({ config: config() });
    // N-1 failures
    for (let i = 0; i < 2; i++)
      expect((await probe()).body.results[0]).toMatchObject({ ok: false, healthy: true });
    expect(await incidents()).toEqual([]);
    // the Nth
    const third = (await probe()).body.results[0];
    expect(third).toMatchObject({
      ok: false,
      healthy: false,
      transition: 'unhealthy',
      consecutiveFailures: 3,
    });
    await t.runtime.dispatcher.idle();
    const [opened] = await incidents();
    expect(opened).toMatchObject({
      id: third.incidentId,
      status: 'open',
      severity: 'P1',
      labels: { alertname: 'ProbeFailed', target: 'api', kind: 'http', service: 'payments-api' },
    });
    // repeated failing runs neither open another incident nor page again
    await probe();
    await probe();
    await t.runtime.dispatcher.idle();
    expect(await incidents()).toHaveLength(1);
    const paged = await auditOf(t.runtime.store, opened.id, 'action.received');
    expect(paged.map((entry) => entry.data?.kind)).toEqual(['escalate']);
    // recovery: one success is not enough, two resolve
    serverUp = true;
    expect((await probe()).body.results[0]).toMatchObject({ ok: true, healthy: false });
    expect((await incidents())[0].status).toBe('open');
    expect((await probe()).body.results[0]).toMatchObject({ ok: true, healthy: true, transition: 'healthy' });
    const [resolved] = await incidents();
    expect(resolved).toMatchObject({ id: opened.id, status: 'resolved' });
    // GET /api/probes shows the standing
    const standing = (await t.get('/api/probes')).body.targets;
    expect(standing).toEqual([
      expect.objectContaining({ target: 'api', healthy: true, consecutiveFailures: 0 }),
    ]);
  });

  it('two runs crossing the threshold at once open one incident and page once', async () => {
    t = await startTestRuntime({ config: config() });
    await probe();
    await probe();
    const both = await Promise.all([probe(), probe(), probe()]);
    await t.runtime.dispatcher.idle();
    expect(both.every((r) => r.status === 200)).toBe(true);
    const list = await incidents();
    expect(list).toHaveLength(1);
    expect(await auditOf(t.runtime.store, list[0].id, 'action.received')).toHaveLength(1);
  });

  it('attaches the results of probes an alert rule asked for to that alert incident', async () => {
    t = await startTestRuntime({
      config: config({
        routes: [
          {
            name: 'db',
            matchers: ['alertname="PostgresDown"'],
            actions: [{ kind: 'probe', params: { targets: ['api'] } }],
          },
        ],
      }),
    });
    serverUp = true;
    const delivered = await t.post('/alertmanager', loadEvent('firing.json'));
    await t.runtime.dispatcher.idle();
    const attached = await auditOf(t.runtime.store, delivered.body.incident.id, 'probe.result');
    expect(attached).toHaveLength(1);
    expect(attached[0]).toMatchObject({
      message: expect.stringMatching(/^api \(http\) ok: GET .* answered 200$/),
    });
  });

  it('a dry run observes and reports, and changes no health or incident', async () => {
    t = await startTestRuntime({ config: config({ safety: { dryRun: true } }) });
    for (let i = 0; i < 4; i++)
      expect((await probe()).body).toMatchObject({ dryRun: true, results: [{ ok: false }] });
    expect(await incidents()).toEqual([]);
    expect((await t.get('/api/probes')).body.targets[0].healthy).toBeNull();
  });

  it('a store failure between the health write and the incident loses nothing: the next run opens it and pages once', async () => {
    // GIVEN opening an incident fails once, as an unreachable DynamoDB would
    let failures = 1;
    t = await startTestRuntime({
      config: config(),
      wrapStore: (store) =>
        new Proxy(store, {
          get(target, property, receiver) {
            const value = Reflect.get(target, property, receiver);
            if (typeof value !== 'function') return value;
            if (property !== 'openIncident') return value.bind(target);
            return async (...args: Parameters<typeof store.openIncident>) => {
              if (failures-- > 0)
                throw new DependencyUnavailableError('state store (DynamoDB)', new Error('timeout'));
              return target.openIncident(...args);
            };
          },
        }),
    });
    await probe();
    await probe();
    // WHEN the run that crosses the threshold cannot open the incident
    const crossing = await probe();
    expect(crossing.status).toBe(503);
    expect(await incidents()).toEqual([]);
    // THEN the next run, still failing, opens it and pages once
    const next = (await probe()).body.results[0];
    await t.runtime.dispatcher.idle();
    const list = await incidents();
    expect(list).toHaveLength(1);
    expect(next).toMatchObject({ healthy: false, incidentId: list[0].id });
    expect(await auditOf(t.runtime.store, list[0].id, 'action.received')).toHaveLength(1);
    // and recovery still resolves it
    serverUp = true;
    await probe();
    await probe();
    expect((await incidents())[0].status).toBe('resolved');
  });

  it('a bus failure after the incident opened loses no page: the next run asks again, and on-call is paged once', async () => {
    // GIVEN the bus refuses the first escalation request
    let refusals = 1;
    t = await startTestRuntime({
      config: config(),
      wrapDispatcher: (bus) => ({
        async dispatch(requests) {
          if (requests.some((r) => r.kind === 'escalate') && refusals-- > 0) {
            throw new DependencyUnavailableError('event bus (EventBridge)', new Error('throttled'));
          }
          return bus.dispatch(requests);
        },
      }),
    });
    await probe();
    await probe();
    expect((await probe()).status).toBe(503);
    await t.runtime.dispatcher.idle();
    const [opened] = await incidents();
    expect(opened).toMatchObject({ status: 'open' });
    expect((await t.get(`/api/incidents/${opened.id}`)).body.escalation).toBeNull();
    // WHEN the next run, still failing, comes
    expect((await probe()).body.results[0]).toMatchObject({ healthy: false, incidentId: opened.id });
    await t.runtime.dispatcher.idle();
    // THEN the escalation started and paged on-call once; later runs page no one again
    await probe();
    await t.runtime.dispatcher.idle();
    const escalation = (await t.get(`/api/incidents/${opened.id}`)).body.escalation;
    expect(escalation.sent.map((s: Json) => `${s.event}:${s.tier}`)).toEqual(['page:on-call']);
  });

  it('answers 404 for an unknown target and 400 for a malformed request', async () => {
    t = await startTestRuntime({ config: config() });
    expect((await probe({ targets: ['nope'] })).status).toBe(404);
    expect((await probe({ targets: [] })).status).toBe(400);
    expect((await probe({ target: 'api' })).status).toBe(400);
  });
});
