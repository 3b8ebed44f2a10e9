import * as z from 'zod';
import { flagRepeats, matcherString, SEVERITIES, secretRef } from './fields.ts';

const name = z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'use 1-40 lower-case letters, digits and dashes');

/** An SNS subscription the stack creates; `filter` becomes its filter policy on the page attributes. */
const subscriptionSchema = z
  .strictObject({
    protocol: z.enum(['email', 'sms', 'https'], { message: 'use one of: email, sms, https' }),
    endpoint: z.string().min(3),
    /**
     * Delivers only pages whose message attributes match, e.g. `{ severity: ['P1', 'P2'] }` keeps
     * P3/P4 pages off a phone at night. Attributes: severity, tier, incident_id, service, event.
     */
    filter: z.record(z.string(), z.array(z.string().min(1)).min(1)).optional(),
  })
  .superRefine((sub, ctx) => {
    const checks = {
      email: [/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'use an email address'],
      sms: [/^\+[1-9]\d{6,14}$/, 'use an E.164 phone number such as "+14155550100"'],
      https: [/^https:\/\/\S+$/, 'use an https:// URL (SNS refuses plain http for pages)'],
    } as const;
    const [pattern, message] = checks[sub.protocol];
    if (!pattern.test(sub.endpoint)) ctx.addIssue({ code: 'custom', path: ['endpoint'], message });
  });

const topicSchema = z.strictObject({
  /** Shown as the sender of SMS and email. @default `${service} ${name}` */
  displayName: z.string().max(100).optional(),
  subscriptions: z.array(subscriptionSchema).default([]),
});

const tierSchema = z.strictObject({
  /** Who this tier is ("on-call", "team-lead"): a tier is paged at most once per incident. */
  name,
  topics: z.array(name).min(1, 'page at least one topic'),
  /** Minutes without an acknowledgement before the next tier is paged; ignored on the last tier. */
  escalateAfterMinutes: z
    .number()
    .positive()
    .max(7 * 24 * 60)
    .optional(),
});

const severityPolicySchema = z
  .strictObject({
    /** The response target printed in every page, e.g. "15 minutes". */
    respondWithin: z.string().min(1),
    tiers: z.array(tierSchema).min(1, 'list at least one tier'),
  })
  .superRefine((policy, ctx) => {
    flagRepeats(
      policy.tiers.map((tier) => tier.name),
      (index) => ['tiers', index, 'name'],
      (name) => `tier ${name} is listed twice`,
      ctx,
    );
    policy.tiers.forEach((tier, index) => {
      if (index < policy.tiers.length - 1 && tier.escalateAfterMinutes === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['tiers', index, 'escalateAfterMinutes'],
          message: 'say how many minutes to wait for an acknowledgement before paging the next tier',
        });
      }
    });
  });

/** The runbooks' matrix: P1 15 min On-Call → Team Lead → CTO; P2 1 h On-Call → Team Lead; P3 4 h; P4 next business day. */
export const DEFAULT_POLICY = {
  P1: {
    respondWithin: '15 minutes',
    tiers: [
      { name: 'on-call', topics: ['on-call'], escalateAfterMinutes: 15 },
      { name: 'team-lead', topics: ['team-lead'], escalateAfterMinutes: 15 },
      { name: 'cto', topics: ['cto'] },
    ],
  },
  P2: {
    respondWithin: '1 hour',
    tiers: [
      { name: 'on-call', topics: ['on-call'], escalateAfterMinutes: 60 },
      { name: 'team-lead', topics: ['team-lead'] },
    ],
  },
  P3: { respondWithin: '4 hours', tiers: [{ name: 'on-call', topics: ['on-call'] }] },
  P4: { respondWithin: 'the next business day', tiers: [{ name: 'on-call', topics: ['on-call'] }] },
};

const DEFAULT_TOPICS = { 'on-call': {}, 'team-lead': {}, cto: {}, security: {}, dba: {} };

const DEFAULT_EXTRA_ROUTES = [
  { name: 'security', matchers: ['category="security"'], topics: ['security'] },
  { name: 'database', matchers: ['category="database"'], topics: ['dba'] },
];

export const escalationSchema = z
  .strictObject({
    sweepSchedule: z
      .string()
      .regex(
        /^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(\S+ \S+ \S+ \S+ \S+ \S+\))$/,
        'use an EventBridge Scheduler expression such as "rate(1 minute)"',
      )
      .default('rate(1 minute)'),
    /** Every incident opened from an alert pages by its severity; false leaves paging to routes' `escalate` actions. */
    escalateAlerts: z.boolean().default(true),
    /** One SNS topic each (KMS-encrypted, TLS-only), with the subscriptions the stack creates. */
    topics: z.record(name, topicSchema).prefault(DEFAULT_TOPICS),
    policy: z
      .strictObject({
        P1: severityPolicySchema,
        P2: severityPolicySchema,
        P3: severityPolicySchema,
        P4: severityPolicySchema,
      })
      .default(DEFAULT_POLICY),
    /** Extra topics paged with the first tier when an incident's labels match (first match and all others). */
    routes: z
      .array(z.strictObject({ name, matchers: z.array(matcherString).min(1), topics: z.array(name).min(1) }))
      .default(DEFAULT_EXTRA_ROUTES),
    /** How long the signed acknowledge link in a page works. */
    ackLinkTtlHours: z.number().int().min(1).max(168).default(24),
    /** Secrets Manager secret holding the ack-link HMAC key; created by the stack when absent. */
    ackSigningSecret: secretRef.optional(),
  })
  .superRefine((escalation, ctx) => {
    const known = new Set(Object.keys(escalation.topics));
    for (const severity of SEVERITIES) {
      escalation.policy[severity].tiers.forEach((tier, index) => {
        flagUnknownTopics(tier.topics, known, ['policy', severity, 'tiers', index, 'topics'], ctx);
      });
    }
    flagRepeats(
      escalation.routes.map((route) => route.name),
      (index) => ['routes', index, 'name'],
      (name) => `route ${name} is listed twice`,
      ctx,
    );
    const tierNames = new Set(
      SEVERITIES.flatMap((severity) => escalation.policy[severity].tiers.map((t) => t.name)),
    );
    escalation.routes.forEach((route, index) => {
      if (tierNames.has(route.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['routes', index, 'name'],
          message: `a tier is also called ${route.name}: give the route its own name, or its pages would count as that tier's`,
        });
      }
      flagUnknownTopics(route.topics, known, ['routes', index, 'topics'], ctx);
    });
  });

/** One issue per topic that `escalation.topics` does not define, naming the ones it does. */
function flagUnknownTopics(
  topics: readonly string[],
  known: ReadonlySet<string>,
  path: PropertyKey[],
  ctx: z.RefinementCtx,
) {
  topics.forEach((topic, index) => {
    if (!known.has(topic)) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, index],
        message: `no topic '${topic}' in escalation.topics (known: ${[...known].join(', ') || 'none'})`,
      });
    }
  });
}

export type EscalationConfig = z.output<typeof escalationSchema>;
export type EscalationTier = EscalationConfig['policy']['P1']['tiers'][number];
export type TopicConfig = EscalationConfig['topics'][string];
