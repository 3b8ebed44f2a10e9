import { PublishCommand, type PublishCommandInput, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SnsPager } from '../src/adapters/sns-pager.ts';
import type { ResponderConfig, Severity } from '../src/config/schema.ts';
import type { IncidentAlert } from '../src/domain/incident.ts';
import {
  ackKeyOf,
  ackKeysOf,
  signAckToken,
  verifyAckToken,
  verifyAckTokenWithKeys,
} from '../src/escalation/ack-link.ts';
import { Escalator } from '../src/escalation/escalator.ts';
import { SMS_MAX_CHARS, SNS_MESSAGE_MAX_BYTES, toSubject } from '../src/escalation/pages.ts';
import { recordIncident } from '../src/incidents/record-incident.ts';
import { DependencyUnavailableError, type StateStore, silentLog } from '../src/ports.ts';
import { raceGate } from './support/async.ts';
import { startTestRuntime, type TestRuntime, testConfig } from './support/runtime.ts';

const ARNS = Object.fromEntries(
  ['on-call', 'team-lead', 'cto', 'security', 'dba'].map((name) => [
    name,
    `arn:aws:sns:eu-west-1:123456789012:responder-${name}`,
  ]),
);
const KEY = 'k'.repeat(48);
const PUBLIC_URL = 'https://api.example.com';
const T0 = Date.parse('2026-11-23T03:00:00.000Z');
const minutes = (n: number) => n * 60_000;

const sns = mockClient(SNSClient);
let t: TestRuntime;
let store: StateStore;
let now = T0;
const clock = { now: () => new Date(now) };
let sequence = 0;

beforeAll(async () => {
  t = await startTestRuntime();
  store = t.runtime.store;
});
afterAll(async () => {
  await t.stop();
});
beforeEach(() => {
  sns.reset();
  sns.on(PublishCommand).callsFake(async () => ({ MessageId: `m-${++sequence}` }));
  now = T0;
});

function escalator(config: ResponderConfig = testConfig()) {
  return new Escalator({
    config,
    incidents: store,
    escalations: store,
    audit: store,
    floodLimits: store,
    clock,
    log: silentLog,
    pager: new SnsPager({ client: new SNSClient({ region: 'eu-west-1' }), topicArns: ARNS }),
    links: { publicUrl: PUBLIC_URL, ackKey: async () => KEY },
  });
}

let groups = 0;
/** Opens (or, with status resolved, resolves) an incident the way ingest does. */
async function incident(
  severity: Severity,
  options: {
    labels?: Record<string, string>;
    alerts?: IncidentAlert[];
    title?: string;
    groupKey?: string;
    status?: 'firing' | 'resolved';
  } = {},
) {
  const labels = { alertname: 'HighErrorRate', service: 'payments-api', ...options.labels };
  const opened = await recordIncident(
    {
      groupKey: options.groupKey ?? `test-group-${++groups}`,
      status: options.status ?? 'firing',
      severity,
      title: options.title ?? 'HighErrorRate (payments-api): 5xx above 5%',
      labels,
      annotations: { summary: '5xx above 5%' },
      alerts: options.alerts ?? [],
      receiver: 'responder',
      externalURL: 'http://alertmanager.internal:9093',
      truncatedAlerts: 0,
      resolvedBecause: 'test',
      auditData: {},
    },
    { incidents: store, audit: store, clock, auditRetentionDays: 30, actor: 'test' },
  );
  if (!opened) throw new Error('no incident');
  current = opened.id;
  return opened;
}

/** The test's own incident's publishes: earlier tests' escalations share the table and may come due too. */
let current = '';
const publishes = (): PublishCommandInput[] =>
  sns
    .commandCalls(PublishCommand)
    .map((call) => call.args[0].input)
    .filter((input) => input.MessageAttributes?.incident_id?.StringValue === current);
const topicsPaged = () => publishes().map((input) => input.TopicArn?.split('responder-')[1]);
const bodies = (input: PublishCommandInput) => JSON.parse(input.Message ?? '{}') as Record<string, string>;

describe('SNS pages: the exact commands', () => {
  it.each([
    ['P1', '15 minutes'],
    ['P2', '1 hour'],
    ['P3', '4 hours'],
    ['P4', 'the next business day'],
  ] as const)(
    'a %s incident pages the on-call topic once, with every protocol and attribute',
    async (severity, within) => {
      // GIVEN an open incident
      const opened = await incident(severity);
      // WHEN its escalation starts
      await escalator().reconcile(opened.id);
      // THEN one publish to the on-call topic, as a subscription filter policy needs it
      expect(publishes()).toHaveLength(1);
      const [input] = publishes();
      if (!input) throw new Error('no publish');
      expect(input.TopicArn).toBe(ARNS['on-call']);
      expect(input.MessageStructure).toBe('json');
      expect(input.Subject).toBe(`[${severity}] payments-api: HighErrorRate (payments-api): 5xx above 5%`);
      expect(input.MessageAttributes).toEqual({
        severity: { DataType: 'String', StringValue: severity },
        tier: { DataType: 'String', StringValue: 'on-call' },
        incident_id: { DataType: 'String', StringValue: opened.id },
        service: { DataType: 'String', StringValue: 'payments-api' },
        event: { DataType: 'String', StringValue: 'page' },
      });
      const message = bodies(input);
      expect(Object.keys(message).sort()).toEqual(['default', 'email', 'https', 'sms']);
      // a signed ack link that verifies, in every human-facing body
      const ack = /https:\/\/api\.example\.com\/ack\/(\S+)/.exec(message.sms ?? '')?.[1] ?? '';
      const verified = verifyAckToken(KEY, ack, clock.now());
      expect(verified).toMatchObject({ ok: true, token: { incidentId: opened.id, tier: 'on-call' } });
      expect(message.sms?.length).toBeLessThanOrEqual(SMS_MAX_CHARS);
      expect(message.email).toContain(`Severity: ${severity} (respond within ${within})`);
      expect(message.email).toContain(`Acknowledge: ${PUBLIC_URL}/ack/${ack}`);
      expect(message.email).toContain(`Details: ${PUBLIC_URL}/api/incidents/${opened.id}`);
      const doc = JSON.parse(message.https ?? '{}');
      expect(doc).toMatchObject({
        schema: 'responder.page/v1',
        event: 'page',
        incident: { id: opened.id, severity, status: 'open', service: 'payments-api' },
        tier: { name: 'on-call', level: 0, topic: 'on-call' },
        respondWithin: within,
        links: { ack: `${PUBLIC_URL}/ack/${ack}`, incident: `${PUBLIC_URL}/api/incidents/${opened.id}` },
      });
    },
  );

  it.each([
    [{ category: 'security' }, ['on-call', 'security']],
    [{ category: 'database' }, ['on-call', 'dba']],
    [{ category: 'network' }, ['on-call']],
  ])('extra routes by label: %o also pages %o', async (labels, topics) => {
    const opened = await incident('P2', { labels });
    await escalator().reconcile(opened.id);
    expect(topicsPaged().sort()).toEqual([...topics].sort());
    const extra = publishes().find((input) => input.TopicArn !== ARNS['on-call']);
    if (extra) {
      expect(extra.MessageAttributes?.tier?.StringValue).toBe(labels.category);
      expect(bodies(extra).email).toContain(`labels match the ${labels.category} route`);
    }
  });

  it('truncates a huge incident to fit 256 KB with a note, never failing, and keeps the subject legal', async () => {
    // GIVEN 500 alerts with long annotations (about 300 KB: as much as a DynamoDB item holds) and a long, non-ASCII title
    const alerts: IncidentAlert[] = Array.from({ length: 500 }, (_, i) => ({
      fingerprint: `fp-${i}`,
      status: 'firing',
      labels: { alertname: 'DiskFull', instance: `db-${i}.internal:9100` },
      annotations: { description: 'x'.repeat(500) },
      startsAt: '2026-11-23T02:00:00.000Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus.internal:9090/graph',
    }));
    const title = `Dépassement — ${'très '.repeat(60)}long\nsecond line`;
    const opened = await incident('P1', { alerts, title });
    // WHEN it pages
    await escalator().reconcile(opened.id);
    // THEN the publish fits SNS and says what was left out
    const [input] = publishes();
    if (!input) throw new Error('no publish');
    expect(Buffer.byteLength(input.Message ?? '')).toBeLessThanOrEqual(SNS_MESSAGE_MAX_BYTES);
    expect(input.Subject?.length).toBeLessThanOrEqual(100);
    expect(input.Subject).toMatch(/^\[P1\] payments-api: Depassement - tres tres [ -~]+\.\.\.$/);
    const message = bodies(input);
    const stored = opened.alerts.length;
    expect(stored + opened.truncatedAlerts).toBe(500);
    expect(message.email).toContain(`Truncated to fit SNS's 256 KB message limit: `);
    expect(message.email).toMatch(new RegExp(`: \\d+ of ${stored} alerts left out`));
    const doc = JSON.parse(message.https ?? '{}');
    expect(doc.truncated.alertsOmitted).toBeGreaterThan(0);
    expect(doc.alerts.length + doc.truncated.alertsOmitted).toBe(stored);
    expect(doc.alerts.length).toBeGreaterThan(50);
  });

  it('stays under 256 KB when free text outside the alerts is huge (a 70 KB service label and Alertmanager URL)', async () => {
    const opened = await incident('P1', { labels: { service: 's'.repeat(70_000) } });
    await store.saveIncident(
      { ...opened, externalURL: `http://am/${'u'.repeat(70_000)}`, version: opened.version + 1 },
      opened.version,
    );
    await escalator().reconcile(opened.id);
    const [input] = publishes();
    expect(Buffer.byteLength(input?.Message ?? '')).toBeLessThanOrEqual(SNS_MESSAGE_MAX_BYTES);
    expect(input?.MessageAttributes?.service?.StringValue?.length).toBeLessThanOrEqual(256);
  });

  it('keeps word breaks and dashes in an SMS when the title has line breaks or an em dash', async () => {
    const opened = await incident('P2', { title: 'Disk full\non db-1 — café' });
    await escalator().reconcile(opened.id);
    expect(bodies(publishes()[0] ?? { Message: '{}' }).sms).toMatch(
      /^P2 payments-api: Disk full on db-1 - cafe Ack: /,
    );
  });

  it('folds any subject to printable ASCII of at most 100 characters', () => {
    expect(toSubject('\u{1F525} prod is down')).toMatch(/^[ -~]{1,100}$/);
    expect(toSubject('a'.repeat(300))).toHaveLength(100);
    expect(toSubject('Ünïcödé\ttabs\r\nand lines')).toBe('Unicode tabs and lines');
  });

  it('SNS throttling loses nothing and doubles nothing: the failed topic stays due, the next sweep sends only it', async () => {
    // GIVEN SNS throttles the security topic once
    let throttled = 0;
    sns.on(PublishCommand).callsFake(async (input: PublishCommandInput) => {
      if (input.TopicArn === ARNS.security && throttled++ === 0) {
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottledException' });
      }
      return { MessageId: `m-${++sequence}` };
    });
    const opened = await incident('P1', { labels: { category: 'security' } });
    // WHEN the escalation starts, the failure surfaces for a retry
    await expect(escalator().reconcile(opened.id)).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect((await store.getEscalation(opened.id))?.sent.map((s) => s.topic)).toEqual(['on-call']);
    // THEN the sweep sends the security page only
    now += 30_000;
    await escalator().sweep();
    expect(topicsPaged()).toEqual(['on-call', 'security', 'security']);
    expect((await store.getEscalation(opened.id))?.sent.map((s) => s.topic).sort()).toEqual([
      'on-call',
      'security',
    ]);
  });
});

describe('Escalation under the page limit', () => {
  it('an SNS outage does not use up the page limit: the page is sent when SNS recovers, not held back', async () => {
    // GIVEN at most 3 pages per window (a window no other test uses), and SNS down for a while
    now = T0 + 10 * 86_400_000;
    let down = true;
    sns.on(PublishCommand).callsFake(async () => {
      if (down) throw Object.assign(new Error('Service unavailable'), { name: 'InternalErrorException' });
      return { MessageId: `m-${++sequence}` };
    });
    const config = testConfig({ floodLimits: { pages: 3 } });
    const opened = await incident('P1');
    // WHEN the first page and five retries a minute apart all fail
    await expect(escalator(config).reconcile(opened.id)).rejects.toBeInstanceOf(DependencyUnavailableError);
    // (retried for this incident alone: a sweep would also page other tests' incidents)
    for (let retry = 0; retry < 5; retry++) {
      now += 60_000;
      await expect(escalator(config).reconcile(opened.id)).rejects.toBeInstanceOf(DependencyUnavailableError);
    }
    // THEN once SNS answers, the next retry pages on-call for real
    down = false;
    now += 60_000;
    await escalator(config).reconcile(opened.id);
    const sent = (await store.getEscalation(opened.id))?.sent ?? [];
    expect(sent).toEqual([
      expect.objectContaining({ tier: 'on-call', messageId: expect.stringMatching(/^m-/) }),
    ]);
  });
});

describe('Escalation over time, with an injected clock', () => {
  /** Racing callers; with `slowSns()`, each publish waits until the other racers are done or publishing. */
  const gate = raceGate();
  /** An SNS that answers only once every other racer is done or publishing too, as if slow. */
  const slowSns = () =>
    sns.on(PublishCommand).callsFake(async () => {
      await gate.hold();
      return { MessageId: `m-${++sequence}` };
    });
  /** Two sweepers in separate containers, sweeping at the same moment. */
  const sweepTwice = async () => {
    await gate.race(
      () => escalator().sweep(),
      () => escalator().sweep(),
    );
  };

  it('walks a P1 through on-call, team lead and CTO, each paged once, however many sweeps', async () => {
    const opened = await incident('P1');
    await escalator().reconcile(opened.id);
    const at = async (offset: number) => {
      now = T0 + offset;
      await escalator().sweep();
      return topicsPaged();
    };
    expect(topicsPaged()).toEqual(['on-call']);
    expect(await at(minutes(14))).toEqual(['on-call']);
    expect(await at(minutes(15))).toEqual(['on-call', 'team-lead']);
    const teamLead = publishes()[1];
    expect(teamLead?.MessageAttributes?.tier?.StringValue).toBe('team-lead');
    expect(bodies(teamLead ?? { Message: '{}' }).email).toContain(
      'nobody acknowledged within 15 minutes of paging on-call',
    );
    expect(await at(minutes(29))).toEqual(['on-call', 'team-lead']);
    expect(await at(minutes(30))).toEqual(['on-call', 'team-lead', 'cto']);
    expect(await at(minutes(120))).toEqual(['on-call', 'team-lead', 'cto']);
    // with every tier paged, the sweeper only looks again hourly (in case a resolution was lost)
    expect((await store.getEscalation(opened.id))?.dueAt).toBe(new Date(T0 + minutes(180)).toISOString());
  });

  it.each([
    [0, ['on-call']],
    [1, ['on-call', 'team-lead']],
    [2, ['on-call', 'team-lead', 'cto']],
  ])(
    'an acknowledgement after tier %i stops the rest and tells exactly the tiers paged',
    async (tier, paged) => {
      const opened = await incident('P1');
      await escalator().reconcile(opened.id);
      for (let step = 1; step <= tier; step++) {
        now = T0 + minutes(15 * step);
        await escalator().sweep();
      }
      expect(topicsPaged()).toEqual(paged);
      // WHEN someone acknowledges
      now += minutes(1);
      const result = await escalator().acknowledge(opened.id, 'Alice', 'api');
      expect(result.outcome).toBe('acknowledged');
      // THEN each paged topic hears who, once
      const notices = publishes().slice(paged.length);
      expect(notices.map((input) => input.TopicArn?.split('responder-')[1])).toEqual(paged);
      for (const notice of notices) {
        expect(notice.MessageAttributes?.event?.StringValue).toBe('acknowledged');
        expect(notice.Subject).toMatch(/^\[P1 ACK\] Alice acknowledged payments-api: HighErrorRate/);
        expect(bodies(notice).email).toContain('by "Alice" (the name they gave)');
      }
      // AND no later sweep pages anyone
      for (const offset of [30, 60, 240]) {
        now = T0 + minutes(offset);
        await sweepTwice();
      }
      expect(publishes()).toHaveLength(paged.length * 2);
      // a second acknowledgement changes nothing
      expect((await escalator().acknowledge(opened.id, 'Bob', 'api')).outcome).toBe('already-acknowledged');
      expect((await store.getEscalation(opened.id))?.acknowledged?.by).toBe('Alice');
    },
  );

  it('resolution stops the escalation and notifies every tier paged', async () => {
    const opened = await incident('P1', { groupKey: 'resolving-group' });
    await escalator().reconcile(opened.id);
    now = T0 + minutes(16);
    await escalator().sweep();
    expect(topicsPaged()).toEqual(['on-call', 'team-lead']);
    // WHEN the alert resolves and ingest asks the escalation to follow
    now = T0 + minutes(20);
    await incident('P1', { groupKey: 'resolving-group', status: 'resolved' });
    await escalator().reconcile(opened.id);
    // THEN
    const notices = publishes().slice(2);
    expect(notices.map((input) => input.TopicArn?.split('responder-')[1])).toEqual(['on-call', 'team-lead']);
    expect(notices.every((input) => input.MessageAttributes?.event?.StringValue === 'resolved')).toBe(true);
    expect(notices[0]?.Subject).toMatch(/^\[RESOLVED P1\]/);
    now = T0 + minutes(240);
    await sweepTwice();
    expect(publishes()).toHaveLength(4);
    expect((await store.getEscalation(opened.id))?.status).toBe('resolved');
  });

  it('the sweeper ends an escalation whose incident resolved while its request was lost', async () => {
    const opened = await incident('P2', { groupKey: 'lost-resolution' });
    await escalator().reconcile(opened.id);
    now = T0 + minutes(10);
    await incident('P2', { groupKey: 'lost-resolution', status: 'resolved' });
    // no reconcile: the next tier comes due, and the sweeper notices the incident is over
    now = T0 + minutes(61);
    await escalator().sweep();
    expect(topicsPaged()).toEqual(['on-call', 'on-call']);
    expect(publishes()[1]?.MessageAttributes?.event?.StringValue).toBe('resolved');
  });

  it('two racing sweepers page each tier once, even when SNS is slow', async () => {
    slowSns();
    const opened = await incident('P1', { labels: { category: 'database' } });
    // two deliveries of the same start, at once
    await gate.race(
      () => escalator().reconcile(opened.id),
      () => escalator().reconcile(opened.id),
    );
    for (const offset of [15, 15, 16, 30, 31, 45]) {
      now = T0 + minutes(offset);
      await sweepTwice();
    }
    expect(topicsPaged().sort()).toEqual(['cto', 'dba', 'on-call', 'team-lead']);
    expect(new Set((await store.getEscalation(opened.id))?.sent.map((s) => s.key)).size).toBe(4);
  });

  it('one escalator racing itself (as in the local runtime) pages each tier once', async () => {
    slowSns();
    const opened = await incident('P1');
    const shared = escalator();
    await gate.race(
      () => shared.reconcile(opened.id),
      () => shared.reconcile(opened.id),
      () => shared.sweep(),
    );
    now = T0 + minutes(15);
    await gate.race(
      () => shared.sweep(),
      () => shared.sweep(),
    );
    expect(topicsPaged()).toEqual(['on-call', 'team-lead']);
  });

  it('an acknowledgement during a send stops the pages not yet published', async () => {
    // GIVEN an SNS whose first publish hangs until the test lets it answer, and a P1 that pages
    // on-call and security in one round
    let publishing = () => {};
    const started = new Promise<void>((resolve) => {
      publishing = resolve;
    });
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let calls = 0;
    sns.on(PublishCommand).callsFake(async () => {
      if (++calls === 1) {
        publishing();
        await released;
      }
      return { MessageId: `m-${++sequence}` };
    });
    const opened = await incident('P1', { labels: { category: 'security' } });
    // WHEN someone acknowledges while the on-call page is being published
    const sending = escalator().reconcile(opened.id);
    await started;
    expect((await escalator().acknowledge(opened.id, 'Alice', 'api')).outcome).toBe('acknowledged');
    release();
    await sending;
    // THEN security is never paged, and on-call hears of the acknowledgement
    expect(
      publishes().map(
        (input) => `${input.MessageAttributes?.event?.StringValue}:${input.TopicArn?.split('responder-')[1]}`,
      ),
    ).toEqual(['page:on-call', 'acknowledged:on-call']);
  });

  it('a lost resolution is caught by the hourly re-check even after every tier was paged', async () => {
    const opened = await incident('P3', { groupKey: 'lost-after-all-paged' });
    await escalator().reconcile(opened.id);
    now = T0 + minutes(5);
    await incident('P3', { groupKey: 'lost-after-all-paged', status: 'resolved' });
    now = T0 + minutes(59);
    await escalator().sweep();
    expect(topicsPaged()).toEqual(['on-call']);
    now = T0 + minutes(61);
    await escalator().sweep();
    expect(topicsPaged()).toEqual(['on-call', 'on-call']);
    expect(publishes()[1]?.MessageAttributes?.event?.StringValue).toBe('resolved');
    expect((await store.getEscalation(opened.id))?.dueAt).toBeUndefined();
  });

  it('group updates never page a tier again; a raised severity pages the next tier now and the one after on its delay', async () => {
    const opened = await incident('P3', { groupKey: 'raising' });
    await escalator().reconcile(opened.id);
    for (let i = 0; i < 3; i++) await escalator().reconcile(opened.id);
    expect(topicsPaged()).toEqual(['on-call']);
    // WHEN 20 minutes later an update raises it to P1
    now = T0 + minutes(20);
    await incident('P1', { groupKey: 'raising' });
    await escalator().reconcile(opened.id);
    // THEN on-call is not paged again; team lead (15 minutes after on-call was paged) is paged now,
    // and the CTO 15 minutes after that, not at once
    expect(topicsPaged()).toEqual(['on-call', 'team-lead']);
    now = T0 + minutes(34);
    await escalator().sweep();
    expect(topicsPaged()).toEqual(['on-call', 'team-lead']);
    now = T0 + minutes(35);
    await escalator().sweep();
    expect(topicsPaged()).toEqual(['on-call', 'team-lead', 'cto']);
  });

  it('a dry run reports what it would page and sends nothing', async () => {
    const opened = await incident('P1', { labels: { category: 'security' } });
    const report = await escalator().reconcile(opened.id, { dryRun: true });
    expect(report.wouldSend).toEqual([
      { event: 'page', tier: 'on-call', topic: 'on-call' },
      { event: 'page', tier: 'security', topic: 'security' },
    ]);
    expect(publishes()).toHaveLength(0);
    expect(await store.getEscalation(opened.id)).toBeUndefined();
  });
});

describe('Signed ack links', () => {
  const token = (expiresAt: Date) =>
    signAckToken(KEY, { incidentId: '20261123-0a1b2c3d', tier: 'on-call', expiresAt });

  it('verify until they expire, and refuse any change', () => {
    const valid = token(new Date(T0 + minutes(60)));
    expect(verifyAckToken(KEY, valid, new Date(T0))).toMatchObject({ ok: true });
    expect(verifyAckToken(KEY, valid, new Date(T0 + minutes(60)))).toEqual({ ok: false, reason: 'expired' });
    const [id, tier, expiry, sig] = valid.split('.');
    expect(verifyAckToken(KEY, [id, 'cto', expiry, sig].join('.'), new Date(T0)).ok).toBe(false);
    expect(verifyAckToken(KEY, [id, tier, 'zzzzzz', sig].join('.'), new Date(T0)).ok).toBe(false);
    expect(verifyAckToken(KEY, [id?.replace('0a', '0b'), tier, expiry, sig].join('.'), new Date(T0)).ok).toBe(
      false,
    );
    expect(verifyAckToken('o'.repeat(48), valid, new Date(T0))).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
    expect(verifyAckToken(KEY, 'not-a-token', new Date(T0))).toEqual({ ok: false, reason: 'malformed' });
  });

  it('after a rotation: the previous key verifies its links until they expire, never one expiring later than it could have signed', () => {
    const NEW = 'n'.repeat(48);
    const replacedAt = new Date(T0);
    const keys = { current: NEW, previous: { key: KEY, replacedAt } };
    const lifetime = minutes(24 * 60);
    const signedBefore = token(new Date(T0 + minutes(60)));
    expect(verifyAckTokenWithKeys(keys, signedBefore, new Date(T0 + minutes(30)), lifetime)).toMatchObject({
      ok: true,
    });
    expect(verifyAckTokenWithKeys(keys, signedBefore, new Date(T0 + minutes(60)), lifetime)).toEqual({
      ok: false,
      reason: 'expired',
    });
    const forged = token(new Date(T0 + lifetime + minutes(1)));
    expect(verifyAckTokenWithKeys(keys, forged, new Date(T0), lifetime)).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
    const signedNow = signAckToken(NEW, {
      incidentId: '20261123-0a1b2c3d',
      tier: 'on-call',
      expiresAt: new Date(T0 + minutes(60)),
    });
    expect(verifyAckTokenWithKeys(keys, signedNow, new Date(T0), lifetime)).toMatchObject({ ok: true });
    // Without a previous key, only the current one.
    expect(verifyAckTokenWithKeys({ current: NEW }, signedBefore, new Date(T0), lifetime).ok).toBe(false);
  });

  it('take the previous key only when it is usable and the rotation date is known', () => {
    const current = { value: JSON.stringify({ key: 'n'.repeat(48) }), createdAt: new Date(T0) };
    expect(ackKeysOf({ current, previous: { value: JSON.stringify({ key: KEY }) } })).toEqual({
      current: 'n'.repeat(48),
      previous: { key: KEY, replacedAt: new Date(T0) },
    });
    expect(ackKeysOf({ current: { value: current.value }, previous: { value: KEY } })).toEqual({
      current: 'n'.repeat(48),
    });
    expect(ackKeysOf({ current, previous: { value: 'short' } })).toEqual({ current: 'n'.repeat(48) });
  });

  it('read the key from a JSON secret or a plain one, and refuse a short key', () => {
    expect(ackKeyOf(JSON.stringify({ key: KEY }))).toBe(KEY);
    expect(ackKeyOf(KEY)).toBe(KEY);
    expect(() => ackKeyOf('short')).toThrow(/shorter than 32 characters/);
  });
});
