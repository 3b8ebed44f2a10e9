import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { type AssetStaging, type CfnOutput, Duration, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import { DockerImageAsset, Platform } from 'aws-cdk-lib/aws-ecr-assets';
import {
  Cluster,
  type ContainerDefinition,
  ContainerImage,
  ContainerInsights,
  CpuArchitecture,
  FargateTaskDefinition,
  LogDrivers,
  OperatingSystemFamily,
} from 'aws-cdk-lib/aws-ecs';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { DockerImageCode } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type LifecycleRule,
  ObjectLockRetention,
  ObjectOwnership,
  StorageClass,
} from 'aws-cdk-lib/aws-s3';
import type { Schedule } from 'aws-cdk-lib/aws-scheduler';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';
import type { BackupsConfig } from '../../src/config/backups.ts';
import type { ResponderConfig } from '../../src/config/schema.ts';
import { BACKUP_TASK_ROOT, stageBackupImage } from '../backup-image.ts';
import { grantSecretValue } from '../grants.ts';
import {
  acknowledgeBackupObjectPrefix,
  acknowledgeBackupTaskEnvironment,
  acknowledgeImagePull,
  acknowledgeTracing,
  acknowledgeVpcAccess,
} from '../nag.ts';
import { importSecret } from '../secrets.ts';
import type { ActionDispatch } from './action-dispatch.ts';
import { type ActionScheduleOptions, actionSchedule } from './action-schedule.ts';
import {
  importedNetwork,
  ResponderFunction,
  type ResponderFunctionProps,
  reservedConcurrencyOf,
  retentionFor,
} from './responder-function.ts';
import { stackOutput } from './stack-output.ts';
import type { StateTable } from './state-table.ts';

/** The object tag the lifecycle expires by; the backup code sets it on each dump and manifest. */
export const RETENTION_TAG = 'responder-retention';
/** `RETENTION_TAG` values: new objects are `expire`; the newest `keepLast` verified ones are re-tagged `keep`. */
export const RETENTION_TAG_VALUES = { expire: 'expire', keep: 'keep' } as const;

/** The container of the Fargate task (`BACKUP_CONTAINER_NAME`), the one the backup function overrides. */
export const BACKUP_CONTAINER_NAME = 'backup';

/** /tmp for directory-format dumps, which pg_dump writes to local disk before the upload. */
const DIRECTORY_FORMAT_LAMBDA_STORAGE = Size.gibibytes(10);
const DIRECTORY_FORMAT_FARGATE_STORAGE_GIB = 100;

/**
 * What the backup code calls on the bucket, on `<prefix>*` only: PutObject (also CreateMultipartUpload,
 * UploadPart and CompleteMultipartUpload), PutObjectTagging (the retention tag, at upload and when
 * re-tagging the kept ones), AbortMultipartUpload (a failed dump), GetObject (verification reads the
 * object back) and GetObjectVersion (the same read by the version id the upload returned).
 */
export const BACKUP_OBJECT_ACTIONS = [
  's3:PutObject',
  's3:PutObjectTagging',
  // Retention re-tags the dump's own version (PutObjectTagging with a VersionId).
  's3:PutObjectVersionTagging',
  's3:AbortMultipartUpload',
  's3:GetObjectVersion',
] as const;

/** SSE-KMS on the bucket: a data key for each object and part, and Decrypt for reads and multipart uploads. */
export const BACKUP_KEY_ACTIONS = ['kms:GenerateDataKey', 'kms:Decrypt'] as const;

export interface DatabaseBackupsProps {
  /** The validated config: `backups` (databases, bucket, retention, Object Lock, VPC, Fargate), the Lambda settings. */
  readonly config: ResponderConfig;
  /** Where the catalog, the backup locks, claims, incidents and the audit trail live. */
  readonly state: StateTable;
  /** The bus that brings backup requests and takes the escalations a failed backup requests. */
  readonly dispatch: ActionDispatch;
  /** Puts each database's scheduled backup request on the bus as this role. */
  readonly schedule: Pick<ActionScheduleOptions, 'role'>;
  /**
   * What happens to the bucket, its key and the access-log bucket when the stack is deleted.
   * @default RemovalPolicy.RETAIN - backups outlive the stack
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Build the image's bundles with esbuild at synthesis.
   * @default - when the stack is being bundled (not with `aws:cdk:bundling-stacks` excluding it)
   */
  readonly bundle?: boolean;
}

/** The Fargate runner, for databases that do not dump within Lambda's 15 minutes. */
export interface BackupFargateRunner {
  readonly cluster: Cluster;
  readonly taskDefinition: FargateTaskDefinition;
  readonly container: ContainerDefinition;
  readonly logGroup: LogGroup;
}

/**
 * Database backups: the bucket (KMS customer-managed key, versioning, TLS only, no public access,
 * server access logs, lifecycle from `backups.retention`, Object Lock when configured), the container
 * image with pg_dump (AWS's Lambda Node.js base image and Amazon Linux's PostgreSQL client, built at
 * deploy time), the backup function from it, one schedule per database, and, when a database uses
 * `runner: "fargate"`, the ECS cluster and task definition from the same image. Its function and task
 * are granted exactly the calls the backup code makes: the backup objects under the prefix, the key,
 * the databases' secrets, the catalog, incidents and escalation requests.
 */
export class DatabaseBackups extends Construct {
  public readonly key: Key;
  public readonly bucket: Bucket;
  /** Server access logs of `bucket` (S3-managed encryption, as log delivery requires). */
  public readonly accessLogs: Bucket;
  /** The one image of the function and the Fargate task. */
  public readonly image: DockerImageAsset;
  /** The backup function. Its id is `Default`, so its resources keep the logical ids of this construct's id. */
  public readonly handler: ResponderFunction;
  /** One schedule per database, by database name. */
  public readonly schedules: Readonly<Record<string, Schedule>>;
  /** The databases' connection secrets and scratch secrets, by the config's reference. */
  public readonly secrets: Readonly<Record<string, ISecret>>;
  /** @default - undefined unless a database uses `runner: "fargate"` */
  public readonly fargate?: BackupFargateRunner;
  public readonly bucketNameOutput: CfnOutput;
  public readonly functionNameOutput: CfnOutput;
  private readonly given: Pick<DatabaseBackupsProps, 'config' | 'state' | 'dispatch'>;

  constructor(scope: Construct, id: string, props: DatabaseBackupsProps) {
    super(scope, id);
    // Log delivery to the access-log bucket by bucket policy (logging.s3.amazonaws.com, conditioned on
    // the source bucket) rather than the legacy LogDeliveryWrite ACL: ACLs stay disabled. Set here
    // before any child exists, for this construct's buckets only.
    this.node.setContext(cxapi.S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);
    const { config, state, dispatch } = props;
    this.given = { config, state, dispatch };
    const backups = config.backups;
    validate(backups);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const usesFargate = backups.databases.some((db) => db.runner === 'fargate');
    const directoryOn = (runner: 'lambda' | 'fargate') =>
      backups.databases.some((db) => db.runner === runner && db.format === 'directory');

    // The bucket.
    this.key = new Key(this, 'Key', {
      description: 'Responder database backups encryption',
      enableKeyRotation: true,
      removalPolicy,
    });
    this.accessLogs = new Bucket(this, 'AccessLogs', {
      // Server access log delivery writes with S3-managed keys only.
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        { id: 'ExpireAccessLogs', expiration: Duration.days(Math.max(config.logRetentionDays, 30)) },
        { id: 'AbortIncompleteUploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy,
    });
    const locked = backups.objectLock.mode !== 'off';
    this.bucket = new Bucket(this, 'Bucket', {
      bucketName: backups.bucketName,
      encryption: BucketEncryption.KMS,
      encryptionKey: this.key,
      // One KMS data key per bucket and period instead of per object: fewer KMS calls, same key.
      bucketKeyEnabled: true,
      versioned: true,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'backups/',
      lifecycleRules: lifecycleRules(backups),
      objectLockEnabled: locked || undefined,
      objectLockDefaultRetention: locked
        ? backups.objectLock.mode === 'compliance'
          ? ObjectLockRetention.compliance(Duration.days(backups.objectLock.days))
          : ObjectLockRetention.governance(Duration.days(backups.objectLock.days))
        : undefined,
      removalPolicy,
    });

    // The image: staged (bundled and a Dockerfile written) now, built by `cdk deploy`.
    const context = stageBackupImage(config, {
      bundle: props.bundle ?? Stack.of(this).bundlingRequired,
      task: usesFargate,
    });
    this.image = new DockerImageAsset(this, 'Image', { directory: context, platform: Platform.LINUX_ARM64 });
    // The asset copied the build context into the cloud assembly; the temporary folder can go, unless
    // staging is disabled and the asset points at it.
    const staged = (this.image.node.tryFindChild('Staging') as AssetStaging | undefined)?.absoluteStagedPath;
    if (staged && resolve(staged) !== resolve(context)) rmSync(context, { recursive: true, force: true });

    const network = importedNetwork(this, backups.vpc);
    this.fargate = usesFargate && network ? this.fargateRunner(config, network) : undefined;
    const environment: Record<string, string> = {
      STATE_TABLE_NAME: state.table.tableName,
      BACKUP_BUCKET: this.bucket.bucketName,
      EVENT_BUS_NAME: dispatch.bus.eventBusName,
    };
    if (this.fargate && backups.vpc) {
      Object.assign(environment, {
        BACKUP_CLUSTER_ARN: this.fargate.cluster.clusterArn,
        BACKUP_TASK_DEFINITION_ARN: this.fargate.taskDefinition.taskDefinitionArn,
        BACKUP_CONTAINER_NAME: this.fargate.container.containerName,
        BACKUP_SUBNETS: backups.vpc.privateSubnetIds.join(','),
        BACKUP_SECURITY_GROUPS: backups.vpc.securityGroupIds.join(','),
      });
    }

    this.handler = new ResponderFunction(this, 'Default', {
      name: 'backup',
      config,
      description: 'Responder: PostgreSQL backups (pg_dump) to S3, verified and catalogued',
      image: DockerImageCode.fromEcr(this.image.repository, { tagOrDigest: this.image.imageTag }),
      timeout: Duration.minutes(15),
      memorySize: backups.memoryMb,
      ephemeralStorageSize: directoryOn('lambda') ? DIRECTORY_FORMAT_LAMBDA_STORAGE : undefined,
      environment,
      network,
      reservedConcurrentExecutions: reservedConcurrencyOf(config, 'backup'),
    });
    const fn = this.handler.function;
    dispatch.addTarget('backup', fn);
    // A failed backup opens an incident, which requests its escalation on the bus.
    dispatch.grantActionRequestsTo(fn);
    state.grantActionIdempotency(fn);
    state.grantAutomationFlag(fn, 'read');

    const secrets: Record<string, ISecret> = {};
    backupSecretIds(backups).forEach((ref, index) => {
      secrets[ref] = importSecret(this, `Secret${index}`, ref);
    });
    this.secrets = secrets;
    this.grantBackupWork(fn);

    if (this.fargate) {
      const { taskDefinition, cluster } = this.fargate;
      this.grantBackupWork(taskDefinition.taskRole);
      dispatch.grantActionRequests(taskDefinition.taskRole);
      // The task runs its request as an action of its own (`<id>-task`: functions/backup/task.ts), so it
      // keeps an idempotency record and obeys the kill switch like the function.
      state.grantActionIdempotency(taskDefinition.taskRole);
      state.grantAutomationFlag(taskDefinition.taskRole, 'read');
      // The function starts the task: RunTask of this task definition on this cluster, passing its two roles.
      fn.addToRolePolicy(
        new PolicyStatement({
          actions: ['ecs:RunTask'],
          resources: [taskDefinition.taskDefinitionArn],
          conditions: { ArnEquals: { 'ecs:cluster': cluster.clusterArn } },
        }),
      );
      fn.addToRolePolicy(
        new PolicyStatement({
          actions: ['iam:PassRole'],
          resources: [taskDefinition.taskRole.roleArn, taskDefinition.obtainExecutionRole().roleArn],
          conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
        }),
      );
    }

    const schedules: Record<string, Schedule> = {};
    for (const db of backups.databases) {
      schedules[db.name] = actionSchedule(this, `Schedule-${db.name}`, {
        dispatch,
        kind: 'backup',
        expression: db.schedule ?? backups.schedule,
        role: props.schedule.role,
        what: `backup of ${db.name}`,
        dryRun: config.safety.dryRun,
        subject: db.name,
        params: { database: db.name },
      });
    }
    this.schedules = schedules;

    this.bucketNameOutput = stackOutput(this, 'BackupBucketName', {
      value: this.bucket.bucketName,
      description: 'S3 bucket of the database backups and their manifests',
    });
    this.functionNameOutput = stackOutput(this, 'BackupFunctionName', {
      value: fn.functionName,
      description: 'The backup function (aws lambda invoke with a backup request from events/)',
    });

    acknowledgeTracing(this.handler);
    acknowledgeBackupObjectPrefix(this.handler.role, this.bucket, backups.prefix);
    if (network) acknowledgeVpcAccess(this.handler, 'the backup function');
    if (this.fargate) {
      acknowledgeBackupObjectPrefix(this.fargate.taskDefinition.taskRole, this.bucket, backups.prefix);
      acknowledgeImagePull(this.fargate.taskDefinition.obtainExecutionRole());
      acknowledgeBackupTaskEnvironment(this.fargate.taskDefinition);
    }
  }

  /**
   * What a backup does, from the function or the Fargate task: the objects under the prefix, the key,
   * the databases' secrets, the catalog (locks and manifests), and the incident a failure opens (the
   * incident, its audit entry; the escalation request is `ActionDispatch.grantActionRequests`).
   */
  private grantBackupWork(grantee: IGrantable) {
    const { config, state } = this.given;
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: [...BACKUP_OBJECT_ACTIONS],
        resources: [this.bucket.arnForObjects(`${config.backups.prefix}*`)],
      }),
    );
    this.key.grant(grantee, ...BACKUP_KEY_ACTIONS);
    for (const secret of Object.values(this.secrets)) grantSecretValue(secret, grantee);
    state.grantBackupCatalog(grantee, 'record');
    state.grantIncidents(grantee, 'record');
    state.grantAudit(grantee, 'append');
  }

  private fargateRunner(config: ResponderConfig, network: NonNullable<ResponderFunctionProps['network']>) {
    const backups = config.backups;
    const { dispatch, state } = this.given;
    const cluster = new Cluster(this, 'Cluster', {
      vpc: network.vpc,
      containerInsightsV2: ContainerInsights.ENABLED,
    });
    const directory = backups.databases.some((db) => db.runner === 'fargate' && db.format === 'directory');
    const taskDefinition = new FargateTaskDefinition(this, 'Task', {
      cpu: backups.fargate.cpu,
      memoryLimitMiB: backups.fargate.memoryMiB,
      ephemeralStorageGiB:
        backups.fargate.ephemeralStorageGiB ?? (directory ? DIRECTORY_FORMAT_FARGATE_STORAGE_GIB : undefined),
      runtimePlatform: {
        cpuArchitecture: CpuArchitecture.ARM64,
        operatingSystemFamily: OperatingSystemFamily.LINUX,
      },
    });
    const logGroup = new LogGroup(this, 'TaskLogs', {
      retention: retentionFor(config.logRetentionDays),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const container = taskDefinition.addContainer('Container', {
      containerName: BACKUP_CONTAINER_NAME,
      image: ContainerImage.fromDockerImageAsset(this.image),
      // The Lambda base image's entry point is the runtime interface; the task runs its own script.
      entryPoint: ['node'],
      command: ['task.mjs'],
      workingDirectory: BACKUP_TASK_ROOT,
      logging: LogDrivers.awsLogs({ logGroup, streamPrefix: 'backup' }),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'responder-backup',
        POWERTOOLS_METRICS_NAMESPACE: 'Responder',
        POWERTOOLS_LOG_LEVEL: 'INFO',
        RESPONDER_SERVICE: config.service,
        STATE_TABLE_NAME: state.table.tableName,
        BACKUP_BUCKET: this.bucket.bucketName,
        EVENT_BUS_NAME: dispatch.bus.eventBusName,
      },
    });
    return { cluster, taskDefinition, container, logGroup };
  }
}

/** The backups config's constraints the schema cannot see from the construct's side. */
function validate(backups: BackupsConfig) {
  for (const db of backups.databases) {
    if (db.runner === 'fargate' && !backups.vpc) {
      throw new Error(
        `DatabaseBackups: '${db.name}' runs on Fargate, which needs backups.vpc (its subnets and security groups)`,
      );
    }
  }
}

/** Every secret a backup reads: each database's connection secret and its scratch server's. */
export function backupSecretIds(backups: BackupsConfig): string[] {
  const ids = new Set<string>();
  for (const db of backups.databases) {
    ids.add(db.secret);
    if (db.scratch?.secret) ids.add(db.scratch.secret);
  }
  return [...ids];
}

/** The bucket's lifecycle from `backups.retention`. */
function lifecycleRules(backups: BackupsConfig): LifecycleRule[] {
  const { retention, prefix } = backups;
  const scoped = prefix ? { prefix } : {};
  const rules: LifecycleRule[] = [
    {
      // Dumps and manifests are tagged `expire` when written; the newest `keepLast` verified ones
      // of each database are re-tagged `keep`, so they outlive this rule whatever their age.
      id: 'ExpireBackups',
      ...scoped,
      tagFilters: { [RETENTION_TAG]: RETENTION_TAG_VALUES.expire },
      expiration: Duration.days(retention.days),
    },
    {
      // Versioning keeps an overwritten or expired object as a noncurrent version: a week to undo, then gone.
      id: 'ExpireNoncurrentVersions',
      noncurrentVersionExpiration: Duration.days(7),
      expiredObjectDeleteMarker: true,
    },
    {
      // A dump that failed half-way is aborted by the code; this catches a process killed before that.
      id: 'AbortIncompleteUploads',
      abortIncompleteMultipartUploadAfter: Duration.days(1),
    },
  ];
  if (retention.transitionAfterDays !== undefined) {
    rules.push({
      id: 'TransitionBackups',
      ...scoped,
      transitions: [
        {
          storageClass: new StorageClass(retention.storageClass),
          transitionAfter: Duration.days(retention.transitionAfterDays),
        },
      ],
    });
  }
  return rules;
}
