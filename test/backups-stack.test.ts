import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type ResponderApp } from '../lib/app.ts';
import { BACKUP_IMAGE_BASE, POSTGRESQL_CLIENT_PACKAGE } from '../lib/backup-image.ts';
import { ActionDispatch } from '../lib/constructs/action-dispatch.ts';
import { DatabaseBackups } from '../lib/constructs/database-backups.ts';
import { StateTable } from '../lib/constructs/state-table.ts';
import type { ResponderConfig } from '../src/config/schema.ts';
import { testConfig } from './support/runtime.ts';
import { decide, functionsOf, ResolvedTemplate, type Statement } from './support/template-iam.ts';

/** Synthesis without esbuild: the image's folder holds the Dockerfile and stand-ins (see lib/backup-image.ts). */
const appWithoutBundling = () => new App({ context: { 'aws:cdk:bundling-stacks': [] } });

type Resources = Record<string, { Properties: Record<string, unknown>; DeletionPolicy?: string }>;

const VPC = {
  vpcId: 'vpc-0abc1234',
  availabilityZones: ['eu-west-1a', 'eu-west-1b'],
  privateSubnetIds: ['subnet-0aa11000', 'subnet-0bb22000'],
  securityGroupIds: ['sg-0cc33000'],
};
const LEDGER_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ledger/db-AbCdEf';

/** Two databases (one on Fargate in the VPC, one with a restore drill), Object Lock, a transition. */
function backupsConfig(overrides: Record<string, unknown> = {}): ResponderConfig {
  return testConfig({
    backups: {
      vpc: VPC,
      prefix: 'db-backups/',
      objectLock: { mode: 'governance', days: 14 },
      retention: { days: 35, transitionAfterDays: 7, storageClass: 'GLACIER_IR', keepLast: 3 },
      databases: [
        {
          name: 'payments',
          secret: 'payments/db',
          verify: 'restore',
          scratch: { secret: 'payments/scratch', database: 'payments_drill' },
        },
        {
          name: 'ledger',
          secret: LEDGER_SECRET,
          runner: 'fargate',
          format: 'directory',
          jobs: 4,
          schedule: 'cron(30 1 * * ? *)',
        },
      ],
      ...overrides,
    },
  } as Parameters<typeof testConfig>[0]);
}

describe('Stack: Responder, database backups', () => {
  let config: ResponderConfig;
  let built: ResponderApp;
  let template: Template;
  let resolved: ResolvedTemplate;
  const idsOf = (type: string) => Object.keys(template.findResources(type));
  const idOf = (type: string, prefix: string) => {
    const id = idsOf(type).find((candidate) => candidate.startsWith(prefix));
    if (!id) throw new Error(`no ${type} ${prefix}`);
    return id;
  };
  const bucketId = () => idOf('AWS::S3::Bucket', 'BackupActionBucket');
  const logsId = () => idOf('AWS::S3::Bucket', 'BackupActionAccessLogs');
  const keyId = () => idOf('AWS::KMS::Key', 'BackupActionKey');
  const backupFunction = () =>
    functionsOf(resolved).find((f) => f.environment.POWERTOOLS_SERVICE_NAME === 'responder-backup');
  const taskRoleStatements = (): Statement[] => {
    const roleId = idOf('AWS::IAM::Role', 'BackupActionTaskTaskRole');
    return resolved
      .idsOf('AWS::IAM::Policy')
      .filter((id) =>
        ((resolved.properties(id).Roles as Array<{ Ref: string }>) ?? []).some((r) => r.Ref === roleId),
      )
      .flatMap((id) => {
        const document = resolved.resolve(resolved.properties(id).PolicyDocument) as {
          Statement: Statement[];
        };
        return document.Statement;
      });
  };

  beforeAll(() => {
    config = backupsConfig();
    built = buildApp(config, appWithoutBundling());
    template = Template.fromStack(built.primary);
    resolved = new ResolvedTemplate(template.toJSON() as ResolvedTemplate['template'], 'eu-west-1', 'p');
  });

  it('encrypts the bucket with its own rotating customer-managed key, versions it and keeps it', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      Description: 'Responder database backups encryption',
      EnableKeyRotation: true,
    });
    template.hasResource('AWS::S3::Bucket', {
      Properties: Match.objectLike({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            {
              BucketKeyEnabled: true,
              ServerSideEncryptionByDefault: {
                SSEAlgorithm: 'aws:kms',
                KMSMasterKeyID: { 'Fn::GetAtt': [keyId(), 'Arn'] },
              },
            },
          ],
        },
        VersioningConfiguration: { Status: 'Enabled' },
      }),
      DeletionPolicy: 'Retain',
    });
    const bucket = (template.findResources('AWS::S3::Bucket') as Resources)[bucketId()];
    expect(bucket?.DeletionPolicy).toBe('Retain');
  });

  it('blocks public access to both buckets and refuses requests without TLS', () => {
    for (const id of [bucketId(), logsId()]) {
      template.hasResourceProperties('AWS::S3::Bucket', {
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      });
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: id },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Principal: { AWS: '*' },
              Action: 's3:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
  });

  it('logs access to a separate bucket with S3-managed keys, which log delivery may write to and which expires', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { DestinationBucketName: { Ref: logsId() }, LogFilePrefix: 'backups/' },
    });
    const logs = (template.findResources('AWS::S3::Bucket') as Resources)[logsId()];
    expect(logs?.Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
    expect(logs?.Properties.LoggingConfiguration).toBeUndefined();
    expect(logs?.Properties.AccessControl).toBeUndefined();
    expect(JSON.stringify(logs?.Properties.LifecycleConfiguration)).toContain(
      `"ExpirationInDays":${Math.max(config.logRetentionDays, 30)}`,
    );
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logsId() },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'logging.s3.amazonaws.com' },
            Action: 's3:PutObject',
            Condition: Match.objectLike({
              ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [bucketId(), 'Arn'] } },
            }),
          }),
        ]),
      },
    });
  });

  it('expires tagged backups, transitions, drops noncurrent versions and aborts stale uploads, from the config', () => {
    const bucket = (template.findResources('AWS::S3::Bucket') as Resources)[bucketId()];
    const lifecycle = bucket?.Properties.LifecycleConfiguration as
      | { Rules: Array<Record<string, unknown>> }
      | undefined;
    const rules = lifecycle?.Rules ?? [];
    const rule = (id: string) => rules.find((r) => r.Id === id);
    expect(rule('ExpireBackups')).toEqual({
      Id: 'ExpireBackups',
      Status: 'Enabled',
      Prefix: 'db-backups/',
      TagFilters: [{ Key: 'responder-retention', Value: 'expire' }],
      ExpirationInDays: 35,
    });
    expect(rule('TransitionBackups')).toEqual({
      Id: 'TransitionBackups',
      Status: 'Enabled',
      Prefix: 'db-backups/',
      Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 7 }],
    });
    expect(rule('ExpireNoncurrentVersions')).toMatchObject({
      Status: 'Enabled',
      NoncurrentVersionExpiration: { NoncurrentDays: 7 },
      ExpiredObjectDeleteMarker: true,
    });
    expect(rule('AbortIncompleteUploads')).toMatchObject({
      Status: 'Enabled',
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
    });
    // Kept (re-tagged) backups match no expiry rule: nothing else expires current versions.
    expect(rules.filter((r) => 'ExpirationInDays' in r)).toHaveLength(1);
  });

  it('locks objects by default when objectLock is governance or compliance', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 14 } },
      },
      VersioningConfiguration: { Status: 'Enabled' },
    });
    const compliance = Template.fromStack(
      buildApp(backupsConfig({ objectLock: { mode: 'compliance', days: 30 } }), appWithoutBundling()).primary,
    );
    compliance.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockConfiguration: { Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 30 } } },
    });
  });

  it('runs the backup function from the pg_dump image: arm64, 15 minutes, 1024 MB, /tmp for directory dumps', () => {
    const fn = backupFunction();
    expect(fn).toBeDefined();
    const props = resolved.properties(fn?.logicalId ?? '');
    expect(props).toMatchObject({
      PackageType: 'Image',
      Architectures: ['arm64'],
      Timeout: 900,
      MemorySize: 1024,
      TracingConfig: { Mode: 'Active' },
      ReservedConcurrentExecutions: 2,
      VpcConfig: { SubnetIds: VPC.privateSubnetIds, SecurityGroupIds: VPC.securityGroupIds },
    });
    expect(props.Runtime).toBeUndefined();
    // Only ledger (Fargate) uses the directory format: the function keeps Lambda's default /tmp.
    expect(props.EphemeralStorage).toBeUndefined();
    const onLambda = Template.fromStack(
      buildApp(
        backupsConfig({
          memoryMb: 2048,
          databases: [{ name: 'big', secret: 'big/db', format: 'directory', jobs: 2 }],
        }),
        appWithoutBundling(),
      ).primary,
    );
    onLambda.hasResourceProperties('AWS::Lambda::Function', {
      PackageType: 'Image',
      MemorySize: 2048,
      EphemeralStorage: { Size: 10240 },
    });
  });

  it('stages the image from the Lambda Node.js base image and the distribution PostgreSQL client', () => {
    const { image } = built.primary.backups;
    const staging = image.node.findChild('Staging') as unknown as { absoluteStagedPath: string };
    const dockerfile = readFileSync(join(staging.absoluteStagedPath, 'Dockerfile'), 'utf8');
    expect(dockerfile).toContain(`FROM ${BACKUP_IMAGE_BASE}`);
    expect(dockerfile).toContain(`dnf install -y ${POSTGRESQL_CLIENT_PACKAGE}`);
    expect(dockerfile).toMatch(/COPY handler\.mjs task\.mjs \/var\/task\//);
    expect(dockerfile).toContain('CMD ["handler.handler"]');
    const fn = resolved.properties(backupFunction()?.logicalId ?? '');
    expect(JSON.stringify(resolved.resolve(fn.Code))).toContain(`:${image.imageTag}`);
  });

  it('gives the function the bucket, the key, the catalog and the Fargate runner in its environment', () => {
    const env = backupFunction()?.environment ?? {};
    const cluster = idOf('AWS::ECS::Cluster', 'BackupActionCluster');
    const task = idOf('AWS::ECS::TaskDefinition', 'BackupActionTask');
    expect(env).toMatchObject({
      STATE_TABLE_NAME: resolved.ref(idOf('AWS::DynamoDB::Table', 'StateTable')),
      BACKUP_BUCKET: resolved.ref(bucketId()),
      EVENT_BUS_NAME: resolved.ref(idOf('AWS::Events::EventBus', 'DispatchBus')),
      BACKUP_CLUSTER_ARN: resolved.getAtt(cluster, 'Arn'),
      BACKUP_TASK_DEFINITION_ARN: resolved.ref(task),
      BACKUP_CONTAINER_NAME: 'backup',
      BACKUP_SUBNETS: 'subnet-0aa11000,subnet-0bb22000',
      BACKUP_SECURITY_GROUPS: 'sg-0cc33000',
    });
  });

  describe('grants, for the function and the Fargate task', () => {
    const bucketArn = () => resolved.getAtt(bucketId(), 'Arn');
    const keyArn = () => resolved.getAtt(keyId(), 'Arn');
    const principals = () => ({
      function: backupFunction()?.statements ?? [],
      task: taskRoleStatements(),
    });
    const can = (statements: Statement[], action: string, resource: string, context = {}) =>
      decide(statements, [], { action, resource, context });

    it('on the backup objects under the prefix only, with the five object actions and nothing on the bucket', () => {
      for (const [who, statements] of Object.entries(principals())) {
        for (const action of [
          's3:PutObject',
          's3:PutObjectTagging',
          's3:PutObjectVersionTagging',
          's3:AbortMultipartUpload',
          's3:GetObjectVersion',
        ]) {
          expect(can(statements, action, `${bucketArn()}/db-backups/payments/2026/01/01/x.dump`), who).toBe(
            'allowed',
          );
          expect(can(statements, action, `${bucketArn()}/elsewhere/x.dump`), who).toBe('implicitly denied');
          expect(can(statements, action, 'arn:aws:s3:::another-bucket/db-backups/x.dump'), who).toBe(
            'implicitly denied',
          );
        }
        // Reads are always of the version written (GetObjectVersion): the unversioned read is not granted.
        for (const action of [
          's3:GetObject',
          's3:DeleteObject',
          's3:DeleteObjectVersion',
          's3:BypassGovernanceRetention',
        ]) {
          expect(can(statements, action, `${bucketArn()}/db-backups/x.dump`), who).toBe('implicitly denied');
        }
        expect(can(statements, 's3:ListBucket', bucketArn()), who).toBe('implicitly denied');
        const s3 = statements.filter((s) => [s.Action ?? []].flat().some((a) => a.startsWith('s3:')));
        expect(
          s3.flatMap((s) => [s.Resource ?? []].flat()),
          who,
        ).toEqual([`${bucketArn()}/db-backups/*`]);
      }
    });

    it('on the bucket key: a data key and Decrypt only', () => {
      for (const [who, statements] of Object.entries(principals())) {
        const onKey = statements.filter((s) => [s.Resource ?? []].flat().includes(keyArn()));
        expect(onKey.flatMap((s) => [s.Action ?? []].flat()).sort(), who).toEqual([
          'kms:Decrypt',
          'kms:GenerateDataKey',
        ]);
      }
    });

    it('on exactly the databases and scratch secrets the config names', () => {
      for (const [who, statements] of Object.entries(principals())) {
        const secrets = statements
          .filter((s) => [s.Action ?? []].flat().includes('secretsmanager:GetSecretValue'))
          .flatMap((s) => [s.Resource ?? []].flat())
          .sort();
        expect(secrets, who).toEqual(
          [
            LEDGER_SECRET,
            'arn:aws:secretsmanager:eu-west-1:123456789012:secret:payments/db-??????',
            'arn:aws:secretsmanager:eu-west-1:123456789012:secret:payments/scratch-??????',
          ].sort(),
        );
      }
    });

    it('on the catalog, incidents and audit trail by item kind, and nothing on "*" but X-Ray and the VPC access', () => {
      const table = resolved.getAtt(idOf('AWS::DynamoDB::Table', 'StateTable'), 'Arn');
      for (const [who, statements] of Object.entries(principals())) {
        const put = (pk: string) =>
          can(statements, 'dynamodb:PutItem', table, { 'dynamodb:LeadingKeys': [pk] });
        expect(put('BACKUP#payments'), who).toBe('allowed');
        expect(put('INC#20260101-00000000'), who).toBe('allowed');
        expect(put('AUDIT#INC#20260101-00000000'), who).toBe('allowed');
        expect(put('FLAG#automation'), who).toBe('implicitly denied');
        expect(put('ESC#20260101-00000000'), who).toBe('implicitly denied');
        // X-Ray's two actions, and the ENI and log actions of AWSLambdaVPCAccessExecutionRole.
        const anywhere = statements.filter((s) => [s.Resource ?? []].flat().includes('*'));
        const actions = anywhere.flatMap((s) => [s.Action ?? []].flat());
        expect(
          actions.filter((a) => !/^(xray|ec2|logs):/.test(a)),
          who,
        ).toEqual([]);
      }
    });

    it('lets the function start the task on its cluster, passing only its two roles', () => {
      const statements = principals().function;
      const task = resolved.ref(idOf('AWS::ECS::TaskDefinition', 'BackupActionTask'));
      const cluster = resolved.getAtt(idOf('AWS::ECS::Cluster', 'BackupActionCluster'), 'Arn');
      expect(can(statements, 'ecs:RunTask', task, { 'ecs:cluster': [cluster] })).toBe('allowed');
      expect(
        can(statements, 'ecs:RunTask', task, { 'ecs:cluster': ['arn:aws:ecs:eu-west-1:1:cluster/x'] }),
      ).toBe('implicitly denied');
      const roles = ['BackupActionTaskTaskRole', 'BackupActionTaskExecutionRole'].map((prefix) =>
        resolved.getAtt(idOf('AWS::IAM::Role', prefix), 'Arn'),
      );
      for (const role of roles) {
        expect(
          can(statements, 'iam:PassRole', role, { 'iam:PassedToService': ['ecs-tasks.amazonaws.com'] }),
        ).toBe('allowed');
      }
      expect(
        can(statements, 'iam:PassRole', backupFunction()?.roleArn ?? '', {
          'iam:PassedToService': ['ecs-tasks.amazonaws.com'],
        }),
      ).toBe('implicitly denied');
    });

    it('lets the function and the task, as the bus policy allows, request escalations', () => {
      const policy = template.findResources('AWS::Events::EventBusPolicy');
      const allowed = JSON.stringify(resolved.resolve(Object.values(policy)[0]));
      expect(allowed).toContain(backupFunction()?.roleArn ?? 'missing');
      expect(allowed).toContain(resolved.getAtt(idOf('AWS::IAM::Role', 'BackupActionTaskTaskRole'), 'Arn'));
    });
  });

  it('schedules one backup request per database on the bus, each with its own schedule or the default', () => {
    const schedules = Object.values(template.findResources('AWS::Scheduler::Schedule') as Resources)
      .map((schedule) => {
        const target = schedule.Properties.Target as { Input: string; RoleArn: unknown };
        return {
          expression: schedule.Properties.ScheduleExpression,
          input: JSON.parse(target.Input) as Record<string, unknown>,
          role: target.RoleArn,
        };
      })
      .filter((s) => s.input.kind === 'backup');
    expect(schedules.map((s) => [s.input.params, s.expression])).toEqual(
      expect.arrayContaining([
        [{ database: 'payments' }, config.backups.schedule],
        [{ database: 'ledger' }, 'cron(30 1 * * ? *)'],
      ]),
    );
    expect(schedules).toHaveLength(2);
    for (const { input, role } of schedules) {
      expect(input).toMatchObject({ trigger: 'schedule', dryRun: false });
      expect(input.actionId).toBe(
        `schedule-backup-${(input.params as { database: string }).database}-<aws.scheduler.scheduled-time>`,
      );
      expect(role).toEqual({ 'Fn::GetAtt': [idOf('AWS::IAM::Role', 'SchedulesRole'), 'Arn'] });
    }
  });

  it('runs Fargate databases as an arm64 task with container insights, logs and room for directory dumps', () => {
    template.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      RequiresCompatibilities: ['FARGATE'],
      NetworkMode: 'awsvpc',
      Cpu: '1024',
      Memory: '2048',
      EphemeralStorage: { SizeInGiB: 100 },
      RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
      ContainerDefinitions: [
        Match.objectLike({
          Name: 'backup',
          EntryPoint: ['node'],
          Command: ['task.mjs'],
          WorkingDirectory: '/var/task',
          LogConfiguration: Match.objectLike({ LogDriver: 'awslogs' }),
        }),
      ],
    });
    const logGroup = idOf('AWS::Logs::LogGroup', 'BackupActionTaskLogs');
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: config.logRetentionDays });
    expect(logGroup).toBeDefined();
    // The function and the task run the same image.
    const task = template.findResources('AWS::ECS::TaskDefinition') as Resources;
    const image = JSON.stringify(
      resolved.resolve(
        (
          Object.values(task)[0]?.Properties.ContainerDefinitions as Array<{ Image: unknown }> | undefined
        )?.[0]?.Image,
      ),
    );
    expect(image).toContain(built.primary.backups.image.imageTag);
  });

  it('outputs the bucket and function names', () => {
    template.hasOutput('BackupBucketName', { Value: { Ref: bucketId() } });
    template.hasOutput('BackupFunctionName', { Value: { Ref: backupFunction()?.logicalId } });
  });

  it('has no unacknowledged cdk-nag finding, and acknowledges only the backup findings that must be', () => {
    const report = new AwsSolutionsChecks(built.app).validateScope(built.app);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
    const acknowledged = built.primary.backups.node
      .findAll()
      .flatMap((construct) =>
        construct.node.metadata
          .filter((entry) => entry.type === 'aws:cdk:acknowledged-rules')
          .flatMap((entry) =>
            Object.keys(entry.data as Record<string, string>).map((id) => `${id} ${construct.node.path}`),
          ),
      );
    expect(
      acknowledged
        .map((entry) => entry.replace(/^Annotation::/, '').replace(/[A-F0-9]{8}\.Arn/, 'ID.Arn'))
        .sort(),
    ).toEqual(
      [
        'AwsSolutions-ECS2 Responder-payments-api/BackupAction/Task/Resource',
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole] Responder-payments-api/BackupAction/Default/ServiceRole/Resource',
        'AwsSolutions-IAM5[Resource::*] Responder-payments-api/BackupAction/Default/Tracing/Resource',
        'AwsSolutions-IAM5[Resource::*] Responder-payments-api/BackupAction/Task/ExecutionRole/DefaultPolicy/Resource',
        'AwsSolutions-IAM5[Resource::<BackupActionBucketID.Arn>/db-backups/*] Responder-payments-api/BackupAction/Default/ServiceRole/DefaultPolicy/Resource',
        'AwsSolutions-IAM5[Resource::<BackupActionBucketID.Arn>/db-backups/*] Responder-payments-api/BackupAction/Task/TaskRole/DefaultPolicy/Resource',
      ].sort(),
    );
  });
});

describe('Stack: Responder, database backups without Fargate or Object Lock', () => {
  let template: Template;
  let built: ResponderApp;
  beforeAll(() => {
    built = buildApp(
      testConfig({
        backups: {
          bucketName: 'payments-backups-example',
          databases: [{ name: 'payments', secret: 'payments/db' }],
        },
      } as Parameters<typeof testConfig>[0]),
      appWithoutBundling(),
    );
    template = Template.fromStack(built.primary);
  });

  it('names the bucket from the config, without Object Lock, transition or VPC', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: 'payments-backups-example',
      ObjectLockEnabled: Match.absent(),
      ObjectLockConfiguration: Match.absent(),
      VersioningConfiguration: { Status: 'Enabled' },
    });
    const rules = JSON.stringify(template.findResources('AWS::S3::Bucket'));
    expect(rules).not.toContain('TransitionBackups');
    expect(rules).toContain('"Prefix":"backups/"');
    template.hasResourceProperties('AWS::Lambda::Function', {
      PackageType: 'Image',
      VpcConfig: Match.absent(),
    });
  });

  it('creates no cluster, task or RunTask grant, and no Fargate settings in the environment', () => {
    template.resourceCountIs('AWS::ECS::Cluster', 0);
    template.resourceCountIs('AWS::ECS::TaskDefinition', 0);
    const text = JSON.stringify(template.toJSON());
    expect(text).not.toContain('ecs:RunTask');
    expect(text).not.toContain('iam:PassRole');
    expect(text).not.toContain('BACKUP_CLUSTER_ARN');
  });

  it('has no unacknowledged cdk-nag finding', () => {
    const report = new AwsSolutionsChecks(built.app).validateScope(built.app);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });
});

describe('Backups config and construct validation', () => {
  it('refuses runner fargate without backups.vpc, naming the field and the fix', () => {
    expect(() =>
      testConfig({
        backups: { databases: [{ name: 'big', secret: 'big/db', runner: 'fargate' }] },
      } as Parameters<typeof testConfig>[0]),
    ).toThrow(
      /backups\.databases\[0\]\.runner: 'big' runs as a Fargate task, which needs subnets: set backups\.vpc/,
    );
  });

  it('refuses a transition to an infrequent-access class before 30 days', () => {
    expect(() =>
      testConfig({
        backups: { retention: { days: 60, transitionAfterDays: 7, storageClass: 'STANDARD_IA' } },
      } as Parameters<typeof testConfig>[0]),
    ).toThrow(/backups\.retention\.transitionAfterDays: S3 moves objects to STANDARD_IA after 30 days/);
  });

  it('DatabaseBackups refuses a Fargate database without a VPC even when handed an unchecked config', () => {
    const config = testConfig();
    const unchecked = {
      ...config,
      backups: {
        ...config.backups,
        databases: [{ ...backupsConfig().backups.databases[1], runner: 'fargate' }],
      },
    } as ResponderConfig;
    const stack = new Stack(appWithoutBundling(), 'Backups');
    const state = new StateTable(stack, 'State');
    const dispatch = new ActionDispatch(stack, 'Dispatch');
    const role = new Role(stack, 'Schedules', { assumedBy: new ServicePrincipal('scheduler.amazonaws.com') });
    expect(
      () => new DatabaseBackups(stack, 'Backups', { config: unchecked, state, dispatch, schedule: { role } }),
    ).toThrow(/DatabaseBackups: 'ledger' runs on Fargate, which needs backups\.vpc/);
  });
});
