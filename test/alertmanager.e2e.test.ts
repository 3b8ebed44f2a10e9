import { afterEach, describe, expect, it } from 'vitest';
import { DependencyUnavailableError, type StateStore } from '../src/ports.ts';
import { type AlertmanagerServer, startAlertmanager } from './support/alertmanager.ts';
import { waitFor } from './support/processes.ts';
import { auditOf, type Json, startTestRuntime, TEST_TOKEN, type TestRuntime } from './support/runtime.ts';

/** Makes the first `times` delivery claims fail as an unreachable DynamoDB would. */
function storeDownFor(times: number) {
  const seen = { failed: 0 };
  const wrap = (store: StateStore): StateStore =>
    new Proxy(store, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        if (property !== 'claimDelivery') return value.bind(target);
        return async (...args: Parameters<StateStore['claimDelivery']>) => {
          if (seen.failed < times) {
            seen.failed += 1;
            throw new DependencyUnavailableError('state store (DynamoDB)', new Error('connect ECONNREFUSED'));
          }
          return target.claimDelivery(...args);
        };
      },
    });
  return { wrap, seen };
}

describe('Alertmanager end to end', () => {
  let t: TestRuntime | undefined;
  let am: AlertmanagerServer | undefined;
  afterEach(async () => {
    await am?.stop();
    await t?.stop();
    am = undefined;
    t = undefined;
  });

  const incidents = async (): Promise<Json[]> => (await t?.get('/api/incidents'))?.body.incidents ?? [];

  it('an alert fired with amtool becomes an incident, and ending it resolves the incident', async () => {
    // GIVEN a real Alertmanager whose receiver posts to the local responder
    t = await startTestRuntime();
    am = await startAlertmanager({ webhookUrl: t.runtime.webhookUrl, token: TEST_TOKEN });
    const labels = { alertname: 'PostgresDown', severity: 'critical', service: 'payments-api' };

    // WHEN the alert fires
    await am.amtool(labels, { annotations: { summary: 'primary is not answering' } });
    const [opened] = await waitFor('the incident to open', async () => {
      const list = await incidents();
      return list.length > 0 && list;
    });

    // THEN
    expect(opened).toMatchObject({
      status: 'open',
      severity: 'P1',
      labels,
      title: 'PostgresDown (payments-api): primary is not answering',
      receiver: 'responder',
    });
    expect(opened.externalURL).toBe(am.url);

    // WHEN the alert ends
    await am.amtool(labels, { endsAt: new Date(Date.now() - 1000) });
    const resolved = await waitFor('the incident to resolve', async () => {
      const list = await incidents();
      return list[0]?.status === 'resolved' && list[0];
    });

    // THEN it is the same incident, and nothing else was opened
    expect(resolved.id).toBe(opened.id);
    expect(await incidents()).toHaveLength(1);
    await t.runtime.dispatcher.idle();
    const requested = await auditOf(t.runtime.store, opened.id, 'action.requested');
    // the route's probe and escalation on firing; the escalation policy's on resolution, to end paging
    expect(requested.map((entry) => [entry.data?.kind, entry.data?.rule])).toEqual([
      ['probe', 'database-trouble'],
      ['escalate', 'database-trouble'],
      ['escalate', 'escalation-policy'],
    ]);
  });

  it('a 503 makes Alertmanager retry, and the retry is not doubled', async () => {
    // GIVEN the state store is unreachable for the first two deliveries
    const outage = storeDownFor(2);
    t = await startTestRuntime({ wrapStore: outage.wrap });
    am = await startAlertmanager({ webhookUrl: t.runtime.webhookUrl, token: TEST_TOKEN });

    // WHEN an alert fires
    await am.amtool({ alertname: 'PrimarySiteDown', severity: 'critical', service: 'payments-api' });
    const [incident] = await waitFor(
      'the incident to open after retries',
      async () => {
        const list = await incidents();
        return list.length > 0 && list;
      },
      30_000,
    );
    // Alertmanager sends nothing more for this group once it has logged the delivery's success (its
    // notification log then dedupes every later flush): every delivery has arrived when it says so.
    await waitFor('Alertmanager to log the successful delivery', async () =>
      /msg="Notify success"/.test(am?.logs() ?? ''),
    );
    await t.runtime.dispatcher.idle();

    // THEN Alertmanager saw 503 twice, retried, and one incident with one set of actions exists
    expect(outage.seen.failed).toBe(2);
    expect(am.logs()).toMatch(/Notify attempt failed|notify retry canceled|will retry/i);
    expect(am.logs().match(/msg="Notify success"/g)).toHaveLength(1);
    const list = await incidents();
    expect(list).toHaveLength(1);
    expect(list[0]?.deliveries).toBe(1);
    const requested = await auditOf(t.runtime.store, incident.id, 'action.requested');
    expect(requested.map((entry) => entry.data?.kind)).toEqual(['failover', 'escalate']);
    expect(await auditOf(t.runtime.store, incident.id, 'action.received')).toHaveLength(2);
  });
});
