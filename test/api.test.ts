import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEvent, startTestRuntime, TEST_TOKEN, type TestRuntime } from './support/runtime.ts';

describe('Incident API', () => {
  let t: TestRuntime;
  let openId: string;
  let resolvedId: string;
  beforeAll(async () => {
    // The real time, moved on a second after the first incident: distinct openedAt, so the order is defined.
    let ahead = 0;
    t = await startTestRuntime({ clock: { now: () => new Date(Date.now() + ahead) } });
    openId = (await t.post('/alertmanager', loadEvent('multiple-alerts.json'))).body.incident.id;
    ahead = 1000;
    resolvedId = (await t.post('/alertmanager', loadEvent('firing.json'))).body.incident.id;
    await t.post('/alertmanager', loadEvent('resolved.json'));
  });
  afterAll(async () => {
    await t.stop();
  });

  it('GET /healthz needs no credential', async () => {
    const response = await fetch(`${t.runtime.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok' });
  });

  it.each([['/api/incidents'], [`/api/incidents/20261123-00000000`], ['/api/automation']])(
    'GET %s answers 401 without the credential',
    async (path) => {
      const response = await fetch(`${t.runtime.url}${path}`);
      expect(response.status).toBe(401);
      const wrong = await fetch(`${t.runtime.url}${path}`, { headers: { authorization: 'Bearer nope' } });
      expect(wrong.status).toBe(401);
    },
  );

  it('lists incidents newest first with id, status, severity, labels and timestamps', async () => {
    const { status, body } = await t.get('/api/incidents');
    expect(status).toBe(200);
    expect(body.incidents.map((incident: { id: string }) => incident.id)).toEqual([resolvedId, openId]);
    expect(body.incidents[0]).toMatchObject({
      id: resolvedId,
      status: 'resolved',
      severity: 'P1',
      labels: expect.objectContaining({ alertname: 'PostgresDown' }),
      openedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      updatedAt: expect.any(String),
      resolvedAt: expect.any(String),
    });
    expect(body.incidents[1]).toMatchObject({ id: openId, status: 'open', resolvedAt: null });
  });

  it('filters by status and pages with a cursor', async () => {
    const open = await t.get('/api/incidents?status=open');
    expect(open.body.incidents.map((incident: { id: string }) => incident.id)).toEqual([openId]);
    const first = await t.get('/api/incidents?limit=1');
    expect(first.body.incidents).toHaveLength(1);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await t.get(`/api/incidents?limit=1&cursor=${first.body.nextCursor}`);
    expect(second.body.incidents[0].id).toBe(openId);
  });

  it.each([['?limit=0'], ['?limit=500'], ['?status=closed'], ['?cursor=not%20a%20cursor']])(
    'answers 400 to %s',
    async (query) => {
      const response = await t.get(`/api/incidents${query}`);
      expect(response.status).toBe(400);
      expect(response.body.error).toBe('invalid query');
    },
  );

  it('shows one incident with its alerts and audit trail', async () => {
    const { status, body } = await t.get(`/api/incidents/${resolvedId}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ id: resolvedId, status: 'resolved', alerts: { firing: 0, resolved: 1 } });
    expect(body.alertDetails[0]).toMatchObject({ fingerprint: '5f1c0b6a2d9e7c43', status: 'resolved' });
    expect(body.audit.map((entry: { type: string }) => entry.type)).toEqual(
      expect.arrayContaining(['incident.opened', 'action.requested', 'incident.resolved']),
    );
  });

  it('answers 404 for an unknown incident and 400 for a malformed id', async () => {
    expect((await t.get('/api/incidents/20260101-deadbeef')).status).toBe(404);
    expect((await t.get('/api/incidents/..%2F..%2Fetc')).status).toBe(400);
  });

  it('flips the kill switch only with a reason, and records who did it', async () => {
    const put = (body: unknown) =>
      fetch(`${t.runtime.url}/api/automation`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await put({ enabled: false })).status).toBe(400);
    expect((await put({ enabled: 'no', reason: 'maintenance' })).status).toBe(400);
    const off = await put({ enabled: false, reason: 'maintenance window', by: 'alice' });
    expect(off.status).toBe(200);
    expect(await off.json()).toMatchObject({
      effective: false,
      runtimeFlag: { enabled: false, changedBy: 'alice', reason: 'maintenance window' },
    });
    expect((await t.get('/api/automation')).body.effective).toBe(false);
    const day = new Date().toISOString().slice(0, 10);
    const trail = await t.runtime.store.listSystemAudit(day);
    expect(trail.map((entry) => entry.message)).toContain('automation disabled: maintenance window');
    await put({ enabled: true, reason: 'maintenance over' });
    expect((await t.get('/api/automation')).body.effective).toBe(true);
  });

  it('answers 404 for unknown routes and 405 for wrong methods', async () => {
    expect((await t.get('/api/nothing')).status).toBe(404);
    const post = await fetch(`${t.runtime.url}/api/incidents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKEN}` },
    });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
  });
});
