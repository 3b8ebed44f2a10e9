import * as z from 'zod';
import { ACTION_KINDS, type ActionKind, REMEDIATION_KINDS } from '../domain/actions.ts';
import { describeIssuePath } from '../domain/issue-path.ts';
import { backupsSchema } from './backups.ts';
import { escalationSchema } from './escalation.ts';
import { failoverSchema } from './failover.ts';
import { matcherString, SEVERITIES, secretRef } from './fields.ts';
import { probesSchema } from './probe-targets.ts';
import { secretsSchema } from './rotations.ts';

export { SEVERITIES, type Severity } from './fields.ts';
// Domain types the config names, re-exported for the config's users.
export { ACTION_KINDS, type ActionKind, REMEDIATION_KINDS };

const actionSchema = z.strictObject({
  kind: z.enum(ACTION_KINDS, { message: `use one of: ${ACTION_KINDS.join(', ')}` }),
  params: z.record(z.string(), z.unknown()).default({}),
  dryRun: z.boolean().default(false),
});

const routeSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'use lower-case letters, digits and dashes'),
  matchers: z.array(matcherString).default([]),
  actions: z.array(actionSchema).min(1, 'list at least one action for the route'),
  on: z
    .array(z.enum(['firing', 'resolved']))
    .min(1)
    .default(['firing']),
  continue: z.boolean().default(false),
});

/** API Gateway throttling: steady requests per second and burst; a route over it answers 429. */
function throttleSchema(rateLimit: number, burstLimit: number) {
  return z
    .strictObject({
      rateLimit: z
        .number()
        .positive('use a rate above 0: API Gateway would refuse every request')
        .max(10_000, "stay within API Gateway's account limit of 10000 requests per second")
        .default(rateLimit),
      burstLimit: z
        .number()
        .int('use a whole number of requests')
        .positive('use a burst above 0: API Gateway would refuse every request')
        .max(5_000, "stay within API Gateway's account burst of 5000 requests")
        .default(burstLimit),
    })
    .prefault({});
}

function reservedConcurrency(fallback: number) {
  return z
    .number()
    .int('use a whole number of executions')
    .min(
      1,
      'reserve at least 1 (0 would stop the function); set lambda.reserveConcurrency to false to reserve none',
    )
    .max(1000, 'reserve at most 1000 executions')
    .default(fallback);
}

export const configSchema = z
  .strictObject({
    service: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,39}$/, 'use 1-40 letters, digits or dashes'),
    aws: z
      .strictObject({
        region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'use an AWS region code such as "eu-west-1"'),
        drRegion: z
          .string()
          .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'use an AWS region code such as "eu-central-1"'),
        account: z
          .string()
          .regex(/^\d{12}$/, 'use the 12-digit account id, or leave it out to use the CLI profile')
          .optional(),
      })
      .refine((aws) => aws.region !== aws.drRegion, {
        message: 'drRegion must differ from region: the DR stack must survive a regional outage',
        path: ['drRegion'],
      }),
    webhook: z
      .strictObject({
        /** Secrets Manager secret holding {"token": "...", "username": "..."}; created by the stack when absent. */
        credentialSecret: secretRef.optional(),
        /** Username accepted with basic auth (Alertmanager `basic_auth`); the password is the token. */
        basicAuthUsername: z.string().min(1).default('alertmanager'),
        maxBodyBytes: z
          .number()
          .int()
          .min(1024, 'allow at least 1024 bytes')
          .max(10 * 1024 * 1024, 'API Gateway caps payloads at 10 MiB')
          .default(1024 * 1024),
        dedupeTtlSeconds: z
          .number()
          .int()
          .min(60)
          .max(7 * 86400)
          .default(86400),
        credentialCacheSeconds: z.number().int().min(0).max(3600).default(300),
      })
      .prefault({}),
    api: z
      .strictObject({
        /** Every route but the webhook: the incident API, ack links and /healthz. */
        throttle: throttleSchema(50, 100),
        /**
         * `POST /alertmanager` alone, so a flood of the other routes (anyone on the internet can reach
         * them) cannot use up what Alertmanager's deliveries need, and the other way round.
         */
        webhookThrottle: throttleSchema(20, 50),
        publicUrl: z.url().optional(),
      })
      .prefault({}),
    lambda: z
      .strictObject({
        /**
         * false reserves nothing: for accounts whose concurrency limit cannot spare the sum plus the 100
         * unreserved executions Lambda insists on (new accounts start at 10).
         */
        reserveConcurrency: z.boolean().default(true),
        /** Executions reserved for, and the cap of, each function (the DR failover function uses `failover`). */
        reservedConcurrency: z
          .strictObject({
            ingest: reservedConcurrency(20),
            api: reservedConcurrency(10),
            probe: reservedConcurrency(5),
            backup: reservedConcurrency(2),
            rotate: reservedConcurrency(2),
            failover: reservedConcurrency(2),
            escalate: reservedConcurrency(10),
          })
          .prefault({}),
      })
      .prefault({}),
    severity: z
      .strictObject({
        labels: z.array(z.string().min(1)).min(1).default(['priority', 'severity']),
        map: z.record(z.string(), z.enum(SEVERITIES)).default({
          p1: 'P1',
          p2: 'P2',
          p3: 'P3',
          p4: 'P4',
          critical: 'P1',
          page: 'P1',
          high: 'P2',
          error: 'P2',
          warning: 'P3',
          medium: 'P3',
          low: 'P4',
          info: 'P4',
        }),
        default: z.enum(SEVERITIES).default('P3'),
        /** Severity of the incident a failed backup, rotation or failover opens (probes use their target's). */
        actionFailures: z
          .strictObject({
            backup: z.enum(SEVERITIES).default('P2'),
            rotate: z.enum(SEVERITIES).default('P2'),
            failover: z.enum(SEVERITIES).default('P1'),
          })
          .prefault({}),
      })
      .prefault({}),
    routes: z.array(routeSchema).default([]),
    probes: probesSchema.prefault({}),
    backups: backupsSchema.prefault({}),
    secrets: secretsSchema.prefault({}),
    /** DNS failover to the DR site; without it the failover function refuses every request. */
    failover: failoverSchema.optional(),
    escalation: escalationSchema.prefault({}),
    /**
     * What one leaked token or one alert storm can cost: new incidents and pages per window. Over the
     * limit, new alert groups are collected in one "incident limit reached" incident and pages are
     * held back, with one summary page each time a limit is first reached in a window.
     */
    floodLimits: z
      .strictObject({
        windowMinutes: z
          .number()
          .int()
          .min(1, 'use 1 to 1440 minutes')
          .max(1440, 'use 1 to 1440 minutes')
          .default(60),
        newIncidents: z.number().int().min(1, 'allow at least 1 new incident per window').default(100),
        pages: z.number().int().min(1, 'allow at least 1 page per window').default(300),
        /** Severity of the incident that collects alert groups over the limit. */
        overflowSeverity: z.enum(SEVERITIES).default('P2'),
      })
      .prefault({}),
    safety: z
      .strictObject({
        /** Global kill switch: false turns every remediation into a recorded "skipped: automation disabled". */
        automationEnabled: z.boolean().default(true),
        /** Every action request carries dryRun=true: actions record what they would do and change nothing. */
        dryRun: z.boolean().default(false),
      })
      .prefault({}),
    local: z
      .strictObject({
        /**
         * `npm start` also starts a demo environment for the example probes: primary and DR sites on
         * 127.0.0.1:18081 and :18082 and a throwaway PostgreSQL on :15432 (secret responder/demo-db).
         */
        demoEnvironment: z.boolean().default(false),
        /**
         * Multiplies escalation delays (and the sweep interval) for trying paging out: 0.01 turns
         * P1's 15 minutes into 9 seconds. Local runtime only; deployed stacks always use 1.
         */
        escalationDelayScale: z.number().positive().max(1).default(1),
        /** Also POST each page's JSON to this webhook (e.g. a chat incoming webhook). */
        pagerWebhookUrl: z.url().optional(),
        /**
         * With `failover`, the local DNS listener (UDP and TCP on 127.0.0.1) that answers for the
         * zone from the local state; 0 picks a free port.
         */
        dnsPort: z.number().int().min(0).max(65535, 'use a port between 0 and 65535').default(15353),
      })
      .prefault({}),
    logRetentionDays: z
      .union([z.literal(7), z.literal(14), z.literal(30), z.literal(90), z.literal(180), z.literal(365)], {
        message: 'use one of 7, 14, 30, 90, 180, 365',
      })
      .default(30),
    auditRetentionDays: z.number().int().min(1).max(3650).default(400),
  })
  .superRefine((config, ctx) => {
    const databases = new Set(config.backups.databases.map((db) => db.name));
    config.probes.targets.forEach((target, index) => {
      if (target.kind === 'backup' && !databases.has(target.database)) {
        ctx.addIssue({
          code: 'custom',
          path: ['probes', 'targets', index, 'database'],
          message: `'${target.database}' is not in backups.databases: name a database that is backed up`,
        });
      }
    });
    const targets = new Set(config.probes.targets.map((target) => target.name));
    for (const site of ['primary', 'dr'] as const) {
      config.failover?.[site].targets.forEach((name, index) => {
        if (!targets.has(name)) {
          ctx.addIssue({
            code: 'custom',
            path: ['failover', site, 'targets', index],
            message: `'${name}' is not in probes.targets: name a probe target that speaks for the ${site === 'dr' ? 'DR' : 'primary'} site`,
          });
        }
      });
    }
  });

export type ResponderConfigInput = z.input<typeof configSchema>;
export type ResponderConfig = z.output<typeof configSchema>;
export type RouteRule = ResponderConfig['routes'][number];
export type RouteAction = RouteRule['actions'][number];

/** Identity helper that gives `responder.config.ts` type checking and completion. */
export function defineConfig(config: ResponderConfigInput): ResponderConfigInput {
  return config;
}

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly issues: readonly string[],
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Validates a config and throws a ConfigError whose lines each name a field and what to do about it. */
export function parseConfig(input: unknown, source = 'responder.config.ts'): ResponderConfig {
  const result = configSchema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => {
    const hint = issue.code === 'unrecognized_keys' ? ' (remove it or check its spelling)' : '';
    return `${describeIssuePath(issue.path)}: ${issue.message}${hint}`;
  });
  throw new ConfigError(`${source} is invalid:\n  - ${issues.join('\n  - ')}`, issues);
}
