import { z } from 'zod';
import { failoverDatabaseSchema, failoverDrillSchema } from './failover-database.ts';

const policy = z.enum(['auto', 'approve', 'deny'], { message: 'use "auto", "approve" or "deny"' });
const targetNames = z.array(z.string().min(1)).min(1, 'name at least one probe target');

/** What the record answers for one site: addresses / a CNAME, or a Route 53 alias target. */
const siteValue = z.union([
  z.strictObject({
    /** A or AAAA addresses, or one CNAME target. */
    values: z.array(z.string().min(1)).min(1, 'give at least one value'),
  }),
  z.strictObject({
    alias: z.strictObject({
      dnsName: z.string().min(1),
      /** The alias target's hosted zone (an ALB's, CloudFront's Z2FDTNDATAQYW2, ...). */
      hostedZoneId: z.string().regex(/^Z[A-Z0-9]{1,31}$/, 'use a hosted zone id such as Z2FDTNDATAQYW2'),
      evaluateTargetHealth: z.boolean().default(false),
    }),
  }),
]);

const site = z.strictObject({
  /** What the record answers while this site is active. */
  record: siteValue,
  /** Probe targets (names from probes.targets) that speak for this site's health. */
  targets: targetNames,
});

export const failoverSchema = z
  .strictObject({
    /**
     * `switch`: Route 53 failover records whose PRIMARY health check follows a switch Responder keeps
     * in the DR region (no Route 53 API call at failover time). `records`: UPSERT the record with
     * ChangeResourceRecordSets, the runbook's way.
     */
    mode: z.enum(['switch', 'records'], { message: 'use "switch" or "records"' }).default('switch'),
    hostedZoneId: z
      .string()
      .regex(/^Z[A-Z0-9]{1,31}$/, 'use the hosted zone id, such as Z0123456789ABCDEFGHIJ'),
    /** The zone's name, e.g. `example.com` (the record's name must be inside it). */
    zoneName: z.string().regex(/^([a-z0-9-]+\.)+[a-z]{2,}\.?$/, 'use the zone name, such as example.com'),
    record: z.strictObject({
      name: z.string().regex(/^([a-z0-9_-]+\.)+[a-z]{2,}\.?$/, 'use a record name such as api.example.com'),
      type: z.enum(['A', 'AAAA', 'CNAME'], { message: 'use "A", "AAAA" or "CNAME"' }).default('A'),
      ttl: z.number().int().min(1).max(86_400).default(60),
    }),
    primary: site,
    dr: site,
    /** The primary is down when at least this many of its targets fail now (default: all). */
    primaryDownMinFailing: z.number().int().min(1).optional(),
    /** Failback needs the primary healthy for this many consecutive probes, checked now. */
    failbackConsecutiveHealthy: z.number().int().min(1).max(10).default(3),
    /** No move within this many minutes of the last one, unless an operator forces it with a reason. */
    cooldownMinutes: z
      .number()
      .int()
      .min(0)
      .max(24 * 60)
      .default(30),
    /** How long an approve link and `responder failover approve` work. */
    approvalTtlMinutes: z
      .number()
      .int()
      .min(1)
      .max(24 * 60)
      .default(30),
    policy: z
      .strictObject({
        alert: policy.default('approve'),
        operator: policy.default('auto'),
      })
      .prefault({}),
    /** Failing back by itself when the primary recovers: off, as automatic failback causes second outages. */
    autoFailback: z.boolean().default(false),
    /** `switch` mode: the Route 53 health check that reads the switch (interval, failures to trip it). */
    healthCheck: z
      .strictObject({
        intervalSeconds: z
          .union([z.literal(10), z.literal(30)], { message: 'use 10 or 30 seconds' })
          .default(10),
        failureThreshold: z.number().int().min(1).max(10).default(1),
      })
      .prefault({}),
    /** `records` mode: how long to wait for the change to be INSYNC before reporting it unverified. */
    changeTimeoutSeconds: z.number().int().min(10).max(900).default(120),
    /**
     * The database step before DNS moves: fence the old primary, check the DR database's lag, promote
     * it. Without it DNS moves alone (a stateless DR site, or a database failed over by other means).
     */
    database: failoverDatabaseSchema.optional(),
    /** `responder drill failover`: refused in production unless the request insists. */
    drill: failoverDrillSchema.prefault({}),
  })
  .superRefine((failover, ctx) => {
    const zone = failover.zoneName.replace(/\.$/, '');
    const name = failover.record.name.replace(/\.$/, '');
    if (name !== zone && !name.endsWith(`.${zone}`)) {
      ctx.addIssue({
        code: 'custom',
        path: ['record', 'name'],
        message: `${name} is not inside the zone ${zone}: use a name that ends in .${zone}`,
      });
    }
    for (const which of ['primary', 'dr'] as const) {
      const value = failover[which].record;
      if ('values' in value && failover.record.type === 'CNAME' && value.values.length !== 1) {
        ctx.addIssue({
          code: 'custom',
          path: [which, 'record', 'values'],
          message: 'a CNAME has exactly one value',
        });
      }
    }
    // The failover function runs for 15 minutes: the promotion, the Route 53 change and the two
    // minutes of verification must fit, with a minute to spare for the gates and the fence.
    const budget =
      (failover.database?.promoteTimeoutSeconds ?? 0) +
      (failover.mode === 'records' ? failover.changeTimeoutSeconds : 0) +
      120 +
      60;
    if (budget > 900) {
      ctx.addIssue({
        code: 'custom',
        path: ['database', 'promoteTimeoutSeconds'],
        message: `the promotion (${failover.database?.promoteTimeoutSeconds} s), the Route 53 change (${failover.changeTimeoutSeconds} s) and the verification (120 s) must fit in the failover function's 15 minutes: lower them`,
      });
    }
    const min = failover.primaryDownMinFailing;
    if (min !== undefined && min > failover.primary.targets.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['primaryDownMinFailing'],
        message: `the primary has only ${failover.primary.targets.length} targets: use at most that many`,
      });
    }
  });

export type FailoverConfig = z.output<typeof failoverSchema>;
export type FailoverSite = 'primary' | 'dr';
