import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkPayload, deliveryKeyOf } from '../src/domain/alertmanager.ts';
import {
  auditOf,
  type Json,
  loadEvent,
  startTestRuntime,
  TEST_TOKEN,
  type TestRuntime,
} from './support/runtime.ts';

// Alertmanager retries, and its HA peers deliver the same group independently: deliveries arrive
// twice, concurrently and out of order. None of that may lose an alert or page for ever.

describe('deliveries in flight, retried and reordered', () => {
  let t: TestRuntime;
  /** How far the runtime's clock is ahead of the real one. */
  let ahead = 0;
  const clock = { now: () => new Date(Date.now() + ahead) };
  beforeEach(async () => {
    ahead = 0;
    t = await startTestRuntime({ clock });
  });
  afterEach(async () => {
    await t.stop();
  });

  const incidents = async (): Promise<Json[]> => (await t.get('/api/incidents')).body.incidents;

  it('a delivery whose processing died after its claim is retried, not answered "duplicate"', async () => {
    // GIVEN the claim a crashed ingest left behind, with a 30-second lease
    const body = loadEvent('firing.json');
    const checked = checkPayload(body);
    if (!checked.ok) throw new Error('firing.json is not a valid payload');
    const key = deliveryKeyOf(checked.payload);
    await t.runtime.store.claimDelivery(key, clock.now(), 30);
    // WHEN Alertmanager retries while the lease is live
    const early = await t.post('/alertmanager', body);
    // THEN it is asked to come back, not told the alert was handled
    expect(early.status).toBe(503);
    expect(Number(await retryAfter(t, body))).toBeGreaterThanOrEqual(1);
    expect(await incidents()).toEqual([]);
    // WHEN it retries after the lease
    ahead += 31_000;
    const later = await t.post('/alertmanager', body);
    // THEN the alert becomes an incident, once
    expect(later.status).toBe(202);
    expect(await incidents()).toHaveLength(1);
    expect((await t.post('/alertmanager', body)).status).toBe(200);
  });

  it('20 identical concurrent posts: one is processed, the others are duplicates or told to retry', async () => {
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => t.post('/alertmanager', loadEvent('firing.json'))),
    );
    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 202)).toHaveLength(1);
    expect(statuses.every((status) => [200, 202, 503].includes(status))).toBe(true);
    // every retry of the ones told to come back is a duplicate now
    const toRetry = statuses.filter((status) => status === 503).length;
    for (let retry = 0; retry < toRetry; retry++) {
      expect((await t.post('/alertmanager', loadEvent('firing.json'))).status).toBe(200);
    }
    expect(await incidents()).toHaveLength(1);
  });

  it('a resolution that overtakes its firing ends the group: the late firing opens nothing and pages no one', async () => {
    // WHEN the resolved delivery is processed before the firing one
    const resolved = await t.post('/alertmanager', loadEvent('resolved.json'));
    const firing = await t.post('/alertmanager', loadEvent('firing.json'));
    await t.runtime.dispatcher.idle();
    // THEN one incident, resolved, with no escalation; the firing is recorded as stale
    expect(resolved.status).toBe(202);
    expect(firing.status).toBe(202);
    expect(firing.body.status).toBe('stale');
    expect(firing.body.actions).toEqual([]);
    const list = await incidents();
    expect(list.map((incident) => incident.status)).toEqual(['resolved']);
    const detail = (await t.get(`/api/incidents/${list[0].id}`)).body;
    expect(detail.escalation).toBeNull();
    expect(await auditOf(t.runtime.store, list[0].id, 'signal.stale-firing')).toHaveLength(1);
  });

  it('20 rounds of firing and resolved arriving together leave every group resolved', async () => {
    for (let round = 0; round < 20; round++) {
      const fire = loadEvent('firing.json') as Json;
      const resolve = loadEvent('resolved.json') as Json;
      fire.groupKey = resolve.groupKey = `{}:{alertname="Race",round="${round}"}`;
      await Promise.all([t.post('/alertmanager', fire), t.post('/alertmanager', resolve)]);
    }
    await t.runtime.dispatcher.idle();
    const list = await incidents();
    expect(list).toHaveLength(20);
    expect(list.every((incident) => incident.status === 'resolved')).toBe(true);
  });

  it('a late copy of the firing after a normal resolution does not reopen the group, a new firing does', async () => {
    await t.post('/alertmanager', loadEvent('firing.json'));
    await t.post('/alertmanager', loadEvent('resolved.json'));
    // the same firing instance (same startsAt) from the other HA peer, whose copy carries an endsAt
    // in the future (as Prometheus sets it), so it is not the same delivery
    const late = loadEvent('firing.json') as Json;
    late.alerts[0].endsAt = '2026-11-23T09:00:00Z';
    const stale = await t.post('/alertmanager', late);
    expect(stale.body.status).toBe('stale');
    expect((await incidents()).map((incident) => incident.status)).toEqual(['resolved']);
    const again = loadEvent('firing.json') as Json;
    again.alerts[0].startsAt = '2026-11-23T05:00:00.000Z';
    expect((await t.post('/alertmanager', again)).body.incident.status).toBe('open');
  });

  it('a late copy of an older resolution does not resolve the newer instance that fires now', async () => {
    // GIVEN the alert fired and resolved, then fired again (a new startsAt): a new open incident
    await t.post('/alertmanager', loadEvent('firing.json'));
    await t.post('/alertmanager', loadEvent('resolved.json'));
    const again = loadEvent('firing.json') as Json;
    again.alerts[0].startsAt = '2026-11-23T05:00:00.000Z';
    const reopened = await t.post('/alertmanager', again);
    // WHEN the other HA peer's copy of the old resolution arrives (another endsAt: another delivery)
    const lateResolution = loadEvent('resolved.json') as Json;
    lateResolution.alerts[0].endsAt = '2026-11-23T04:59:00.000Z';
    expect((await t.post('/alertmanager', lateResolution)).status).toBe(202);
    // THEN the new incident is still open, its alert firing, and the late copy is on record
    const detail = (await t.get(`/api/incidents/${reopened.body.incident.id}`)).body;
    expect(detail.status).toBe('open');
    expect(detail.alertDetails.map((alert: Json) => alert.status)).toEqual(['firing']);
    expect(detail.audit.map((entry: Json) => entry.type)).toContain('signal.stale-resolution');
  });

  it('inside an open incident, a late firing of a resolved alert does not mark it firing again', async () => {
    const group = loadEvent('multiple-alerts.json') as Json;
    const opened = await t.post('/alertmanager', group);
    const partial = structuredClone(group);
    partial.alerts[0].status = 'resolved';
    partial.alerts[0].endsAt = '2026-11-23T03:30:00Z';
    await t.post('/alertmanager', partial);
    const lateCopy = structuredClone(group);
    lateCopy.alerts = [lateCopy.alerts[0]];
    await t.post('/alertmanager', lateCopy);
    const detail = (await t.get(`/api/incidents/${opened.body.incident.id}`)).body;
    expect(detail.alertDetails.find((a: Json) => a.fingerprint === group.alerts[0].fingerprint).status).toBe(
      'resolved',
    );
  });
});

/** The Retry-After of a 503 for this body, read with a raw fetch (the helper keeps only the body). */
async function retryAfter(t: TestRuntime, body: unknown): Promise<string | null> {
  const response = await fetch(t.runtime.webhookUrl, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return response.status === 503 ? response.headers.get('retry-after') : null;
}
