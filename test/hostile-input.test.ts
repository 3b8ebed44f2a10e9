import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleAlertmanagerWebhook, type IngestDeps } from '../functions/ingest/ingest-alerts.ts';
import { parseCredential } from '../src/adapters/secrets-manager-credentials.ts';
import { compileRoutes } from '../src/domain/routing.ts';
import { oneLine, personName, safeHttpUrl } from '../src/domain/text.ts';
import { buildPage } from '../src/escalation/pages.ts';
import { authenticate } from '../src/http/auth.ts';
import type { HttpRequest } from '../src/http/types.ts';
import { DependencyUnavailableError, silentLog, systemClock } from '../src/ports.ts';
import {
  auditOf,
  type Json,
  loadEvent,
  startTestRuntime,
  TEST_TOKEN,
  type TestRuntime,
  testConfig,
} from './support/runtime.ts';

// Everything an alert carries is hostile: label values named like Object.prototype's members, control
// characters, megabytes of whitespace, forged links, oversized keys. None of it may crash, wedge,
// silence paging or earn a 5xx (which Alertmanager would retry for ever).

const firing = () => loadEvent('firing.json') as Json;

describe('hostile alert content through the webhook', () => {
  let t: TestRuntime;
  beforeAll(async () => {
    t = await startTestRuntime({ config: testConfig({ webhook: { maxBodyBytes: 10 * 1024 * 1024 } }) });
  });
  afterAll(async () => {
    await t.stop();
  });

  const withGroup = (body: Json, groupKey: string) => {
    body.groupKey = groupKey;
    return body;
  };

  it.each([['constructor'], ['toString'], ['__proto__'], ['hasOwnProperty'], ['valueOf']])(
    'a severity label %s gets the default severity, pages, and the group takes later deliveries',
    async (value) => {
      // GIVEN an alert whose severity label names a built-in of Object.prototype
      const body = withGroup(firing(), `{}:{alertname="Proto-${value}"}`);
      body.commonLabels.severity = value;
      body.alerts[0].labels.severity = value;
      body.alerts[0].labels.priority = value;
      // WHEN
      const first = await t.post('/alertmanager', body);
      body.alerts.push({ ...structuredClone(body.alerts[0]), fingerprint: `${value}-second` });
      const second = await t.post('/alertmanager', body);
      // THEN a real severity, an escalation that is not a dry run, and no 503 for the group after
      expect(first.status).toBe(202);
      expect(first.body.incident.severity).toBe('P3');
      expect(first.body.actions).toContainEqual(expect.objectContaining({ kind: 'escalate', dryRun: false }));
      expect(second.status).toBe(202);
      const listed = await t.get('/api/incidents');
      expect(listed.status).toBe(200);
      expect(listed.body.incidents.find((i: Json) => i.id === first.body.incident.id).severity).toBe('P3');
    },
  );

  it('refuses a label named __proto__ by name (400) instead of dropping it', async () => {
    const body = withGroup(firing(), '{}:{alertname="ProtoName"}');
    body.alerts[0].labels = JSON.parse('{"__proto__": {"polluted": "yes"}, "alertname": "ProtoName"}');
    body.alerts[0].annotations = JSON.parse('{"__proto__": "x"}');
    const response = await t.post('/alertmanager', body);
    expect(response.status).toBe(400);
    expect(response.body.details).toContain(
      'alerts[0].annotations.__proto__: the name __proto__ is reserved',
    );
    expect(({} as Json).polluted).toBeUndefined();
  });

  it('keeps labels named constructor and toString as ordinary labels', async () => {
    const body = withGroup(firing(), '{}:{alertname="BuiltinNames"}');
    body.alerts[0].labels = { alertname: 'BuiltinNames', constructor: 'c', toString: 't' };
    const response = await t.post('/alertmanager', body);
    expect(response.status).toBe(202);
    const incident = await t.get(`/api/incidents/${response.body.incident.id}`);
    expect(incident.body.alertDetails[0].labels).toEqual(body.alerts[0].labels);
  });

  it('counts the same fingerprint twice in one delivery as one alert', async () => {
    const body = withGroup(firing(), '{}:{alertname="Twice"}');
    body.alerts.push(structuredClone(body.alerts[0]));
    const response = await t.post('/alertmanager', body);
    const incident = await t.get(`/api/incidents/${response.body.incident.id}`);
    expect(incident.body.alerts.firing).toBe(1);
    expect(incident.body.alertDetails).toHaveLength(1);
  });

  it('refuses label names longer than 1 KiB with a 400 that names the field', async () => {
    const body = withGroup(firing(), '{}:{alertname="LongName"}');
    body.alerts[0].labels['n'.repeat(2000)] = 'x';
    const response = await t.post('/alertmanager', body);
    expect(response.status).toBe(400);
    expect(response.body.details.join(' ')).toMatch(/alerts\[0\]\.labels\.n+: expected a name of 1 to 1024/);
  });

  it('cuts a 600 KB groupKey and receiver to fit the item, and keeps the group apart from others', async () => {
    const key = (tail: string) => `{}:{alertname="${'k'.repeat(600_000)}${tail}"}`;
    const one = withGroup(firing(), key('a'));
    one.receiver = 'r'.repeat(600_000);
    const other = withGroup(firing(), key('b'));
    const a = await t.post('/alertmanager', one);
    const b = await t.post('/alertmanager', other);
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(a.body.incident.id).not.toBe(b.body.incident.id);
    const shown = (await t.get(`/api/incidents/${a.body.incident.id}`)).body;
    expect(shown.groupKey.length).toBeLessThanOrEqual(1024);
    expect(shown.receiver.length).toBeLessThanOrEqual(256);
  });

  it('1 MiB of whitespace in every free-text field: accepted, one-line bounded title, /healthz stays responsive', async () => {
    // GIVEN a delivery whose every free-text field is a megabyte of spaces with a word at the end
    const blank = (word: string) => `${' '.repeat(1024 * 1024)}${word}`;
    const body = withGroup(firing(), '{}:{alertname="Whitespace"}');
    body.commonLabels = { alertname: blank('Whitespace'), service: blank('svc'), severity: 'critical' };
    body.commonAnnotations = { summary: blank(':x'), description: blank('d') };
    body.alerts[0].labels = { alertname: 'Whitespace', instance: blank('i') };
    body.alerts[0].annotations = { description: blank('d') };
    body.receiver = blank('r');
    body.externalURL = blank('http://x');
    body.alerts[0].generatorURL = blank('http://y');
    // WHEN it is posted while /healthz is polled
    let slowest = 0;
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const started = performance.now();
        await fetch(`${t.runtime.url}/healthz`);
        slowest = Math.max(slowest, performance.now() - started);
        // Paces the probe, waits for nothing: a stall long enough to matter spans several polls.
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    const response = await t.post('/alertmanager', body);
    await t.runtime.dispatcher.idle();
    polling = false;
    await poll;
    // THEN
    expect(response.status).toBe(202);
    const incident = (await t.get(`/api/incidents/${response.body.incident.id}`)).body;
    expect(incident.title).toMatch(/^Whitespace \(svc\): :x$/);
    expect(incident.externalURL).toBe('');
    // The quadratic title regex took seconds here; the 100 ms target is measured by `npm run bench`.
    expect(slowest).toBeLessThan(500);
  });

  it('keeps externalURL and generatorURL only when they are http(s) URLs', async () => {
    const body = withGroup(firing(), '{}:{alertname="Urls"}');
    body.externalURL = 'javascript:alert(1)';
    body.alerts[0].generatorURL = 'data:text/html,<script>';
    const bad = await t.post('/alertmanager', body);
    const badIncident = (await t.get(`/api/incidents/${bad.body.incident.id}`)).body;
    expect(badIncident.externalURL).toBe('');
    expect(badIncident.alertDetails[0].generatorURL).toBe('');
    const good = withGroup(firing(), '{}:{alertname="GoodUrls"}');
    const ok = await t.post('/alertmanager', good);
    const okIncident = (await t.get(`/api/incidents/${ok.body.incident.id}`)).body;
    expect(okIncident.externalURL).toBe(good.externalURL);
  });

  it('one alert labelled responder_dry_run="true" does not mute the pages of the real alerts beside it', async () => {
    const body = withGroup(loadEvent('multiple-alerts.json') as Json, '{}:{alertname="MixedDryRun"}');
    body.alerts[0].labels.responder_dry_run = 'true';
    const response = await t.post('/alertmanager', body);
    expect(response.body.actions).toContainEqual(
      expect.objectContaining({ kind: 'escalate', dryRun: false }),
    );
    const allLabelled = withGroup(loadEvent('multiple-alerts.json') as Json, '{}:{alertname="AllDryRun"}');
    for (const alert of allLabelled.alerts) alert.labels.responder_dry_run = 'true';
    const dry = await t.post('/alertmanager', allLabelled);
    expect(dry.body.actions).toContainEqual(expect.objectContaining({ kind: 'escalate', dryRun: true }));
  });
});

describe('status codes a client can rely on', () => {
  let t: TestRuntime;
  let incidentId: string;
  beforeAll(async () => {
    t = await startTestRuntime();
    incidentId = (await t.post('/alertmanager', loadEvent('firing.json'))).body.incident.id;
  });
  afterAll(async () => {
    await t.stop();
  });
  const call = (method: string, path: string, init: RequestInit = {}) =>
    fetch(`${t.runtime.url}${path}`, {
      method,
      ...init,
      headers: { authorization: `Bearer ${TEST_TOKEN}`, ...(init.headers as Record<string, string>) },
    });

  it.each([['GET'], ['PUT'], ['DELETE']])('%s /alertmanager answers 405 with Allow: POST', async (method) => {
    const response = await call(method, '/alertmanager');
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });

  it('HEAD /healthz answers 200 without a body', async () => {
    const response = await fetch(`${t.runtime.url}/healthz`, { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
  });

  it('OPTIONS answers 204 with the allowed methods and no CORS grant', async () => {
    const response = await fetch(`${t.runtime.url}/api/automation`, { method: 'OPTIONS' });
    expect(response.status).toBe(204);
    expect(response.headers.get('allow')).toBe('GET, PUT');
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('a gzip body answers 415, not "not valid JSON"', async () => {
    const response = await call('POST', '/alertmanager', {
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: JSON.stringify(loadEvent('firing.json')),
    });
    expect(response.status).toBe(415);
  });

  it.each([['/ack/'], [`/ack/${'a'.repeat(300)}`], ['/ack/a/b']])(
    'an impossible ack token %# answers 403 without a login challenge',
    async (path) => {
      const response = await fetch(`${t.runtime.url}${path}`);
      expect(response.status).toBe(403);
      expect(response.headers.get('www-authenticate')).toBeNull();
    },
  );

  it('the 401 challenge is Bearer only, so browsers do not offer to keep a password', async () => {
    const response = await fetch(`${t.runtime.url}/api/incidents`);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="responder"');
  });

  it.each([
    ['not base64 at all!'],
    ['eyJwayI6ICJ4In0'],
    [Buffer.from('{"pk":"INC#x"}').toString('base64url')],
  ])('a malformed cursor %s answers 400', async (cursor) => {
    const response = await t.get(`/api/incidents?cursor=${encodeURIComponent(cursor)}`);
    expect(response.status).toBe(400);
    expect(response.body.details.join(' ')).toMatch(/cursor/);
  });

  it('a cursor the API handed out still pages', async () => {
    await t.post('/alertmanager', { ...loadEvent('multiple-alerts.json') });
    const first = await t.get('/api/incidents?limit=1');
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await t.get(`/api/incidents?limit=1&cursor=${first.body.nextCursor}`);
    expect(second.status).toBe(200);
    expect(second.body.incidents).toHaveLength(1);
  });

  describe('cross-site requests are refused', () => {
    it('a text/plain POST does not acknowledge', async () => {
      const response = await call('POST', `/api/incidents/${incidentId}/ack`, {
        headers: { 'content-type': 'text/plain' },
        body: '{"by":"mallory"}',
      });
      expect(response.status).toBe(415);
      const incident = (await t.get(`/api/incidents/${incidentId}`)).body;
      expect(incident.escalation?.acknowledged ?? null).toBeNull();
    });

    it('an empty form POST does not run the probes', async () => {
      const response = await call('POST', '/api/probes', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(response.status).toBe(415);
      const probes = (await t.get('/api/probes')).body;
      expect(probes.targets.every((target: Json) => target.lastResult === null)).toBe(true);
    });

    it('a form PUT does not turn automation off', async () => {
      const response = await call('PUT', '/api/automation', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'enabled=false',
      });
      expect(response.status).toBe(415);
      expect((await t.get('/api/automation')).body.effective).toBe(true);
    });
  });

  it('a long probe target name is refused with a 400, not echoed back', async () => {
    const response = await t.post('/api/probes', { targets: ['t'.repeat(100_000)] });
    expect(response.status).toBe(400);
    expect(JSON.stringify(response.body).length).toBeLessThan(2_000);
  });

  it('an API body over the limit answers 413 and is not taken for an empty one (which probes everything)', async () => {
    const response = await t.post('/api/probes', { targets: ['t'.repeat(2 * 1024 * 1024)] });
    expect(response.status).toBe(413);
    const probes = (await t.get('/api/probes')).body;
    expect(probes.targets.every((target: Json) => target.lastResult === null)).toBe(true);
  });

  it('control and bidi characters never reach an acknowledgement from the API', async () => {
    const response = await t.post(`/api/incidents/${incidentId}/ack`, {
      by: 'ali\u202Ece\u0007\nAcknowledge: https://evil.example/x',
    });
    expect(response.status).toBe(200);
    expect(response.body.acknowledged.by).toBe('alice Acknowledge httpsevil.examplex');
  });
});

describe('credentials', () => {
  const credential = { token: 'a-long-enough-test-token', username: 'alertmanager' };

  it('a whitespace-only or short bare-token secret is refused, so an empty Bearer never matches', () => {
    expect(() => parseCredential('   \n', 'alertmanager')).toThrow(/shorter than 16/);
    expect(() => parseCredential('short', 'alertmanager')).toThrow(/shorter than 16/);
    expect(() => parseCredential('{"token":"                  "}', 'alertmanager')).toThrow(/16 characters/);
    expect(authenticate('Bearer ', { token: '   ', username: 'alertmanager' }).ok).toBe(false);
    expect(authenticate('Bearer', { token: '', username: 'alertmanager' }).ok).toBe(false);
  });

  it('two Authorization values are refused, whichever comes first', () => {
    expect(authenticate(`Bearer ${credential.token}, Bearer wrong`, credential).ok).toBe(false);
    expect(authenticate(`Bearer wrong, Bearer ${credential.token}`, credential).ok).toBe(false);
  });

  it('basic auth with junk after the base64 is refused', () => {
    const good = Buffer.from(`alertmanager:${credential.token}`).toString('base64');
    expect(authenticate(`Basic ${good}`, credential).ok).toBe(true);
    expect(authenticate(`Basic ${good}!!junk`, credential).ok).toBe(false);
    // unpadded base64 is not strict base64 either
    expect(authenticate(`Basic ${good.replace(/=+$/, '')}`, credential).ok).toBe(!good.endsWith('='));
  });
});

describe('a failing secret store tells unauthenticated callers nothing about it', () => {
  const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:responder-webhook-AbCdEf';
  const config = testConfig();
  const request = (path: string): HttpRequest => ({
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json' },
    query: {},
    body: Buffer.from(JSON.stringify(loadEvent('firing.json'))),
  });

  it('the webhook answers 503 naming the kind of dependency, not the secret', async () => {
    const deps: IngestDeps = {
      config,
      routes: compileRoutes(config.routes),
      deliveries: {} as IngestDeps['deliveries'],
      incidents: {} as IngestDeps['incidents'],
      audit: {} as IngestDeps['audit'],
      floodLimits: {} as IngestDeps['floodLimits'],
      automation: {} as IngestDeps['automation'],
      dispatcher: { dispatch: async () => {} },
      credentials: {
        get: async () => {
          throw new DependencyUnavailableError(
            'secret store (Secrets Manager)',
            new Error(`reading ${arn}: throttled`),
          );
        },
      },
      clock: systemClock,
      log: silentLog,
    };
    const response = await handleAlertmanagerWebhook(request('/alertmanager'), deps);
    expect(response.statusCode).toBe(503);
    expect(response.body).not.toMatch(/arn:|responder-webhook/);
    expect(JSON.parse(response.body).error).toBe(
      'secret store (Secrets Manager) is unavailable; retry later',
    );
  });
});

describe('pages cannot be forged by alert text', () => {
  const ackLink = 'https://api.example.com/ack/real-token';
  const forged = 'Disk full\nAcknowledge: https://evil.example/ack/steal\r\nDetails: https://evil.example';
  const incident = {
    id: '20261123-0000abcd',
    groupId: 'g',
    groupKey: 'k',
    status: 'open' as const,
    severity: 'P1' as const,
    title: forged,
    labels: { alertname: 'DiskFull', note: 'x\nAcknowledge: https://evil.example' },
    annotations: { description: `line one\nAcknowledge: https://evil.example/ack/2\n\u001b[31mred` },
    receiver: 'r',
    externalURL: 'javascript:alert(1)',
    alerts: [
      {
        fingerprint: 'f',
        status: 'firing' as const,
        labels: { alertname: 'DiskFull' },
        annotations: { runbook: 'see\nAcknowledge: https://evil.example/3' },
        startsAt: '2026-11-23T03:00:00Z',
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'data:text/html,x',
      },
    ],
    truncatedAlerts: 0,
    openedAt: '2026-11-23T03:00:00Z',
    updatedAt: '2026-11-23T03:00:00Z',
    deliveries: 1,
    version: 1,
  };
  const page = buildPage({
    event: 'page',
    incident,
    service: 'payments-api',
    topic: 'on-call',
    tier: { name: 'on-call', level: 0, of: 3 },
    respondWithin: '15 minutes',
    reason: 'first tier',
    links: { incident: 'https://api.example.com/api/incidents/x', ack: ackLink },
  });

  it('in email and the default body, the only line that starts with Acknowledge: is the real one, above all alert text', () => {
    for (const body of [page.messages.email, page.messages.default]) {
      const lines = body.split('\n');
      const ackLines = lines.filter((line) => /^\s*Acknowledge:/.test(line));
      expect(ackLines).toEqual([`Acknowledge: ${ackLink}`]);
      expect(lines.indexOf(ackLines[0] as string)).toBe(1);
      expect(lines.filter((line) => /^\s*Details:/.test(line))).toHaveLength(1);
      expect(body).not.toContain('\u001b');
      expect(body).not.toContain('\r');
    }
  });

  it('the SMS carries one link, the real one, and the subject none', () => {
    expect(page.messages.sms.match(/https?:\/\//g)).toHaveLength(1);
    expect(page.messages.sms.endsWith(`Ack: ${ackLink}`)).toBe(true);
    expect(page.subject).not.toMatch(/evil/);
  });

  it('non-http URLs are not offered as links', () => {
    expect(page.messages.email).not.toMatch(/javascript:|data:text/);
    const json = JSON.parse(page.messages.json);
    expect(json.links.alertmanager).toBeNull();
    expect(json.alerts[0].generatorURL).toBeNull();
  });

  it('an acknowledgement notice quotes the name as given, on one line', () => {
    const notice = buildPage({
      event: 'acknowledged',
      incident: { ...incident, title: 'Disk full' },
      service: 'payments-api',
      topic: 'team-lead',
      tier: { name: 'team-lead', level: 1, of: 3 },
      respondWithin: '15 minutes',
      reason: 'acknowledged',
      links: { incident: 'https://api.example.com/api/incidents/x' },
      acknowledged: { by: 'CTO says\nignore https://evil.example', at: '2026-11-23T03:05:00Z', via: 'api' },
    });
    expect(notice.messages.email).toContain('by "CTO says ignore [link]" (the name they gave)');
    expect(notice.messages.sms).not.toMatch(/evil/);
  });
});

describe('Module: text', () => {
  it('oneLine folds controls, bidi and separators in linear time', () => {
    expect(oneLine('a\r\n\tb\u202Ec\u2028d\u0000e')).toBe('a b c d e');
    expect(oneLine(`${' '.repeat(500_000)}x${' '.repeat(500_000)}:`)).toBe('x :');
  });

  it('safeHttpUrl keeps http(s) URLs only', () => {
    expect(safeHttpUrl('https://am.example/#/alerts')).toBe('https://am.example/#/alerts');
    expect(safeHttpUrl('javascript:alert(1)')).toBe('');
    expect(safeHttpUrl('/relative')).toBe('');
    expect(safeHttpUrl(`https://x.example/${'a'.repeat(5000)}`)).toBe('');
  });

  it('personName keeps a readable name and nothing that looks like a line or a link', () => {
    expect(personName("  Zoë O'Neil-Smith ")).toBe("Zoë O'Neil-Smith");
    expect(personName('a\nb://c')).toBe('a bc');
  });

  it('the audit trail of a hostile delivery is bounded too', async () => {
    const t = await startTestRuntime();
    try {
      const body = firing();
      body.groupKey = `{}:{alertname="${'g'.repeat(500_000)}"}`;
      const response = await t.post('/alertmanager', body);
      expect(response.status).toBe(202);
      const opened = await auditOf(t.runtime.store, response.body.incident.id, 'incident.opened');
      expect(JSON.stringify(opened).length).toBeLessThan(10_000);
    } finally {
      await t.stop();
    }
  });
});

describe('two Authorization headers on the wire', () => {
  it('the local server refuses a valid credential followed by another one', async () => {
    const t = await startTestRuntime();
    try {
      const { connect } = await import('node:net');
      const port = Number(new URL(t.runtime.url).port);
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () =>
          socket.write(
            `GET /api/incidents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_TOKEN}\r\nAuthorization: Bearer not-the-token\r\nConnection: close\r\n\r\n`,
          ),
        );
        let text = '';
        socket.on('data', (chunk) => {
          text += chunk;
        });
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 401 Unauthorized');
    } finally {
      await t.stop();
    }
  });
});

describe('action requests stay under EventBridge limits whatever the alerts hold', () => {
  it('25 alerts with 20 KB labels each are cut so every request is far under 256 KB', async () => {
    // GIVEN a bus that records what it is asked to put
    const sizes: number[] = [];
    const t = await startTestRuntime({
      config: testConfig({ webhook: { maxBodyBytes: 4 * 1024 * 1024 } }),
      wrapDispatcher: (dispatcher) => ({
        dispatch: async (requests) => {
          for (const request of requests) sizes.push(Buffer.byteLength(JSON.stringify(request)));
          return dispatcher.dispatch(requests);
        },
      }),
    });
    try {
      const body = firing();
      const alert = body.alerts[0];
      body.alerts = Array.from({ length: 25 }, (_, n) => ({
        ...structuredClone(alert),
        fingerprint: `big-${n}`,
        labels: { ...alert.labels, blob: 'x'.repeat(20_000), [`n${n}`]: 'y'.repeat(20_000) },
      }));
      // WHEN it is routed (PostgresDown: probe + escalate)
      const response = await t.post('/alertmanager', body);
      // THEN
      expect(response.status).toBe(202);
      expect(sizes.length).toBeGreaterThan(0);
      expect(Math.max(...sizes)).toBeLessThan(200_000);
    } finally {
      await t.stop();
    }
  });

  it('the EventBridge adapter refuses an oversized entry before sending anything', async () => {
    const { EventBridgeDispatcher } = await import('../src/adapters/eventbridge-dispatcher.ts');
    let sent = 0;
    const send = async () => {
      sent += 1;
      return { Entries: [] };
    };
    const client = { send } as unknown as ConstructorParameters<typeof EventBridgeDispatcher>[0];
    const request = {
      actionId: 'oversized-request',
      kind: 'probe' as const,
      trigger: 'alert' as const,
      requestedAt: '2026-11-23T03:00:00Z',
      dryRun: false,
      params: { blob: 'x'.repeat(300_000) },
      alerts: [],
    };
    await expect(new EventBridgeDispatcher(client, 'bus').dispatch([request])).rejects.toThrow(
      /exceeds EventBridge's 256 KB entry limit/,
    );
    expect(sent).toBe(0);
  });
});
