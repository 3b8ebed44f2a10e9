import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ResponderConfigInput } from '../src/config/schema.ts';
import { SUPPRESSED } from '../src/escalation/escalator.ts';
import { groupIdOf } from '../src/incidents/record-incident.ts';
import { type Json, loadEvent, startTestRuntime, type TestRuntime, testConfig } from './support/runtime.ts';

// One leaked token, or one alert storm, must not mean unlimited incidents and pages: floodLimits caps
// both per window, loses no alert, and says so once.

async function outbox(t: TestRuntime): Promise<Json[]> {
  const text = await readFile(join(t.runtime.dataDir, 'outbox.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

const group = (n: number) => {
  const body = loadEvent('firing.json') as Json;
  body.groupKey = `{}:{alertname="Flood",n="${n}"}`;
  body.alerts[0].fingerprint = `flood-${n}`;
  body.alerts[0].labels.n = String(n);
  return body;
};

const today = () => new Date().toISOString().slice(0, 10);

describe('flood limits', () => {
  let t: TestRuntime;
  afterEach(async () => {
    await t.stop();
  });
  const start = (floodLimits: ResponderConfigInput['floodLimits']) =>
    startTestRuntime({ config: testConfig({ floodLimits, routes: [] }) });

  it('over the new-incident limit, groups join one overflow incident that pages once, and the limit is audited once', async () => {
    // GIVEN at most 3 new incidents per window
    t = await start({ newIncidents: 3, pages: 1000 });
    // WHEN 7 new groups fire
    const responses = [];
    for (let n = 0; n < 7; n++) responses.push(await t.post('/alertmanager', group(n)));
    await t.runtime.dispatcher.idle();
    // THEN 3 incidents of their own, and the other 4 groups' alerts in one overflow incident
    expect(responses.every((response) => response.status === 202)).toBe(true);
    const ids = responses.map((response) => response.body.incident.id);
    expect(new Set(ids.slice(0, 3)).size).toBe(3);
    const overflowId = ids[3];
    expect(ids.slice(3)).toEqual([overflowId, overflowId, overflowId, overflowId]);
    const overflow = (await t.get(`/api/incidents/${overflowId}`)).body;
    expect(overflow.title).toMatch(/^Incident limit reached: more than 3 new alert groups within 60 minutes/);
    // the groups over the limit are critical (P1): the overflow incident takes the most severe
    expect(overflow.severity).toBe('P1');
    expect(overflow.alertDetails.map((alert: Json) => alert.fingerprint).sort()).toEqual([
      'flood-3',
      'flood-4',
      'flood-5',
      'flood-6',
    ]);
    expect(overflow.audit.filter((entry: Json) => entry.type === 'incident.over-limit')).toHaveLength(4);
    const system = await t.runtime.store.listSystemAudit(today());
    expect(system.filter((entry) => entry.type === 'limits.incidents-reached')).toHaveLength(1);
    // four incidents paged, each once
    const pages = (await outbox(t)).filter((entry) => entry.attributes.event === 'page');
    expect(pages.map((entry) => entry.attributes.incident_id).sort()).toEqual([...ids.slice(0, 4)].sort());
    // a resolution of a group over the limit lands in the overflow incident, not in a new one
    const resolved = group(5);
    resolved.status = 'resolved';
    resolved.alerts[0].status = 'resolved';
    resolved.alerts[0].endsAt = '2026-11-23T04:00:00Z';
    const answer = await t.post('/alertmanager', resolved);
    expect(answer.body.incident.id).toBe(overflowId);
    expect((await t.get('/api/incidents')).body.incidents).toHaveLength(4);
  });

  it('a P1 group over the limit raises the overflow incident to P1', async () => {
    t = await start({ newIncidents: 1, pages: 1000 });
    const quiet = group(0);
    quiet.commonLabels.severity = quiet.alerts[0].labels.severity = 'warning';
    await t.post('/alertmanager', quiet);
    const second = group(1);
    second.commonLabels.severity = second.alerts[0].labels.severity = 'warning';
    const overflow = await t.post('/alertmanager', second);
    expect(overflow.body.incident.severity).toBe('P2');
    const critical = await t.post('/alertmanager', group(2));
    expect(critical.body.incident.id).toBe(overflow.body.incident.id);
    expect(critical.body.incident.severity).toBe('P1');
  });

  it('a group turned away by the new-incident limit keeps its pointer as it was, so a late firing of its resolved alert stays ignored', async () => {
    // GIVEN one new incident per window, used by a group that then resolved
    t = await start({ newIncidents: 1, pages: 1000 });
    const first = await t.post('/alertmanager', group(0));
    const resolved = group(0);
    resolved.status = 'resolved';
    resolved.alerts[0].status = 'resolved';
    resolved.alerts[0].endsAt = '2026-11-23T04:00:00Z';
    expect((await t.post('/alertmanager', resolved)).body.incident).toMatchObject({ status: 'resolved' });
    // WHEN the group fires anew (a new startsAt), and a new group fires, both over the limit
    const again = group(0);
    again.alerts[0].startsAt = '2026-11-23T05:00:00Z';
    const overflow = await t.post('/alertmanager', again);
    expect(overflow.body.incident.id).not.toBe(first.body.incident.id);
    expect((await t.post('/alertmanager', group(1))).body.incident.id).toBe(overflow.body.incident.id);
    // THEN each group's pointer names what it named before: the resolved incident, and none
    const pointerOf = (n: number) => t.runtime.store.findGroupPointer(groupIdOf(group(n).groupKey));
    expect((await pointerOf(0)).incidentId).toBe(first.body.incident.id);
    expect(await pointerOf(1)).toEqual({});
    // and a late firing of the resolved alert (another peer's copy: a different endsAt) is still stale
    const late = group(0);
    late.alerts[0].endsAt = '2026-11-23T03:10:00Z';
    const stale = await t.post('/alertmanager', late);
    expect(stale.body).toMatchObject({ status: 'stale', incident: null });
  });

  it('over the page limit, pages are held back with one summary page, and no notice goes to those never paged', async () => {
    // GIVEN at most 2 pages per window
    t = await start({ newIncidents: 1000, pages: 2 });
    // WHEN 5 incidents each want to page on-call
    const ids = [];
    for (let n = 0; n < 5; n++) {
      ids.push((await t.post('/alertmanager', group(n))).body.incident.id);
      await t.runtime.dispatcher.idle();
    }
    // THEN two pages, one summary, and nothing more
    const sent = await outbox(t);
    expect(sent.filter((entry) => entry.attributes.event === 'page')).toHaveLength(3);
    const summary = sent.filter((entry) => /page limit reached/.test(entry.subject));
    expect(summary).toHaveLength(1);
    expect(summary[0].topic).toBe('on-call');
    expect(summary[0].messages.sms).toMatch(/pages held back until/);
    // the held-back pages are recorded, so no sweep sends them into the flood later
    const held = (await t.get(`/api/incidents/${ids[4]}`)).body;
    expect(held.escalation.sent).toEqual([
      expect.objectContaining({ tier: 'on-call', messageId: SUPPRESSED }),
    ]);
    expect(held.audit.filter((entry: Json) => entry.type === 'escalation.suppressed')).toHaveLength(1);
    await t.runtime.sweepEscalations();
    expect((await outbox(t)).length).toBe(sent.length);
    const system = await t.runtime.store.listSystemAudit(today());
    expect(system.filter((entry) => entry.type === 'limits.pages-reached')).toHaveLength(1);
    // resolving an incident whose page was held back tells no one: no one heard of it
    const resolved = group(4);
    resolved.status = 'resolved';
    resolved.alerts[0].status = 'resolved';
    resolved.alerts[0].endsAt = '2026-11-23T04:00:00Z';
    await t.post('/alertmanager', resolved);
    await t.runtime.dispatcher.idle();
    expect((await outbox(t)).length).toBe(sent.length);
  });

  it('resolved incidents and their escalations expire after auditRetentionDays; open ones do not', async () => {
    t = await startTestRuntime({ config: testConfig({ auditRetentionDays: 30 }) });
    const opened = await t.post('/alertmanager', loadEvent('firing.json'));
    await t.runtime.dispatcher.idle();
    const id = opened.body.incident.id as string;
    expect((await t.runtime.store.getIncident(id))?.expiresAt).toBeUndefined();
    await t.post('/alertmanager', loadEvent('resolved.json'));
    await t.runtime.dispatcher.idle();
    const incident = await t.runtime.store.getIncident(id);
    const resolvedAt = Date.parse(incident?.resolvedAt ?? '') / 1000;
    expect(incident?.expiresAt).toBe(Math.floor(resolvedAt) + 30 * 86400);
    expect((await t.runtime.store.getEscalation(id))?.expiresAt).toBe(incident?.expiresAt);
  });

  it('refuses limits that would let nothing through, naming the field', () => {
    expect(() => testConfig({ floodLimits: { pages: 0 } })).toThrow(/floodLimits\.pages/);
    expect(() => testConfig({ floodLimits: { windowMinutes: 0 } })).toThrow(/floodLimits\.windowMinutes/);
  });
});
