import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ackKeyOf, signAckToken } from '../src/escalation/ack-link.ts';
import { LOCAL_ACK_SECRET } from '../src/local/runtime.ts';
import { type AlertmanagerServer, startAlertmanager } from './support/alertmanager.ts';
import { waitFor } from './support/processes.ts';
import {
  type Json,
  loadEvent,
  startTestRuntime,
  TEST_TOKEN,
  type TestRuntime,
  testConfig,
} from './support/runtime.ts';

interface OutboxEntry {
  at: string;
  topic: string;
  subject: string;
  attributes: Record<string, string>;
  messages: { default: string; email: string; sms: string; json: string };
}

async function outbox(t: TestRuntime): Promise<OutboxEntry[]> {
  const text = await readFile(join(t.runtime.dataDir, 'outbox.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as OutboxEntry);
}

const of = (entries: OutboxEntry[], incidentId: string) =>
  entries
    .filter((entry) => entry.attributes.incident_id === incidentId)
    .map((entry) => `${entry.attributes.event}:${entry.topic}`);

/** P1's 15-minute tiers become 1.8 seconds. */
const SCALE = 0.002;
const TIER_MS = 15 * 60_000 * SCALE;

describe('Escalation end to end: Alertmanager → responder → outbox → ack link', () => {
  let t: TestRuntime | undefined;
  let am: AlertmanagerServer | undefined;
  afterEach(async () => {
    await am?.stop();
    await t?.stop();
    am = undefined;
    t = undefined;
  });

  it('pages on-call, takes an ack from the signed link, stops that escalation, and refuses bad links', async () => {
    // GIVEN a real Alertmanager posting to the local responder, delays shortened, and a clock the
    // test can move forward
    let ahead = 0;
    t = await startTestRuntime({
      config: testConfig({ local: { escalationDelayScale: SCALE } }),
      clock: { now: () => new Date(Date.now() + ahead) },
    });
    const rt = t;
    am = await startAlertmanager({ webhookUrl: rt.runtime.webhookUrl, token: TEST_TOKEN });
    // WHEN two P1 alerts fire in separate groups
    await am.amtool({ alertname: 'PostgresDown', severity: 'critical', service: 'payments-api' });
    await am.amtool({ alertname: 'ApiLatencyHigh', severity: 'critical', service: 'payments-api' });
    const incidents: Json[] = await waitFor('two incidents', async () => {
      const list = (await rt.get('/api/incidents')).body.incidents;
      return list.length === 2 && list;
    });
    const acked = incidents.find((i) => i.title.startsWith('PostgresDown'));
    const control = incidents.find((i) => i.title.startsWith('ApiLatencyHigh'));
    await rt.runtime.dispatcher.idle();
    // THEN on-call is paged for each, once
    const first = await waitFor('the first pages', async () => {
      const entries = await outbox(rt);
      return of(entries, acked.id).length === 1 && of(entries, control.id).length === 1 && entries;
    });
    const page = first.find((entry) => entry.attributes.incident_id === acked.id);
    if (!page) throw new Error('no page');
    expect(page.topic).toBe('on-call');
    expect(page.subject).toMatch(/^\[P1\] payments-api: PostgresDown/);
    const link: string = JSON.parse(page.messages.json).links.ack;
    expect(page.messages.sms).toContain(link);
    expect(link.startsWith(`${rt.runtime.url}/ack/`)).toBe(true);

    // WHEN someone tries a tampered link and an expired one
    const tampered = link.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    const key = ackKeyOf(await rt.runtime.secrets.getSecretString(LOCAL_ACK_SECRET));
    const expired = `${rt.runtime.url}/ack/${signAckToken(key, {
      incidentId: acked.id,
      tier: 'on-call',
      expiresAt: new Date(Date.now() - 1000),
    })}`;
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    for (const bad of [tampered, expired]) {
      expect((await fetch(bad)).status).toBe(403);
      const refused = await fetch(bad, { method: 'POST', headers: form, body: 'by=Mallory' });
      expect(refused.status).toBe(403);
      expect(await refused.text()).toContain('This acknowledge link is not valid');
    }
    // THEN nothing changed
    expect((await rt.get(`/api/incidents/${acked.id}`)).body.escalation).toMatchObject({
      status: 'paging',
      acknowledged: null,
    });

    // WHEN on-call opens the real link on a phone: the GET shows a button and acknowledges nothing
    const shown = await fetch(link);
    expect(shown.status).toBe(200);
    expect(shown.headers.get('referrer-policy')).toBe('no-referrer');
    expect(await shown.text()).toMatch(/Acknowledge this incident\?[\s\S]*<form method="post">/);
    expect((await rt.get(`/api/incidents/${acked.id}`)).body.escalation.acknowledged).toBeNull();
    // and presses it
    const pressed = await fetch(link, { method: 'POST', headers: form, body: 'by=Alice' });
    expect(pressed.status).toBe(200);
    expect(await pressed.text()).toContain('<h1>Acknowledged</h1>');

    // THEN on-call hears who acknowledged
    const notices = await waitFor('the ack notice', async () => {
      const entries = await outbox(rt);
      return of(entries, acked.id).includes('acknowledged:on-call') && entries;
    });
    const notice = notices.find(
      (entry) => entry.attributes.incident_id === acked.id && entry.attributes.event === 'acknowledged',
    );
    expect(notice?.subject).toMatch(/^\[P1 ACK\] Alice acknowledged payments-api: PostgresDown/);
    expect(notice?.messages.email).toContain('by "Alice" (the name they gave)');
    expect(notice?.messages.email).toContain('via link:on-call');

    // WHEN the team-lead tier comes due and the sweeper runs (twice)
    const { nextTier: due, sent } = (await rt.get(`/api/incidents/${control.id}`)).body.escalation;
    expect(due.name).toBe('team-lead');
    // due 15 (scaled) minutes after on-call was paged
    expect(Date.parse(due.dueAt) - Date.parse(sent[0].at)).toBe(TIER_MS);
    ahead = Math.max(0, Date.parse(due.dueAt) + 100 - Date.now());
    await rt.runtime.sweepEscalations();
    await rt.runtime.sweepEscalations();
    // THEN the acknowledged incident pages nobody more; the control one pages its team lead once
    const after = await outbox(rt);
    expect(of(after, acked.id)).toEqual(['page:on-call', 'acknowledged:on-call']);
    expect(of(after, control.id)).toEqual(['page:on-call', 'page:team-lead']);

    // WHEN the control alert resolves in Alertmanager
    await am.amtool(
      { alertname: 'ApiLatencyHigh', severity: 'critical', service: 'payments-api' },
      { endsAt: new Date(Date.now() - 1000) },
    );
    // THEN everyone paged for it hears, and the escalation ends
    const resolved = await waitFor('the resolved notices', async () => {
      const entries = of(await outbox(rt), control.id);
      return entries.length === 4 && entries;
    });
    expect(resolved.slice(2).sort()).toEqual(['resolved:on-call', 'resolved:team-lead']);
    expect((await rt.get(`/api/incidents/${control.id}`)).body.escalation.status).toBe('resolved');
  });
});

describe('Local pager and sweeper timer', () => {
  let t: TestRuntime | undefined;
  let hook: Server | undefined;
  afterEach(async () => {
    await t?.stop();
    hook?.close();
    t = undefined;
  });

  it('the sweeper runs on its own timer, scaled by local.escalationDelayScale, and pages reach the webhook too', async () => {
    // GIVEN a chat-style webhook and a runtime with its timers on
    const received: Json[] = [];
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        received.push({ contentType: req.headers['content-type'], body: JSON.parse(body) });
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => hook?.listen(0, '127.0.0.1', resolve));
    const pagerWebhookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
    t = await startTestRuntime({
      timers: true,
      config: testConfig({ local: { escalationDelayScale: SCALE, pagerWebhookUrl } }),
    });
    const rt = t;
    // WHEN a P1 fires and nobody acknowledges
    const id = (await rt.post('/alertmanager', loadEvent('firing.json'))).body.incident.id;
    // THEN the timer-driven sweeper pages the team lead after the scaled 15 minutes, once
    const pages = await waitFor(
      'the team-lead page',
      async () => {
        const entries = of(await outbox(rt), id);
        return entries.includes('page:team-lead') && entries;
      },
      15_000,
    );
    expect(pages).toEqual(['page:on-call', 'page:team-lead']);
    // and each page's JSON went to the webhook
    await waitFor('the webhook deliveries', async () => received.length >= 2);
    expect(received.slice(0, 2)).toEqual([
      {
        contentType: 'application/json',
        body: expect.objectContaining({
          schema: 'responder.page/v1',
          tier: expect.objectContaining({ name: 'on-call' }),
        }),
      },
      {
        contentType: 'application/json',
        body: expect.objectContaining({ tier: expect.objectContaining({ name: 'team-lead' }) }),
      },
    ]);
  });
});

describe('POST /api/incidents/{id}/ack', () => {
  let t: TestRuntime | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('acknowledges with the API token, and answers 401, 400, 404 and 409 where it should', async () => {
    t = await startTestRuntime();
    const sent = await t.post('/alertmanager', loadEvent('firing.json'));
    const id = sent.body.incident.id as string;
    await t.runtime.dispatcher.idle();
    const ackPath = `/api/incidents/${id}/ack`;
    // unauthenticated, malformed, unknown
    expect(
      (await t.post(ackPath, { by: 'eve' }, { authorization: 'Bearer wrong-token-wrong-token' })).status,
    ).toBe(401);
    expect((await t.post('/api/incidents/nope/ack', {})).status).toBe(400);
    expect((await t.post('/api/incidents/%E0%A4%A/ack', {})).status).toBe(400);
    expect((await t.get('/ack/%E0%A4%A')).status).toBe(403);
    expect((await t.post(ackPath, { by: 'x'.repeat(81) })).status).toBe(400);
    expect((await t.post(ackPath, '{not json')).status).toBe(400);
    expect((await t.post('/api/incidents/20200101-00000000/ack', {})).status).toBe(404);
    expect((await t.get(`/api/incidents/${id}`)).body.escalation).toMatchObject({
      status: 'paging',
      acknowledged: null,
      nextTier: { name: 'team-lead' },
    });
    // acknowledged
    const acked = await t.post(ackPath, { by: 'alice' });
    expect(acked.status).toBe(200);
    expect(acked.body).toMatchObject({
      outcome: 'acknowledged',
      acknowledged: { by: 'alice', via: 'api' },
      escalation: { status: 'acknowledged', nextTier: null },
    });
    expect((await t.post(ackPath, {})).body.outcome).toBe('already-acknowledged');
    // resolved incidents have nothing to acknowledge
    await t.post('/alertmanager', loadEvent('resolved.json'));
    expect((await t.post(ackPath, {})).status).toBe(409);
    expect((await t.get(ackPath)).status).toBe(405);
  });
});
