import { z } from 'zod';
import { flagRepeats, secretRef, vpcPlacement } from './fields.ts';

/**
 * Secrets Manager's rotation schedule: `rate(N days)` (1-1000) or a six-field `cron(...)`; a rotation
 * runs within `window` of it (`3h`, at most 24h).
 */
const rotationSchedule = z
  .string()
  .regex(
    /^(rate\((\d+) days?\)|cron\(\S+ \S+ \S+ \S+ \S+ \S+\))$/,
    'use a Secrets Manager rotation schedule such as "rate(30 days)" or "cron(0 4 ? * SUN *)"',
  );
const rotationWindow = z
  .string()
  .regex(/^([1-9]|1\d|2[0-4])h$/, 'use a window of 1h to 24h, such as "3h"')
  .default('3h');

const common = {
  /** The secret rotated: its Secrets Manager name or ARN. */
  secret: secretRef,
  schedule: rotationSchedule.default('rate(30 days)'),
  window: rotationWindow,
  /** How long to wait for the database or Redis before a step fails (well inside the function's 5 minutes). */
  connectTimeoutSeconds: z.number().int().min(1).max(60).default(5),
};

/** The user's own password changes: a SCRAM-SHA-256 verifier is sent, never the password. */
const postgresSingleUser = z.strictObject({
  ...common,
  strategy: z.literal('postgres-single-user'),
});

/**
 * Two login users take turns (`<username>` and `<username>_clone`, or `users`), both members of
 * `ownerRole`; `masterSecret` may change their passwords.
 */
const postgresAlternatingUsers = z.strictObject({
  ...common,
  strategy: z.literal('postgres-alternating-users'),
  /** A secret (RDS format) of a user allowed to ALTER ROLE both login users (CREATEROLE or superuser). */
  masterSecret: secretRef,
  /** The role that owns the application's objects; both login users are members and act as it. */
  ownerRole: z.string().regex(/^[a-z_][a-z0-9_$]{0,62}$/, 'use a PostgreSQL role name (lower case)'),
  /** The two login users. @default - the secret's username and `<username>_clone` */
  users: z
    .tuple([z.string().min(1), z.string().min(1)])
    .refine(([a, b]) => a !== b, 'name two different users')
    .optional(),
});

/** The ACL user keeps the new password next to the old one; the one from two rotations ago goes. */
const redisAcl = z.strictObject({
  ...common,
  strategy: z.literal('redis-acl'),
  /** A secret with `{"username","password"}` of a user allowed ACL SETUSER. @default - the rotated user's own */
  adminSecret: secretRef.optional(),
});

/** A random value for signing keys, HMAC secrets and API tokens. */
const generated = z
  .strictObject({
    ...common,
    strategy: z.literal('generated'),
    /** The JSON field the value goes in; other fields are kept. @default - the whole secret string */
    field: z.string().min(1).optional(),
    /** Random bytes, encoded: for keys. */
    bytes: z.number().int().min(16, 'use at least 16 bytes (128 bits)').max(1024).optional(),
    encoding: z.enum(['base64url', 'base64', 'hex']).default('base64url'),
    /** Characters drawn from `alphabet`: for tokens typed or pasted somewhere. */
    length: z.number().int().min(16, 'use at least 16 characters').max(4096).optional(),
    alphabet: z.string().min(16, 'use an alphabet of at least 16 characters').optional(),
    /**
     * How long consumers keep accepting AWSPREVIOUS after a rotation (documented to them; Responder's
     * own webhook credential and ack-link key honour it).
     */
    graceMinutes: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 60)
      .default(60),
  })
  .superRefine((g, ctx) => {
    if (g.bytes !== undefined && (g.length !== undefined || g.alphabet !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['bytes'],
        message: 'choose bytes (with encoding) or length (with alphabet), not both',
      });
    }
  });

export const rotationSchema = z.discriminatedUnion('strategy', [
  postgresSingleUser,
  postgresAlternatingUsers,
  redisAcl,
  generated,
]);

export const secretsSchema = z
  .strictObject({
    rotations: z.array(rotationSchema).default([]),
    /** Where the rotate function runs, to reach private databases and Redis. @default - not in a VPC */
    vpc: vpcPlacement.optional(),
    /**
     * Responder's own secrets: the webhook credential and the ack-link key rotate on this schedule,
     * and the old value keeps working for `graceMinutes` (Alertmanager's credentials_file follows).
     */
    own: z
      .strictObject({
        schedule: rotationSchedule.default('rate(90 days)'),
        window: rotationWindow,
        graceMinutes: z
          .number()
          .int()
          .min(5)
          .max(7 * 24 * 60)
          .default(24 * 60),
      })
      .prefault({}),
  })
  .superRefine((secrets, ctx) => {
    flagRepeats(
      secrets.rotations.map((rotation) => rotation.secret),
      (index) => ['rotations', index, 'secret'],
      (secret) => `'${secret}' is rotated twice: give each secret one rotation`,
      ctx,
    );
  });

export type SecretsConfig = z.output<typeof secretsSchema>;
export type RotationConfig = z.output<typeof rotationSchema>;
export type RotationStrategyName = RotationConfig['strategy'];
