import * as z from 'zod';
import { type ProbeKind, parseDnsServer } from '../domain/probes.ts';
import { flagRepeats, SEVERITIES, scheduleExpression, secretRef, vpcPlacement } from './fields.ts';

const SEVERITY = z.enum(SEVERITIES);
const host = z.string().min(1, 'name the host (an IP or a DNS name)');
const port = z.number().int().min(1).max(65535, 'use a TCP port between 1 and 65535');
/** Settings every probe target shares. */
const common = {
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'use lower-case letters, digits, dots, dashes (max 63)'),
  /** Per-probe limit; a target that answers later counts as a failure. */
  timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
  /** Incident severity when the target turns unhealthy. */
  severity: SEVERITY.default('P2'),
  /** Consecutive failures before the target is unhealthy (as Route 53's failure threshold). */
  failureThreshold: z.number().int().min(1).max(10).default(3),
  /** Consecutive successes before an unhealthy target is healthy again. */
  recoveryThreshold: z.number().int().min(1).max(10).default(2),
  /** Copied into the incident's labels, so routes and pages can match on it. */
  labels: z.record(z.string(), z.string()).default({}),
};

/** A header value: a literal, or a value read from a secret (its JSON `key`, or the whole string). */
const headerValue = z.union([
  z.string(),
  z.strictObject({ secret: secretRef, key: z.string().optional(), prefix: z.string().default('') }),
]);

const statusExpectation = z
  .union([
    z.number().int().min(100).max(599),
    z.array(z.number().int().min(100).max(599)).min(1),
    z.string().regex(/^[1-5]\d\d-[1-5]\d\d$/, 'write a status range as "200-299"'),
  ])
  .default('200-299');

const httpTarget = z.strictObject({
  ...common,
  kind: z.enum(['http', 'https']),
  url: z.url({ message: 'use an absolute http:// or https:// URL' }),
  method: z.enum(['GET', 'HEAD', 'POST']).default('GET'),
  expectStatus: statusExpectation,
  /** Either `{ json: "status", equals: "ok" }` (a field, dotted path) or `{ contains: "ok" }`. */
  body: z
    .union([
      z.strictObject({ json: z.string().min(1), equals: z.union([z.string(), z.number(), z.boolean()]) }),
      z.strictObject({ contains: z.string().min(1) }),
    ])
    .optional(),
  headers: z.record(z.string(), headerValue).default({}),
  /** Extra CA certificates (PEM) to trust, e.g. a private CA. */
  caPem: z.string().optional(),
});

const tcpTarget = z.strictObject({ ...common, kind: z.literal('tcp'), host, port });

const postgresTarget = z.strictObject({
  ...common,
  kind: z.literal('postgres'),
  host,
  port: port.default(5432),
  database: z.string().min(1).default('postgres'),
  /** Secret holding {"username", "password"} (the RDS secret format). */
  secret: secretRef,
  ssl: z.boolean().default(false),
  thresholds: z
    .strictObject({
      maxConnections: z.number().int().positive().optional(),
      maxDatabaseSizeMb: z.number().positive().optional(),
      maxReplicationLagSeconds: z.number().positive().optional(),
      longRunningQuerySeconds: z.number().positive().optional(),
      maxLongRunningQueries: z.number().int().min(0).optional(),
    })
    .default({}),
});

const redisTarget = z.strictObject({
  ...common,
  kind: z.literal('redis'),
  host,
  port: port.default(6379),
  /** Secret holding the password (a bare string, or JSON with "password"). */
  secret: secretRef.optional(),
  tls: z.boolean().default(false),
  thresholds: z
    .strictObject({
      maxUsedMemoryMb: z.number().positive().optional(),
      /** On a replica, fail when master_link_status is not "up". */
      requireReplicationLink: z.boolean().default(false),
    })
    .default({ requireReplicationLink: false }),
});

const tlsTarget = z.strictObject({
  ...common,
  kind: z.literal('tls'),
  host,
  port: port.default(443),
  /** Name the certificate must be valid for. @default host */
  serverName: z.string().optional(),
  warningDays: z.number().int().min(1).default(7),
  criticalDays: z.number().int().min(0).default(3),
  caPem: z.string().optional(),
});

const dnsTarget = z.strictObject({
  ...common,
  kind: z.literal('dns'),
  hostname: z.string().min(1),
  recordType: z.enum(['A', 'AAAA', 'CNAME', 'TXT']).default('A'),
  /** A value the answer must contain. */
  expect: z.string().optional(),
  /**
   * Ask this name server instead of the system resolver: `host`, `host:port`, `[v6]:port` (port 53 by
   * default), e.g. the local DNS listener (`127.0.0.1:15353`) or a zone's authoritative server.
   */
  server: z
    .string()
    .refine((value) => parseDnsServer(value) !== undefined, {
      message:
        'use an address or host name with an optional port, such as 127.0.0.1:15353 or [2001:db8::53]:53',
    })
    .optional(),
});

/** Backup freshness: fails when the newest verified backup of `database` is older than `maxAgeHours`. */
const backupTarget = z.strictObject({
  ...common,
  kind: z.literal('backup'),
  /** A name from backups.databases. */
  database: z.string().min(1),
  /** A nightly backup is 24 hours old just before the next one: the default leaves two hours for it. */
  maxAgeHours: z
    .number()
    .positive()
    .max(24 * 400)
    .default(26),
});

export const probeTargetSchema = z.discriminatedUnion('kind', [
  httpTarget,
  tcpTarget,
  postgresTarget,
  redisTarget,
  tlsTarget,
  dnsTarget,
  backupTarget,
]);

export type ProbeTarget = z.output<typeof probeTargetSchema>;
export type { ProbeKind } from '../domain/probes.ts';

// The schema's kinds and the domain's are one list: this fails to compile when they drift apart.
const sameKinds: [ProbeTarget['kind'], ProbeKind] extends [ProbeKind, ProbeTarget['kind']] ? true : never =
  true;
void sameKinds;
export type HttpTarget = z.output<typeof httpTarget>;
export type TcpTarget = z.output<typeof tcpTarget>;
export type PostgresTarget = z.output<typeof postgresTarget>;
export type RedisTarget = z.output<typeof redisTarget>;
export type TlsTarget = z.output<typeof tlsTarget>;
export type DnsTarget = z.output<typeof dnsTarget>;
export type BackupTarget = z.output<typeof backupTarget>;

export const probesSchema = z
  .strictObject({
    schedule: scheduleExpression.default('rate(5 minutes)'),
    /** How many targets are probed at once; keep it above the number of targets that may hang. */
    concurrency: z.number().int().min(1).max(1000).default(256),
    targets: z.array(probeTargetSchema).default([]),
    /** Run the probe function inside a VPC to reach private databases. @default - not in a VPC */
    vpc: vpcPlacement.optional(),
  })
  .superRefine((probes, ctx) => {
    flagRepeats(
      probes.targets.map((target) => target.name),
      (index) => ['targets', index, 'name'],
      (name) => `'${name}' is used twice: give each target its own name`,
      ctx,
    );
  });
