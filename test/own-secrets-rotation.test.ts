import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ackKeyOf, signAckToken } from '../src/escalation/ack-link.ts';
import { LOCAL_ACK_SECRET, LOCAL_WEBHOOK_SECRET } from '../src/local/runtime.ts';
import { waitFor } from './support/processes.ts';
import { type Json, loadEvent, startTestRuntime, type TestRuntime, testConfig } from './support/runtime.ts';

const GRACE_MINUTES = 30;
const MINUTE = 60_000;

describe("Responder's own secrets rotate locally with their grace periods (end to end)", () => {
  let t: TestRuntime;
  let ahead = 0;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const basic = (user: string, token: string) => ({
    authorization: `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`,
  });

  beforeAll(async () => {
    t = await startTestRuntime({
      config: testConfig({ secrets: { own: { graceMinutes: GRACE_MINUTES } } }),
      // No explicit token: the runtime keeps it in the data folder's webhook-token file.
      token: undefined,
      clock: { now: () => new Date(Date.now() + ahead) },
    });
  });
  afterAll(() => t?.stop());

  const rotate = async (secret: string, token: string) => {
    const rotated = await t.post('/api/rotations', { secret }, bearer(token));
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    expect(rotated.body).toMatchObject({ secret, status: 'completed' });
    return rotated.body as Json;
  };

  it('the webhook credential: the old token works for graceMinutes after the rotation, then not; the token file follows', async () => {
    const first = t.runtime.token;
    const file = join(t.runtime.dataDir, 'webhook-token');
    expect((await readFile(file, 'utf8')).trim()).toBe(first);
    const stored = JSON.parse(await t.runtime.secrets.getSecretString(LOCAL_WEBHOOK_SECRET));
    expect(stored).toEqual({ token: first, username: 'alertmanager' });

    // WHEN it is rotated (a `generated` rotation on secrets.own: field "token", username kept)
    await rotate(LOCAL_WEBHOOK_SECRET, first);
    const second = t.runtime.token;
    expect(second).not.toBe(first);
    expect(second).toMatch(/^[A-Za-z0-9]{48}$/);
    expect(JSON.parse(await t.runtime.secrets.getSecretString(LOCAL_WEBHOOK_SECRET))).toEqual({
      token: second,
      username: 'alertmanager',
    });
    // THEN the file (the CLI's, a local Alertmanager's credentials_file) has the new token
    expect((await readFile(file, 'utf8')).trim()).toBe(second);

    // and within the grace period both tokens work, for the API and for Alertmanager's webhook
    ahead = (GRACE_MINUTES - 1) * MINUTE;
    for (const token of [first, second]) {
      expect((await t.get('/api/incidents', bearer(token))).status).toBe(200);
      expect((await t.get('/api/incidents', basic('alertmanager', token))).status).toBe(200);
      const event = { ...loadEvent('firing.json'), groupKey: `{}:{alertname="Grace-${token}"}` };
      expect((await t.post('/alertmanager', event, basic('alertmanager', token))).status).toBe(202);
    }
    expect((await t.get('/api/incidents', basic('someone', first))).status).toBe(401);

    // WHEN the grace period is over
    ahead = (GRACE_MINUTES + 1) * MINUTE;
    // THEN only the new token works
    expect((await t.get('/api/incidents', bearer(first))).status).toBe(401);
    expect((await t.post('/alertmanager', loadEvent('firing.json'), bearer(first))).status).toBe(401);
    expect((await t.get('/api/incidents', bearer(second))).status).toBe(200);

    // WHEN it is rotated again at once, the token from two rotations ago stays refused
    await rotate(LOCAL_WEBHOOK_SECRET, second);
    expect((await t.get('/api/incidents', bearer(second))).status).toBe(200);
    expect((await t.get('/api/incidents', bearer(first))).status).toBe(401);
    expect((await t.get('/api/incidents', bearer(t.runtime.token))).status).toBe(200);
  });

  it('the ack-link key: a link signed before the rotation still acknowledges, until it expires; one forged with the old key does not', async () => {
    const token = () => t.runtime.token;
    // GIVEN an incident whose page carries a link signed with the current key
    const outboxBefore = await readFile(join(t.runtime.dataDir, 'outbox.jsonl'), 'utf8').catch(() => '');
    const event = loadEvent('firing.json');
    event.groupKey = `{}:{alertname="AckKeyRotation-${Date.now()}"}`;
    const incident = (await t.post('/alertmanager', event, bearer(token()))).body.incident;
    expect(incident?.id).toBeTruthy();
    await t.runtime.dispatcher.idle();
    const link: string = await waitFor('the page with its ack link', async () => {
      const text = await readFile(join(t.runtime.dataDir, 'outbox.jsonl'), 'utf8').catch(() => '');
      const page = text
        .slice(outboxBefore.length)
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line))
        .find((entry) => entry.attributes.incident_id === incident.id && entry.attributes.event === 'page');
      return page ? (JSON.parse(page.messages.json).links.ack as string) : undefined;
    });
    const oldKey = ackKeyOf(await t.runtime.secrets.getSecretString(LOCAL_ACK_SECRET));

    // WHEN the key is rotated (field "key")
    await rotate(LOCAL_ACK_SECRET, token());
    const newKey = ackKeyOf(await t.runtime.secrets.getSecretString(LOCAL_ACK_SECRET));
    expect(newKey).not.toBe(oldKey);
    expect(newKey).toMatch(/^[A-Za-z0-9]{64}$/);

    // THEN the link signed before still shows and acknowledges
    expect((await fetch(link)).status).toBe(200);
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const pressed = await fetch(link, { method: 'POST', headers: form, body: 'by=Alice' });
    expect(pressed.status).toBe(200);
    expect(await pressed.text()).toContain('<h1>Acknowledged</h1>');
    // and a link signed with the new key works too
    const now = Date.now() + ahead;
    const fresh = `${t.runtime.url}/ack/${signAckToken(newKey, { incidentId: incident.id, tier: 'on-call', expiresAt: new Date(now + 3_600_000) })}`;
    expect((await fetch(fresh)).status).toBe(200);
    // but one made with the old key after it was replaced, expiring later than any link it signed could, does not
    const forged = `${t.runtime.url}/ack/${signAckToken(oldKey, { incidentId: incident.id, tier: 'on-call', expiresAt: new Date(now + 30 * 86_400_000) })}`;
    expect((await fetch(forged)).status).toBe(403);

    // WHEN the link's lifetime (ackLinkTtlHours, 24 h) has passed
    ahead += 25 * 3_600_000;
    // THEN it no longer works
    expect((await fetch(link)).status).toBe(403);
    // and after a second rotation, the key from two rotations ago signs nothing that is accepted
    await rotate(LOCAL_ACK_SECRET, token());
    const twoAgo = `${t.runtime.url}/ack/${signAckToken(oldKey, { incidentId: incident.id, tier: 'on-call', expiresAt: new Date(Date.now() + ahead + 3_600_000) })}`;
    expect((await fetch(twoAgo)).status).toBe(403);
    expect((await fetch(fresh)).status).toBe(403); // expired too by now
  });
});
