import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import exampleConfig from '../responder.config.ts';
import { ConfigError, parseConfig } from '../src/config/schema.ts';
import { actionRequestSchema } from '../src/domain/actions.ts';
import { checkPayload, deliveryKeyOf, type WebhookPayload } from '../src/domain/alertmanager.ts';
import { matchesAll, parseMatcher } from '../src/domain/matchers.ts';
import { compileRoutes, planActions } from '../src/domain/routing.ts';
import { mostSevere, severityOfLabels } from '../src/domain/severity.ts';
import { planTiers } from '../src/escalation/policy.ts';
import { groupIdOf } from '../src/incidents/record-incident.ts';
import { nextFireTime } from '../src/local/schedules.ts';
import { loadEvent, testConfig } from './support/runtime.ts';

const payload = (name: string): WebhookPayload => {
  const checked = checkPayload(loadEvent(name));
  if (!checked.ok) throw new Error(checked.errors.join('\n'));
  return checked.payload;
};

describe('Config', () => {
  it('accepts the shipped example and fills the defaults', () => {
    const config = parseConfig(exampleConfig);
    expect(config.webhook).toMatchObject({ maxBodyBytes: 1048576, dedupeTtlSeconds: 86400 });
    expect(config.probes.schedule).toBe('rate(5 minutes)');
    expect(config.safety).toEqual({ automationEnabled: true, dryRun: false });
    expect(config.routes.map((route) => route.name)).toContain('database-trouble');
    expect(config.escalation).toMatchObject({ escalateAlerts: true, sweepSchedule: 'rate(1 minute)' });
    expect(Object.keys(config.escalation.topics)).toEqual(['on-call', 'team-lead', 'cto', 'security', 'dba']);
  });

  it.each([
    [
      { aws: { region: 'eu-west-1', drRegion: 'eu-west-1' } },
      /aws\.drRegion: drRegion must differ from region/,
    ],
    [{ aws: { region: 'Ireland', drRegion: 'eu-central-1' } }, /aws\.region: use an AWS region code/],
    [{ webhook: { maxBodyBytes: 100 } }, /webhook\.maxBodyBytes: allow at least 1024 bytes/],
    [
      { webhook: { maxBodyBytes: 20 * 1024 * 1024 } },
      /webhook\.maxBodyBytes: API Gateway caps payloads at 10 MiB/,
    ],
    [
      { probes: { schedule: 'every 5 minutes' } },
      /probes\.schedule: use an EventBridge Scheduler expression/,
    ],
    [
      { webhook: { credentialSecret: 'my secret value!' } },
      /webhook\.credentialSecret: reference the secret by its Secrets Manager name or ARN/,
    ],
    [{ logRetentionDays: 10 }, /logRetentionDays: use one of 7, 14, 30, 90, 180, 365/],
    [{ safety: { automationEnabled: 'no' } }, /safety\.automationEnabled:/],
    [{ webhok: {} }, /webhok.*remove it or check its spelling/],
    [
      { routes: [{ name: 'x', matchers: ['severity=critical"'], actions: [{ kind: 'escalate' }] }] },
      /routes\[0\]\.matchers\[0\]: invalid matcher 'severity=critical"': write it as label="value"/,
    ],
    [
      { routes: [{ name: 'x', matchers: [], actions: [{ kind: 'reboot' }] }] },
      /routes\[0\]\.actions\[0\]\.kind: use one of: probe, backup, rotate, failover, escalate/,
    ],
    [
      { routes: [{ name: 'x', matchers: [], actions: [] }] },
      /routes\[0\]\.actions: list at least one action/,
    ],
    [
      { routes: [{ name: 'Bad Name', actions: [{ kind: 'probe' }] }] },
      /routes\[0\]\.name: use lower-case letters/,
    ],
  ])('names the field and the fix: %j', (override, message) => {
    // GIVEN a valid config with one bad field
    const input = {
      service: 'payments-api',
      aws: { region: 'eu-west-1', drRegion: 'eu-central-1' },
      ...override,
    };
    // WHEN / THEN
    expect(() => parseConfig(input)).toThrow(ConfigError);
    expect(() => parseConfig(input)).toThrow(message);
  });
});

describe('Matchers', () => {
  it.each([
    ['severity="critical"', { severity: 'critical' }, true],
    ['severity="critical"', { severity: 'warning' }, false],
    ['severity!="critical"', { severity: 'warning' }, true],
    ['severity=~"crit.*|page"', { severity: 'page' }, true],
    ['severity=~"crit"', { severity: 'critical' }, false], // anchored, as in Alertmanager
    ['severity!~"info|debug"', { severity: 'critical' }, true],
    ['team=""', { severity: 'critical' }, true], // a missing label matches the empty string
    ['team!=""', { severity: 'critical' }, false],
    ['alertname = "Postgres Down"', { alertname: 'Postgres Down' }, true],
    ['summary="say \\"hi\\""', { summary: 'say "hi"' }, true],
  ])('%s against %j is %s', (text, labels, expected) => {
    expect(matchesAll([parseMatcher(text)], labels)).toBe(expected);
  });

  it.each([['severity'], ['=x'], ['severity=~"("'], ['9abc="x"']])('rejects %s with a hint', (text) => {
    expect(() => parseMatcher(text)).toThrow(/invalid matcher/);
  });
});

describe('Routing', () => {
  const routes = compileRoutes(testConfig().routes);

  it('sends an alert to the first matching route only', () => {
    const planned = planActions(payload('firing.json'), routes);
    expect(planned.map((action) => `${action.rule}:${action.kind}`)).toEqual([
      'database-trouble:probe',
      'database-trouble:escalate',
    ]);
    expect(planned[0]?.params).toEqual({ targets: ['database'] });
  });

  it('continues past a route that says so', () => {
    const config = testConfig({
      routes: [
        { name: 'probe-first', matchers: ['job="postgres"'], actions: [{ kind: 'probe' }], continue: true },
        { name: 'then-page', matchers: [], actions: [{ kind: 'escalate' }] },
      ],
    });
    const planned = planActions(payload('firing.json'), compileRoutes(config.routes));
    expect(planned.map((action) => action.rule)).toEqual(['probe-first', 'then-page']);
  });

  it('plans a rule once per delivery with all the alerts it matched', () => {
    const planned = planActions(payload('multiple-alerts.json'), routes);
    expect(planned).toHaveLength(1);
    expect(planned[0]?.alerts).toHaveLength(3);
  });

  it('acts on resolved deliveries only for rules that list resolved', () => {
    expect(planActions(payload('resolved.json'), routes)).toEqual([]);
  });
});

describe('Severity', () => {
  const rules = testConfig().severity;
  it.each([
    [{ severity: 'critical' }, 'P1'],
    [{ severity: 'WARNING' }, 'P3'],
    [{ severity: 'info' }, 'P4'],
    [{ priority: 'P2', severity: 'critical' }, 'P2'],
    [{ severity: 'unheard-of' }, 'P3'],
    [{}, 'P3'],
  ])('%j is %s', (labels, expected) => {
    expect(severityOfLabels(labels, rules)).toBe(expected);
  });

  it('takes the most severe of a group', () => {
    expect(mostSevere(['P3', 'P1', 'P4'], 'P3')).toBe('P1');
    expect(mostSevere([], 'P2')).toBe('P2');
  });
});

describe('Delivery identity', () => {
  it('is the same for a retry and differs when an alert changes', () => {
    const first = payload('firing.json');
    const retry = payload('firing.json');
    const refired = payload('firing.json');
    if (refired.alerts[0]) refired.alerts[0].startsAt = '2026-11-23T09:00:00Z';
    expect(deliveryKeyOf(retry)).toBe(deliveryKeyOf(first));
    expect(deliveryKeyOf(refired)).not.toBe(deliveryKeyOf(first));
    expect(deliveryKeyOf(payload('resolved.json'))).not.toBe(deliveryKeyOf(first));
    expect(groupIdOf(payload('resolved.json').groupKey)).toBe(groupIdOf(first.groupKey));
  });

  it('does not depend on the order of alerts', () => {
    const a = payload('multiple-alerts.json');
    const b = payload('multiple-alerts.json');
    b.alerts.reverse();
    expect(deliveryKeyOf(b)).toBe(deliveryKeyOf(a));
  });
});

describe('Schedules', () => {
  const at = new Date('2026-11-23T03:07:30Z');
  it.each([
    ['rate(5 minutes)', '2026-11-23T03:10:00.000Z'],
    ['rate(1 hour)', '2026-11-23T04:00:00.000Z'],
    ['cron(0 3 * * ? *)', '2026-11-24T03:00:00.000Z'],
    ['cron(15 * * * ? *)', '2026-11-23T03:15:00.000Z'],
    // EventBridge weekdays run 1 (Sunday) to 7: 2 is Monday; 2026-11-23 is a Monday
    ['cron(0 9 ? * 2 *)', '2026-11-23T09:00:00.000Z'],
    ['cron(0 9 ? * MON-FRI *)', '2026-11-23T09:00:00.000Z'],
  ])('%s fires next at %s', (expression, expected) => {
    expect(nextFireTime(expression, at).toISOString()).toBe(expected);
  });
});

describe('Sample events in events/', () => {
  const files = readdirSync(join(import.meta.dirname, '..', 'events')).filter((name) =>
    name.endsWith('.json'),
  );

  it.each(files)('%s is a valid Alertmanager payload or action request', (name) => {
    const event = loadEvent(name);
    const valid = 'alerts' in event ? checkPayload(event).ok : actionRequestSchema.safeParse(event).success;
    expect(valid).toBe(true);
  });

  it('the security sample routes to the security topic as well as on-call', () => {
    const { escalation } = parseConfig(exampleConfig);
    const event = loadEvent('security-incident.json') as unknown as WebhookPayload;
    const tiers = planTiers(escalation, 'P1', event.commonLabels);
    expect(tiers.filter((tier) => tier.level === 0).flatMap((tier) => tier.topics)).toEqual([
      'on-call',
      'security',
    ]);
  });
});

describe('Escalation config', () => {
  const base = { service: 'svc', aws: { region: 'eu-west-1', drRegion: 'eu-central-1' } };

  it('refuses an extra route named like a tier', () => {
    const config = {
      ...base,
      escalation: { routes: [{ name: 'cto', matchers: ['team="exec"'], topics: ['cto'] }] },
    };
    expect(() => parseConfig(config)).toThrow(/escalation\.routes\[0\]\.name: a tier is also called cto/);
  });

  it('ships the runbook matrix', () => {
    const { policy } = parseConfig(base).escalation;
    expect(policy.P1.tiers.map((tier) => [tier.name, tier.escalateAfterMinutes])).toEqual([
      ['on-call', 15],
      ['team-lead', 15],
      ['cto', undefined],
    ]);
    expect(policy.P2.tiers.map((tier) => tier.name)).toEqual(['on-call', 'team-lead']);
    expect(policy.P3.respondWithin).toBe('4 hours');
    expect(policy.P4.respondWithin).toBe('the next business day');
  });

  it('names the field and the fix for a bad policy or subscription', () => {
    const bad = {
      ...base,
      escalation: {
        topics: { 'on-call': { subscriptions: [{ protocol: 'sms', endpoint: '555-0100' }] } },
        policy: {
          P1: {
            respondWithin: '15 minutes',
            tiers: [
              { name: 'on-call', topics: ['on-call'] },
              { name: 'boss', topics: ['boss'] },
            ],
          },
          P2: { respondWithin: '1 hour', tiers: [{ name: 'on-call', topics: ['on-call'] }] },
          P3: { respondWithin: '4 hours', tiers: [{ name: 'on-call', topics: ['on-call'] }] },
          P4: { respondWithin: 'later', tiers: [{ name: 'on-call', topics: ['on-call'] }] },
        },
        routes: [],
      },
    };
    expect(() => parseConfig(bad)).toThrow(ConfigError);
    try {
      parseConfig(bad);
    } catch (error) {
      expect((error as ConfigError).issues).toEqual([
        'escalation.topics.on-call.subscriptions[0].endpoint: use an E.164 phone number such as "+14155550100"',
        'escalation.policy.P1.tiers[0].escalateAfterMinutes: say how many minutes to wait for an acknowledgement before paging the next tier',
        "escalation.policy.P1.tiers[1].topics[0]: no topic 'boss' in escalation.topics (known: on-call)",
      ]);
    }
  });
});

describe('failover.database and failover.drill config', () => {
  const withDatabase = (database: unknown, drill?: unknown) => {
    const example = parseConfig(exampleConfig);
    return {
      ...exampleConfig,
      failover: {
        ...exampleConfig.failover,
        database,
        ...(drill === undefined ? {} : { drill }),
      },
      probes: { ...exampleConfig.probes, targets: example.probes.targets },
    };
  };

  it('names the field and the fix for each mistake', () => {
    expect(() => parseConfig(withDatabase({ engine: 'postgres-standby', primarySecret: 'a' }))).toThrow(
      /failover\.database\.drSecret/,
    );
    expect(() =>
      parseConfig(withDatabase({ engine: 'postgres-standby', primarySecret: 'a', drSecret: 'a' })),
    ).toThrow(/failover\.database\.drSecret: the DR database needs its own secret/);
    expect(() => parseConfig(withDatabase({ engine: 'mysql' }))).toThrow(
      /failover\.database\.engine: use engine "postgres-standby", "rds-replica" or "aurora-global"/,
    );
    expect(() =>
      parseConfig(
        withDatabase({
          engine: 'aurora-global',
          globalClusterIdentifier: 'payments',
          drClusterArn: 'payments-dr',
          primaryClusterArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:payments',
        }),
      ),
    ).toThrow(/failover\.database\.drClusterArn: use the cluster ARN/);
    expect(() =>
      parseConfig(
        withDatabase(
          { engine: 'postgres-standby', primarySecret: 'a', drSecret: 'b' },
          { environment: 'prod' },
        ),
      ),
    ).toThrow(/failover\.drill\.environment: use "production", "staging", "test" or "demo"/);
  });

  it('defaults to refusing a lagging replica and to treating the environment as production', () => {
    const config = parseConfig(
      withDatabase({ engine: 'postgres-standby', primarySecret: 'a', drSecret: 'b' }, {}),
    );
    expect(config.failover?.database).toMatchObject({
      maxLagSeconds: 30,
      overLag: 'refuse',
      promoteTimeoutSeconds: 300,
    });
    expect(config.failover?.drill).toEqual({
      environment: 'production',
      markerTable: 'responder_drill_markers',
      markerIntervalMs: 200,
    });
  });
});
