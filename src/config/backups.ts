import { z } from 'zod';
import { BACKUP_DATABASE_NAME } from '../domain/backups.ts';
import { flagRepeats, scheduleExpression, secretRef, vpcPlacement } from './fields.ts';

export { BACKUP_DATABASE_NAME };

/**
 * pg_dump's `--compress`: `gzip`, `lz4` or `zstd`, optionally with `:level`, `none`, or a bare gzip
 * level 0-9. lz4 and zstd need pg_dump 16 or newer: the backup checks the pg_dump it runs.
 */
const compression = z
  .string()
  .regex(
    /^(none|[0-9]|(gzip|lz4|zstd)(:[0-9]{1,2})?)$/,
    'use pg_dump\'s --compress syntax: "gzip:6", "zstd:3", "lz4", "none" or a gzip level 0-9',
  );

const scratchTarget = z.strictObject({
  /** The scratch server's connection secret (RDS format); @default - the source database's secret */
  secret: secretRef.optional(),
  /** The database restored into and dropped clean each time: never the source. */
  database: z.string().min(1, 'name the scratch database to restore into'),
});

export const backupDatabaseSchema = z
  .strictObject({
    name: z
      .string()
      .regex(
        BACKUP_DATABASE_NAME,
        'use 1-63 lower-case letters, digits, dashes or underscores, starting with a letter or digit',
      ),
    /** Secrets Manager secret in RDS format: {engine, host, port, username, password, dbname}. */
    secret: secretRef,
    /** The database to dump. @default - the secret's `dbname` */
    database: z.string().min(1).optional(),
    /** @default - `backups.schedule` */
    schedule: scheduleExpression.optional(),
    /** `custom` streams one archive; `directory` dumps `jobs` tables at once into local space first. */
    format: z.enum(['custom', 'directory'], { message: 'use "custom" or "directory"' }).default('custom'),
    /** Parallel dump and restore jobs; directory format only. */
    jobs: z.number().int().min(1, 'use 1 to 16 jobs').max(16, 'use 1 to 16 jobs').default(1),
    compression: compression.default('gzip:6'),
    /** pg_dump --exclude-table-data patterns: the table's definition is kept, its rows are not. */
    excludeTables: z.array(z.string().min(1)).default([]),
    /** `fargate` for databases that do not dump within Lambda's 15 minutes. */
    runner: z.enum(['lambda', 'fargate'], { message: 'use "lambda" or "fargate"' }).default('lambda'),
    /** `list`: checksum and pg_restore --list; `restore`: also restore into `scratch` and compare rows. */
    verify: z.enum(['list', 'restore'], { message: 'use "list" or "restore"' }).default('list'),
    scratch: scratchTarget.optional(),
    /** The whole backup (dump and upload), after which pg_dump is stopped and the upload aborted. */
    timeoutMinutes: z.number().int().min(1).max(720, 'use at most 720 minutes (12 hours)').optional(),
    /** How long to wait for the server to accept the connection. */
    connectTimeoutSeconds: z.number().int().min(1).max(120).default(10),
  })
  .superRefine((db, ctx) => {
    if (db.jobs > 1 && db.format !== 'directory') {
      ctx.addIssue({
        code: 'custom',
        path: ['jobs'],
        message: 'parallel jobs need format: "directory" (pg_dump dumps one table at a time otherwise)',
      });
    }
    if (db.verify === 'restore' && !db.scratch) {
      ctx.addIssue({
        code: 'custom',
        path: ['scratch'],
        message:
          'verify: "restore" restores into a scratch database: name it as scratch: { database: "..." }',
      });
    }
    if (
      db.scratch &&
      !db.scratch.secret &&
      db.database !== undefined &&
      db.scratch.database === db.database
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['scratch', 'database'],
        message: `the scratch database is the source database '${db.database}': a restore drill would overwrite it; name another database`,
      });
    }
  });

const STORAGE_CLASSES = [
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER_IR',
  'GLACIER',
  'DEEP_ARCHIVE',
];

const FARGATE_CPU = [256, 512, 1024, 2048, 4096, 8192, 16384];

export const backupsSchema = z
  .strictObject({
    /** Every database's schedule unless it names its own. */
    schedule: scheduleExpression.default('cron(0 3 * * ? *)'),
    /** @default - a name CloudFormation generates */
    bucketName: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
        'use an S3 bucket name: 3-63 lower-case letters, digits, dots, dashes',
      )
      .optional(),
    /** Key prefix of the dumps and manifests: `<prefix><database>/<yyyy>/<mm>/<dd>/<id>.dump`. */
    prefix: z
      .string()
      .regex(/^([A-Za-z0-9!_.*'()-]+\/)*$/, 'use a key prefix ending in "/" such as "backups/", or ""')
      .default('backups/'),
    retention: z
      .strictObject({
        /** Backups older than this are deleted, except the `keepLast` newest verified ones. */
        days: z.number().int().min(1, 'keep backups at least 1 day').max(3650).default(30),
        /** Move backups to `storageClass` after this many days. @default - never */
        transitionAfterDays: z.number().int().min(1).optional(),
        storageClass: z
          .enum(STORAGE_CLASSES as [string, ...string[]], {
            message: `use one of ${STORAGE_CLASSES.join(', ')}`,
          })
          .default('GLACIER_IR'),
        /** The newest verified backups of each database kept whatever their age. */
        keepLast: z.number().int().min(1, 'keep at least the last verified backup').max(100).default(3),
      })
      .prefault({})
      .superRefine((retention, ctx) => {
        if (retention.transitionAfterDays !== undefined && retention.transitionAfterDays >= retention.days) {
          ctx.addIssue({
            code: 'custom',
            path: ['transitionAfterDays'],
            message: `transition before the backups expire: use fewer days than retention.days (${retention.days})`,
          });
        }
      }),
    /**
     * Object Lock: `governance` (deletable only with s3:BypassGovernanceRetention) or `compliance` (by
     * no one, root included, until the days pass). Only a new bucket can get it.
     */
    objectLock: z
      .strictObject({
        mode: z
          .enum(['off', 'governance', 'compliance'], { message: 'use "off", "governance" or "compliance"' })
          .default('off'),
        days: z.number().int().min(1).max(36500).default(30),
      })
      .prefault({}),
    /** Where the backup function and Fargate tasks run, to reach private databases. @default - not in a VPC */
    vpc: vpcPlacement.optional(),
    /** The backup function's memory (pg_dump, gzip/zstd and the upload share it; CPU grows with it). */
    memoryMb: z
      .number()
      .int()
      .min(512, 'give the backup function at least 512 MB')
      .max(10240, 'Lambda allows at most 10240 MB')
      .default(1024),
    /** The Fargate task of the databases with `runner: "fargate"`. */
    fargate: z
      .strictObject({
        /** vCPU units: 1024 is one vCPU. */
        cpu: z
          .number()
          .refine(
            (cpu) => FARGATE_CPU.includes(cpu),
            `use one of ${FARGATE_CPU.join(', ')} (1024 is one vCPU)`,
          )
          .default(1024),
        memoryMiB: z.number().int().min(512).max(122880).default(2048),
        /** Local space for directory-format dumps (21-200 GiB). @default - 20 GiB, or 100 GiB when a Fargate database uses the directory format */
        ephemeralStorageGiB: z
          .number()
          .int()
          .min(21, 'Fargate gives 20 GiB without this setting: use 21 to 200')
          .max(200, 'Fargate allows at most 200 GiB')
          .optional(),
      })
      .prefault({}),
    databases: z.array(backupDatabaseSchema).default([]),
  })
  .superRefine((backups, ctx) => {
    flagRepeats(
      backups.databases.map((db) => db.name),
      (index) => ['databases', index, 'name'],
      (name) => `'${name}' is used twice: give each database its own name`,
      ctx,
    );
    backups.databases.forEach((db, index) => {
      if (db.runner === 'fargate' && !backups.vpc) {
        ctx.addIssue({
          code: 'custom',
          path: ['databases', index, 'runner'],
          message: `'${db.name}' runs as a Fargate task, which needs subnets: set backups.vpc (vpcId, availabilityZones, privateSubnetIds, securityGroupIds), or use runner: "lambda"`,
        });
      }
    });
    const { storageClass, transitionAfterDays } = backups.retention;
    if (
      transitionAfterDays !== undefined &&
      (storageClass === 'STANDARD_IA' || storageClass === 'ONEZONE_IA') &&
      transitionAfterDays < 30
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['retention', 'transitionAfterDays'],
        message: `S3 moves objects to ${storageClass} after 30 days at the earliest: use 30 or more, or storageClass "GLACIER_IR"`,
      });
    }
    if (backups.objectLock.mode !== 'off' && backups.objectLock.days > backups.retention.days) {
      ctx.addIssue({
        code: 'custom',
        path: ['objectLock', 'days'],
        message: `locked backups cannot expire: use at most retention.days (${backups.retention.days}) days, or raise retention.days`,
      });
    }
  });

export type BackupsConfig = z.output<typeof backupsSchema>;
export type BackupDatabaseConfig = z.output<typeof backupDatabaseSchema>;
