import { z } from 'zod';
import { secretRef, vpcPlacement } from './fields.ts';

const rdsIdentifier = z
  .string()
  .regex(
    /^[a-zA-Z][a-zA-Z0-9-]{0,62}$/,
    'use the DB identifier (letters, digits and dashes, starting with a letter), not its endpoint',
  );
const clusterArn = z
  .string()
  .regex(
    /^arn:aws[\w-]*:rds:[a-z0-9-]+:\d{12}:cluster:[a-zA-Z][a-zA-Z0-9-]{0,62}$/,
    'use the cluster ARN, such as arn:aws:rds:eu-west-1:123456789012:cluster:payments-dr',
  );
/** PostgreSQL role names: what the fence ends the sessions of. */
const roleName = z.string().regex(/^[a-z_][a-z0-9_$-]{0,62}$/i, 'use a PostgreSQL role name');

/** What every engine shares: the lag gate, the promotion's bound, fencing and the drill's database logins. */
const common = {
  /**
   * The DR database may be at most this far behind when it is promoted: the data a failover would
   * lose. Over it the failover is refused, or asks for approval (`overLag`).
   */
  maxLagSeconds: z.number().min(0).max(86_400).default(30),
  /** Over `maxLagSeconds`: `refuse`, or `approve` (a human accepts the stated data loss). */
  overLag: z.enum(['refuse', 'approve'], { message: 'use "refuse" or "approve"' }).default('refuse'),
  /**
   * A promotion not finished by then stops the failover before DNS moves, and pages. With the Route
   * 53 change and the verification it must fit in the failover function's 15 minutes.
   */
  promoteTimeoutSeconds: z
    .number()
    .int()
    .min(5)
    .max(600, 'use at most 600 seconds: the failover function runs for at most 15 minutes')
    .default(300),
  /**
   * The old primary's admin login (RDS format): fencing it (read-only, write sessions ended), the
   * drill's marker rows, and the failback check that it replicates from the DR database.
   */
  primarySecret: secretRef.optional(),
  /** The DR database's admin login (RDS format): lag, promotion (postgres-standby) and drill reads. */
  drSecret: secretRef.optional(),
  /** The database the drill writes its marker rows into. @default - the secret's `dbname` */
  database: z.string().min(1).max(63).optional(),
  fence: z
    .strictObject({
      /** The application roles whose sessions the fence ends. @default - every session it may end */
      roles: z.array(roleName).max(50).optional(),
      /**
       * Databases the fence need not make read-only when its login may not alter them (without
       * ALTER SYSTEM, as on RDS); any other such database means "not fenced".
       */
      ignoreDatabases: z.array(z.string().min(1).max(63)).max(50).default(['rdsadmin']),
    })
    .prefault({}),
  /** Where the DR failover function runs to reach the databases (and their secrets' endpoints). */
  vpc: vpcPlacement.optional(),
  connectTimeoutSeconds: z.number().int().min(1).max(60).default(5),
};

/**
 * The database step before DNS moves (`failover.database`): promote the DR database, fence the old
 * primary, and for failback check that the old primary was rebuilt as a standby of the DR database.
 */
export const failoverDatabaseSchema = z
  .discriminatedUnion(
    'engine',
    [
      z.strictObject({
        /** A self-managed streaming standby: replay lag, `pg_promote()`, writable. */
        engine: z.literal('postgres-standby'),
        ...common,
        primarySecret: secretRef,
        drSecret: secretRef,
      }),
      z.strictObject({
        /** An RDS for PostgreSQL cross-region read replica: `PromoteReadReplica`, then available. */
        engine: z.literal('rds-replica'),
        ...common,
        /** The read replica in the DR region that becomes the primary. */
        replicaInstance: rdsIdentifier,
        /** The primary instance (primary region): checked for failback. */
        primaryInstance: rdsIdentifier,
        /** The primary's region (the replica's source). */
        primaryRegion: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'use a region such as eu-west-1'),
      }),
      z.strictObject({
        /**
         * An Aurora global database: `SwitchoverGlobalCluster` when the primary region answers (no data
         * loss), else `FailoverGlobalCluster` with the data loss allowed in the request.
         */
        engine: z.literal('aurora-global'),
        ...common,
        globalClusterIdentifier: rdsIdentifier,
        /** The DR region's secondary cluster, which becomes the writer. */
        drClusterArn: clusterArn,
        /** The primary region's cluster, which becomes a secondary (failback promotes it again). */
        primaryClusterArn: clusterArn,
      }),
    ],
    { message: 'use engine "postgres-standby", "rds-replica" or "aurora-global"' },
  )
  .superRefine((db, ctx) => {
    if (db.engine === 'postgres-standby' && db.primarySecret === db.drSecret) {
      ctx.addIssue({
        code: 'custom',
        path: ['drSecret'],
        message: 'the DR database needs its own secret: the primary and the DR database are two servers',
      });
    }
  });

/** The drill (`responder drill failover`): where it may run. */
export const failoverDrillSchema = z.strictObject({
  /**
   * `production` refuses a drill unless the request says `--i-know-this-is-production`. The default
   * is the careful one.
   */
  environment: z
    .enum(['production', 'staging', 'test', 'demo'], {
      message: 'use "production", "staging", "test" or "demo"',
    })
    .default('production'),
  /** The marker table the drill writes through the primary and reads from the DR database. */
  markerTable: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'use a lower-case table name')
    .default('responder_drill_markers'),
  /** How often the drill writes a marker row while the failover runs. */
  markerIntervalMs: z.number().int().min(20).max(10_000).default(200),
});

export type FailoverDatabaseConfig = z.output<typeof failoverDatabaseSchema>;
export type FailoverDrillConfig = z.output<typeof failoverDrillSchema>;
