import { ChangeResourceRecordSetsCommand, GetChangeCommand, Route53Client } from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Route53DnsZone } from '../src/adapters/route53-dns-zone.ts';
import { type ActionRequest, actionRequestSchema } from '../src/domain/actions.ts';
import { failoverConfigInput, httpSite } from './support/failover.ts';
import { startTestRuntime, type TestRuntime, testConfig } from './support/runtime.ts';

describe('Failover, records mode: the Route 53 calls, exactly', () => {
  const r53 = mockClient(Route53Client);
  afterAll(() => r53.restore());
  const record = { name: 'api.example.com', type: 'A' as const, ttl: 60, values: ['203.0.113.10'] };
  const zone = (sleeps: number[], now = () => 0) =>
    new Route53DnsZone({
      client: new Route53Client({ region: 'us-east-1' }),
      hostedZoneId: 'Z0123456789ABC',
      insyncTimeoutMs: 10_000,
      pollIntervalMs: 1000,
      baseDelayMs: 200,
      random: () => 0.5,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      now,
    });
  const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: {} });

  beforeEach(() => r53.reset());

  it('UPSERTs one record set, then polls GetChange until INSYNC', async () => {
    r53
      .on(ChangeResourceRecordSetsCommand)
      .resolves({ ChangeInfo: { Id: '/change/C1', Status: 'PENDING', SubmittedAt: new Date() } });
    r53
      .on(GetChangeCommand)
      .resolvesOnce({ ChangeInfo: { Id: '/change/C1', Status: 'PENDING', SubmittedAt: new Date() } })
      .resolves({ ChangeInfo: { Id: '/change/C1', Status: 'INSYNC', SubmittedAt: new Date() } });
    const sleeps: number[] = [];
    const applied = await zone(sleeps).upsertRecord(record);
    expect(applied.changeId).toBe('/change/C1');
    expect(r53.commandCalls(ChangeResourceRecordSetsCommand).map((c) => c.args[0].input)).toEqual([
      {
        HostedZoneId: 'Z0123456789ABC',
        ChangeBatch: {
          Comment: 'Responder failover',
          Changes: [
            {
              Action: 'UPSERT',
              ResourceRecordSet: {
                Name: 'api.example.com.',
                Type: 'A',
                TTL: 60,
                ResourceRecords: [{ Value: '203.0.113.10' }],
              },
            },
          ],
        },
      },
    ]);
    expect(r53.commandCalls(GetChangeCommand).map((c) => c.args[0].input)).toEqual([
      { Id: '/change/C1' },
      { Id: '/change/C1' },
    ]);
    expect(sleeps).toEqual([1000]);
  });

  it('retries Throttling and PriorRequestNotComplete with jittered exponential backoff', async () => {
    r53
      .on(ChangeResourceRecordSetsCommand)
      .rejectsOnce(throttled())
      .rejectsOnce(
        Object.assign(
          new Error('The request was rejected because Route 53 was still processing a prior request.'),
          { name: 'PriorRequestNotComplete', $metadata: {} },
        ),
      )
      .resolves({ ChangeInfo: { Id: '/change/C2', Status: 'PENDING', SubmittedAt: new Date() } });
    r53
      .on(GetChangeCommand)
      .resolves({ ChangeInfo: { Id: '/change/C2', Status: 'INSYNC', SubmittedAt: new Date() } });
    const sleeps: number[] = [];
    await zone(sleeps).upsertRecord(record);
    expect(r53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(3);
    // random() = 0.5: half of 200 ms, then half of 400 ms.
    expect(sleeps).toEqual([100, 200]);
  });

  it('gives up after the bound, and on an error a retry cannot fix', async () => {
    r53.on(ChangeResourceRecordSetsCommand).rejects(throttled());
    const sleeps: number[] = [];
    await expect(zone(sleeps).upsertRecord(record)).rejects.toThrow(
      /refused the change after 6 attempts: Throttling/,
    );
    expect(r53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(6);
    expect(sleeps).toEqual([100, 200, 400, 800, 1600]);
    r53.reset();
    r53
      .on(ChangeResourceRecordSetsCommand)
      .rejects(Object.assign(new Error('not allowed'), { name: 'InvalidChangeBatch', $metadata: {} }));
    await expect(zone([]).upsertRecord(record)).rejects.toThrow(/after 1 attempt: InvalidChangeBatch/);
  });

  it('stops polling GetChange at its bound and says the change may not be served everywhere', async () => {
    r53
      .on(ChangeResourceRecordSetsCommand)
      .resolves({ ChangeInfo: { Id: '/change/C3', Status: 'PENDING', SubmittedAt: new Date() } });
    r53
      .on(GetChangeCommand)
      .resolves({ ChangeInfo: { Id: '/change/C3', Status: 'PENDING', SubmittedAt: new Date() } });
    let clock = 0;
    const sleeps: number[] = [];
    const slow = zone(sleeps, () => clock);
    (slow as unknown as { sleep: (ms: number) => Promise<void> }).sleep = async (ms) => {
      sleeps.push(ms);
      clock += ms;
    };
    await expect(slow.upsertRecord(record)).rejects.toThrow(/was not INSYNC within 10 s \(still PENDING\)/);
    expect(r53.commandCalls(GetChangeCommand).length).toBe(11);
  });
});

describe('Failover, switch mode, through the local runtime: every gate refuses on its own', () => {
  let t: TestRuntime;
  let primary: Awaited<ReturnType<typeof httpSite>>;
  let dr: Awaited<ReturnType<typeof httpSite>>;
  let config: ReturnType<typeof testConfig>;
  let n = 0;
  const request = (params: Record<string, unknown>, extra: Partial<ActionRequest> = {}): ActionRequest =>
    actionRequestSchema.parse({
      actionId: `test-failover-${Date.now()}-${++n}`,
      kind: 'failover',
      trigger: 'operator',
      requestedAt: new Date().toISOString(),
      dryRun: false,
      params,
      ...extra,
    });
  const run = async (params: Record<string, unknown>, extra: Partial<ActionRequest> = {}) => {
    const result = await t.runtime.runAction('failover', request(params, extra));
    if (result.status !== 'done')
      return { status: 'skipped', summary: result.reason, result: undefined } as const;
    return result.outcome;
  };
  const reset = async () => {
    const state = await t.runtime.failoverStore.getFailoverState();
    if (state.active !== 'primary' || state.lastChange) {
      await t.runtime.failoverStore.saveFailoverState(
        { active: 'primary', version: state.version + 1 },
        state.version,
      );
    }
  };

  beforeAll(async () => {
    primary = await httpSite();
    dr = await httpSite();
    config = testConfig(
      failoverConfigInput(
        { primary: primary.url, dr: dr.url },
        {
          record: { name: 'api.payments.test', type: 'A', ttl: 30 },
          failbackConsecutiveHealthy: 2,
          cooldownMinutes: 30,
          policy: { alert: 'approve', operator: 'auto' },
        },
      ),
    );
    t = await startTestRuntime({ config });
  });
  afterAll(async () => {
    await t?.stop();
    primary?.close();
    dr?.close();
  });
  beforeEach(async () => {
    primary.healthy = false;
    dr.healthy = true;
    await reset();
    await t.runtime.store.setAutomationFlag({ enabled: true });
  });

  it('moves the switch when every gate passes, audits each gate and step, and a second request finds nothing to do', async () => {
    const outcome = await run({ to: 'dr', by: 'alice' });
    expect(outcome.status, outcome.summary).toBe('completed');
    const state = await t.runtime.failoverStore.getFailoverState();
    expect(state).toMatchObject({ active: 'dr', lastChange: { from: 'primary', to: 'dr', by: 'alice' } });
    const gates = (outcome.result as { gates: Array<{ gate: string; ok: boolean }> }).gates.map(
      (g) => g.gate,
    );
    expect(gates).toEqual(['policy', 'lock', 'cooldown', 'primary-down', 'dr-ready']);
    const again = await run({ to: 'dr' });
    expect(again.summary).toMatch(/refused at already-there: the DR site is already active/);
  });

  it('refuses with the kill switch off, and changes nothing', async () => {
    await t.runtime.store.setAutomationFlag({ enabled: false, reason: 'test' });
    const outcome = await run({ to: 'dr' });
    expect(outcome.status).toBe('skipped');
    expect((await t.runtime.failoverStore.getFailoverState()).active).toBe('primary');
  });

  it('refuses while the primary answers, and while the DR site is not ready', async () => {
    primary.healthy = true;
    expect((await run({ to: 'dr' })).summary).toMatch(/refused at primary-down: the primary answers/);
    primary.healthy = false;
    dr.healthy = false;
    expect((await run({ to: 'dr' })).summary).toMatch(/refused at dr-ready: the DR site is not ready/);
    expect((await t.runtime.failoverStore.getFailoverState()).active).toBe('primary');
  });

  it('refuses while another failover holds the lock', async () => {
    const now = new Date();
    expect(
      await t.runtime.failoverStore.lockFailover('someone-else', now, new Date(now.getTime() + 60_000)),
    ).toBe(true);
    expect((await run({ to: 'dr' })).summary).toMatch(/refused at lock: another failover is running/);
    await t.runtime.failoverStore.unlockFailover('someone-else');
    expect((await t.runtime.failoverStore.getFailoverState()).active).toBe('primary');
  });

  it('refuses within the cooldown; an operator may force it with a reason; failback needs the primary healthy N times', async () => {
    expect((await run({ to: 'dr' })).status).toBe('completed');
    primary.healthy = true;
    const cooling = await run({ to: 'primary' });
    expect(cooling.summary).toMatch(/refused at cooldown: .*pass --force with --reason/);
    expect((await run({ to: 'primary', force: true })).summary).toMatch(/refused at cooldown/);
    primary.healthy = false;
    expect((await run({ to: 'primary', force: true, reason: 'drill' })).summary).toMatch(
      /refused at primary-healthy: probe 1 of 2/,
    );
    primary.healthy = true;
    const back = await run({ to: 'primary', force: true, reason: 'drill over' });
    expect(back.status, back.summary).toBe('completed');
    expect(await t.runtime.failoverStore.getFailoverState()).toMatchObject({
      active: 'primary',
      lastChange: { to: 'primary', forced: true, reason: 'drill over' },
    });
  });

  it('a denied policy refuses', async () => {
    const { createFailoverAction } = await import('../functions/failover/failover-dns.ts');
    const denying = {
      ...config,
      failover: {
        ...(config.failover as NonNullable<typeof config.failover>),
        policy: { alert: 'deny' as const, operator: 'deny' as const },
      },
    };
    const perform = createFailoverAction({
      config: denying,
      store: t.runtime.failoverStore,
      probe: async () => [],
      audit: t.runtime.store,
      clock: { now: () => new Date() },
      log: { debug() {}, info() {}, warn() {}, error() {} },
    });
    const outcome = await perform(request({ to: 'dr' }));
    expect(outcome.summary).toMatch(/refused at policy: policy\.operator is "deny"/);
    expect((await t.runtime.failoverStore.getFailoverState()).active).toBe('primary');
  });

  it('an alert asks for approval (a P1 page); approving runs the gates again; an approval works once and expires', async () => {
    const asked = await run({ to: 'dr' }, { trigger: 'alert' });
    expect(asked.summary).toMatch(/waits for approval until .*: responder failover approve test-failover-/);
    expect((await t.runtime.failoverStore.getFailoverState()).active).toBe('primary');
    const requestId = (asked.result as { approval: { requestId: string } }).approval.requestId;
    const incidents = await t.get('/api/incidents?status=open');
    expect(
      incidents.body.incidents.find(
        (i: { labels: Record<string, string> }) => i.labels.alertname === 'FailoverApproval',
      ),
    ).toMatchObject({ severity: 'P1' });
    // The world changed: the primary came back, so approving refuses.
    primary.healthy = true;
    expect((await run({ approve: requestId, by: 'bob' })).summary).toMatch(/refused at primary-down/);
    expect((await run({ approve: requestId, by: 'bob' })).summary).toMatch(
      /cannot be approved: it is approved/,
    );
    // A new request, approved while the gates pass.
    primary.healthy = false;
    const second = await run({ to: 'dr' }, { trigger: 'alert' });
    const secondId = (second.result as { approval: { requestId: string } }).approval.requestId;
    const approved = await run({ approve: secondId, by: 'bob' });
    expect(approved.status, approved.summary).toBe('completed');
    expect((await t.runtime.failoverStore.getFailoverState()).lastChange).toMatchObject({
      by: 'bob',
      requestId: expect.any(String),
    });
    // An expired approval cannot be used.
    await reset();
    const third = await run({ to: 'dr' }, { trigger: 'alert' });
    const thirdId = (third.result as { approval: { requestId: string } }).approval.requestId;
    const stored = await t.runtime.failoverStore.getApproval(thirdId);
    if (!stored) throw new Error('the approval was not stored');
    await t.runtime.failoverStore.saveApproval({
      ...stored,
      expiresAt: new Date(Date.now() - 1000).toISOString(),
    });
    expect((await run({ approve: thirdId })).summary).toMatch(/cannot be approved: it expired at/);
    expect((await t.runtime.failoverStore.getFailoverState()).active).toBe('primary');
  });

  it('Aurora without the old region: refused (nothing changed) until the data loss is accepted, by flag or by approval', async () => {
    const { createFailoverAction } = await import('../functions/failover/failover-dns.ts');
    const promoted: Array<{ sourceAnswers: boolean; allowDataLoss: boolean }> = [];
    const aurora = (overLag: 'refuse' | 'approve') =>
      createFailoverAction({
        config: {
          ...config,
          failover: {
            ...(config.failover as NonNullable<typeof config.failover>),
            database: {
              engine: 'aurora-global',
              globalClusterIdentifier: 'payments',
              drClusterArn: 'arn:aws:rds:eu-central-1:123456789012:cluster:payments-dr',
              primaryClusterArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:payments',
              maxLagSeconds: 30,
              overLag,
              promoteTimeoutSeconds: 300,
              fence: { ignoreDatabases: ['rdsadmin'] },
              connectTimeoutSeconds: 5,
            },
          },
        },
        store: t.runtime.failoverStore,
        database: {
          engine: 'aurora-global',
          inspect: async (site) =>
            site === 'dr'
              ? { role: 'replica', detail: 'the DR cluster is a secondary' }
              : { role: 'writer', detail: 'the primary cluster is the writer' },
          fence: async () => ({
            reachable: false,
            fenced: false,
            detail: 'NOT FENCED: eu-west-1 does not answer',
          }),
          promote: async (_site, options) => {
            promoted.push({ sourceAnswers: options.sourceAnswers, allowDataLoss: options.allowDataLoss });
            return { detail: 'FailoverGlobalCluster: the DR cluster is the writer' };
          },
        },
        probe: async (names) =>
          names.map((name) => ({ target: name, ok: name !== 'primary-health', detail: 'test' })) as never,
        audit: t.runtime.store,
        clock: { now: () => new Date() },
        log: { debug() {}, info() {}, warn() {}, error() {} },
      });
    const refusedNow = await aurora('refuse')(request({ to: 'dr' }));
    expect(refusedNow.status).toBe('recorded');
    expect(refusedNow.summary).toMatch(
      /refused at database: the primary region's cluster does not answer, so no switchover/,
    );
    expect(promoted).toEqual([]);
    expect((await t.runtime.failoverStore.getFailoverState()).active).toBe('primary');
    // Under overLag "approve" a human is asked; approving accepts the loss and fails over.
    const asking = aurora('approve');
    const asked = await asking(request({ to: 'dr' }));
    const requestId = (asked.result as { approval: { requestId: string } }).approval.requestId;
    expect(promoted).toEqual([]);
    const approved = await asking(request({ approve: requestId, by: 'dana' }));
    expect(approved.status, approved.summary).toBe('completed');
    expect(promoted).toEqual([{ sourceAnswers: false, allowDataLoss: true }]);
    await reset();
    // An operator's flag does the same.
    const flagged = await aurora('refuse')(request({ to: 'dr', acceptDataLoss: true }));
    expect(flagged.status, flagged.summary).toBe('completed');
    expect(promoted.at(-1)).toEqual({ sourceAnswers: false, allowDataLoss: true });
  });

  it('approving a lagging replica accepts the loss the page stated, not one that grew past it', async () => {
    const { createFailoverAction } = await import('../functions/failover/failover-dns.ts');
    let lag = 5;
    let promotions = 0;
    const perform = createFailoverAction({
      config: {
        ...config,
        failover: {
          ...(config.failover as NonNullable<typeof config.failover>),
          database: {
            engine: 'postgres-standby',
            primarySecret: 'test/a',
            drSecret: 'test/b',
            maxLagSeconds: 1,
            overLag: 'approve',
            promoteTimeoutSeconds: 30,
            fence: { ignoreDatabases: ['rdsadmin'] },
            connectTimeoutSeconds: 5,
          },
        },
      },
      store: t.runtime.failoverStore,
      database: {
        engine: 'postgres-standby',
        inspect: async (site) =>
          site === 'dr'
            ? { role: 'replica', lagSeconds: lag, streaming: true, detail: `the DR database lags ${lag} s` }
            : { role: 'writer', detail: 'the primary database writes' },
        fence: async () => ({ reachable: false, fenced: false, detail: 'NOT FENCED: gone' }),
        promote: async () => {
          promotions += 1;
          return { detail: 'promoted' };
        },
      },
      probe: async (names) =>
        names.map((name) => ({ target: name, ok: name !== 'primary-health', detail: 'test' })) as never,
      audit: t.runtime.store,
      clock: { now: () => new Date() },
      log: { debug() {}, info() {}, warn() {}, error() {} },
    });
    const asked = await perform(request({ to: 'dr' }));
    expect(asked.summary).toMatch(/waits for approval/);
    const first = (asked.result as { approval: { requestId: string } }).approval.requestId;
    lag = 40;
    const grown = await perform(request({ approve: first, by: 'frank' }));
    // The loss grew past what the page stated: nothing is promoted, and a human is asked again.
    expect(grown.summary).toMatch(/waits for approval/);
    const gates = (grown.result as { gates: Array<{ gate: string; detail: string }> }).gates;
    expect(gates.find((gate) => gate.gate === 'database')?.detail).toMatch(
      /the loss grew beyond what was approved \(up to 35 s\)/,
    );
    expect(promotions).toBe(0);
    lag = 5;
    const again = await perform(request({ to: 'dr' }));
    const second = (again.result as { approval: { requestId: string } }).approval.requestId;
    lag = 8;
    const approved = await perform(request({ approve: second, by: 'frank' }));
    expect(approved.status, approved.summary).toBe('completed');
    expect(promotions).toBe(1);
  });

  it('20 concurrent requests fail over once; a dry run runs every gate, prints the change and changes nothing', async () => {
    const dry = await run({ to: 'dr' }, { dryRun: true });
    expect(dry.summary).toBe(
      'dry run: every gate passes; would change switch: the DR region\'s switch moves to "dr" (Route 53 then answers 127.0.0.2 for api.payments.test A)',
    );
    expect((await t.runtime.failoverStore.getFailoverState()).active).toBe('primary');
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => run({ to: 'dr' })));
    expect(outcomes.filter((o) => o.status === 'completed')).toHaveLength(1);
    expect(
      outcomes
        .filter((o) => o.status === 'recorded')
        .every((o) => /refused at (lock|already-there)/.test(o.summary ?? '')),
    ).toBe(true);
    const state = await t.runtime.failoverStore.getFailoverState();
    expect(state).toMatchObject({ active: 'dr', version: expect.any(Number) });
  });
});

describe('Failover end to end in the local runtime: alert, approval, DNS answers DR, failback', () => {
  let t: TestRuntime;
  let primary: Awaited<ReturnType<typeof httpSite>>;
  let dr: Awaited<ReturnType<typeof httpSite>>;
  const resolveRecord = async () => {
    const { Resolver } = await import('node:dns/promises');
    const resolver = new Resolver({ timeout: 1000, tries: 1 });
    resolver.setServers([`127.0.0.1:${t.runtime.dnsPort}`]);
    return resolver.resolve4('api.payments.test');
  };

  beforeAll(async () => {
    primary = await httpSite();
    dr = await httpSite();
    t = await startTestRuntime({
      config: testConfig({
        local: { dnsPort: 0 },
        ...failoverConfigInput(
          { primary: primary.url, dr: dr.url },
          { failbackConsecutiveHealthy: 2, cooldownMinutes: 0 },
        ),
      }),
    });
  });
  afterAll(async () => {
    await t?.stop();
    primary?.close();
    dr?.close();
  });

  it('the primary fails, an alert asks, an operator approves, DNS answers the DR site; failback answers the primary', async () => {
    expect(await resolveRecord()).toEqual(['127.0.0.1']);
    primary.healthy = false;
    // Alertmanager's PrimarySiteDown: the route asks for failover; the alert policy asks for approval.
    const firing = {
      version: '4',
      groupKey: '{}:{alertname="PrimarySiteDown"}',
      truncatedAlerts: 0,
      status: 'firing',
      receiver: 'responder',
      groupLabels: { alertname: 'PrimarySiteDown' },
      commonLabels: { alertname: 'PrimarySiteDown', severity: 'critical' },
      commonAnnotations: { summary: 'primary site down' },
      externalURL: 'http://alertmanager:9093',
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'PrimarySiteDown', severity: 'critical' },
          annotations: { summary: 'primary site down' },
          startsAt: new Date().toISOString(),
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: 'http://prometheus/graph',
          fingerprint: 'f0a1b2c3d4e5f607',
        },
      ],
    };
    expect((await t.post('/alertmanager', firing)).status).toBe(202);
    await t.runtime.dispatcher.idle();
    const open = await t.get('/api/incidents?status=open');
    const approvalIncident = open.body.incidents.find(
      (i: { labels: Record<string, string> }) => i.labels.alertname === 'FailoverApproval',
    );
    expect(approvalIncident).toMatchObject({ severity: 'P1' });
    const requestId = /responder failover approve (\S+)/.exec(
      (await t.get(`/api/incidents/${approvalIncident.id}`)).body.annotations.summary,
    )?.[1];
    expect(requestId).toBeTruthy();
    expect(await resolveRecord()).toEqual(['127.0.0.1']);

    // The page carries a signed approve link: a GET shows a button, an altered link is refused.
    const summaryText = (await t.get(`/api/incidents/${approvalIncident.id}`)).body.annotations
      .summary as string;
    const link = /or open (http\S+)/.exec(summaryText)?.[1] as string;
    expect(link).toMatch(/\/approve\/[A-Za-z0-9_-]+\.[0-9a-z]+\.[A-Za-z0-9_-]{22}$/);
    const page = await fetch(link);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Approve failover</button>');
    const altered = link.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    expect(
      (
        await fetch(altered, {
          method: 'POST',
          body: 'by=mallory',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        })
      ).status,
    ).toBe(403);
    expect(await resolveRecord()).toEqual(['127.0.0.1']);
    const approvedPage = await fetch(link, {
      method: 'POST',
      body: 'by=alice',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(approvedPage.status).toBe(200);
    expect(await approvedPage.text()).toContain('<h1>Failed over</h1>');
    // The same approval again: it works once.
    const twice = await t.post(`/api/failover/approvals/${requestId}`, { by: 'alice' });
    expect(twice.body.summary).toMatch(/cannot be approved: it is approved/);
    expect(await resolveRecord()).toEqual(['127.0.0.2']);
    const status = await t.get('/api/failover');
    expect(status.body.result).toMatchObject({
      active: 'dr',
      lastChange: { by: 'alice', from: 'primary', to: 'dr' },
    });

    // The audit trail shows every gate and step, with timings.
    const audit = (await t.get(`/api/incidents/${approvalIncident.id}`)).body.audit as Array<{
      type: string;
      data: Record<string, unknown>;
    }>;
    const failoverEntries = audit.filter((e) => e.type.startsWith('failover.'));
    expect(failoverEntries.map((e) => e.data.gate)).toEqual(
      expect.arrayContaining([
        'approval',
        'lock',
        'cooldown',
        'primary-down',
        'dr-ready',
        'step:move',
        'step:dns-answers',
        'step:site-passes',
      ]),
    );
    expect(failoverEntries.every((e) => typeof e.data.ms === 'number')).toBe(true);

    // Failback, by an operator, once the primary is healthy again.
    primary.healthy = true;
    const back = await t.post('/api/failover', { to: 'primary', by: 'bob' });
    expect(back.body.status, back.body.summary).toBe('completed');
    expect(await resolveRecord()).toEqual(['127.0.0.1']);
  });
});
