import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type ResponderApp } from '../lib/app.ts';
import { ResponderFunction } from '../lib/constructs/responder-function.ts';
import { WebhookApi } from '../lib/constructs/webhook-api.ts';
import { ACTION_KINDS, type ResponderConfig } from '../src/config/schema.ts';
import { testConfig } from './support/runtime.ts';

/** Synthesis without esbuild: bundling is covered by `npm run synth` and the benchmark. */
const appWithoutBundling = () => new App({ context: { 'aws:cdk:bundling-stacks': [] } });

type Resources = Record<string, { Properties: Record<string, unknown> }>;
type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

const actionsOf = (statement: Statement) =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];

function statementsOf(template: Template): Array<Statement & { policy: string }> {
  const policies = template.findResources('AWS::IAM::Policy') as Resources;
  return Object.entries(policies).flatMap(([id, policy]) =>
    ((policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement ?? []).map((s) => ({
      ...s,
      policy: id,
    })),
  );
}

describe('Stack: Responder (primary region)', () => {
  let config: ResponderConfig;
  let built: ResponderApp;
  let template: Template;
  beforeAll(() => {
    // GIVEN
    config = testConfig({ api: { throttle: { rateLimit: 7, burstLimit: 11 } }, logRetentionDays: 90 });
    // WHEN
    built = buildApp(config, appWithoutBundling());
    template = Template.fromStack(built.primary);
  });

  it('is in the configured region, with the DR stack in the DR region', () => {
    expect(built.primary.region).toBe('eu-west-1');
    expect(built.dr.region).toBe('eu-central-1');
  });

  it('keeps state in one on-demand table with PITR, TTL and KMS encryption', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() },
      GlobalSecondaryIndexes: [Match.objectLike({ IndexName: 'gsi1' })],
      DeletionProtectionEnabled: true,
    });
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('routes each action kind from the bus to its function, with a dead-letter queue per target', () => {
    template.resourceCountIs('AWS::Events::EventBus', 1);
    template.resourceCountIs('AWS::Events::Rule', ACTION_KINDS.length);
    for (const kind of ACTION_KINDS) {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['responder'],
          'detail-type': ['Action Requested'],
          detail: { kind: [kind] },
        },
        Targets: [
          Match.objectLike({
            DeadLetterConfig: {
              Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp(`${kind}DeadLetters`), 'Arn'] },
            },
            RetryPolicy: { MaximumEventAgeInSeconds: 21600, MaximumRetryAttempts: 8 },
          }),
        ],
      });
    }
    template.resourceCountIs('AWS::SQS::Queue', ACTION_KINDS.length);
    const queues = template.findResources('AWS::SQS::Queue') as Resources;
    for (const queue of Object.values(queues)) expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow',
            Action: 'sqs:SendMessage',
            Principal: { Service: 'events.amazonaws.com' },
          }),
        ]),
      },
    });
  });

  it('serves the webhook and incident API on a throttled, access-logged HTTP API', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    for (const route of [
      'POST /alertmanager',
      'GET /healthz',
      'GET /api/incidents',
      'GET /api/incidents/{id}',
      'GET /api/automation',
      'PUT /api/automation',
      'GET /api/probes',
      'POST /api/probes',
    ]) {
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: route });
    }
    template.resourceCountIs('AWS::ApiGatewayV2::Route', 8);
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 7, ThrottlingBurstLimit: 11 },
      AccessLogSettings: {
        DestinationArn: Match.anyValue(),
        Format: Match.stringLikeRegexp('\\$context.status'),
      },
    });
    const outputs = template.findOutputs('WebhookUrl');
    expect(JSON.stringify(outputs)).toContain('/alertmanager');
  });

  it('runs every function on Node.js 22 or newer, arm64, traced, with its own log group', () => {
    const functions = template.findResources('AWS::Lambda::Function') as Resources;
    expect(Object.keys(functions)).toHaveLength(7);
    for (const fn of Object.values(functions)) {
      const runtime = String(fn.Properties.Runtime);
      expect(runtime).toMatch(/^nodejs\d+\.x$/);
      expect(Number(/\d+/.exec(runtime)?.[0])).toBeGreaterThanOrEqual(22);
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
      expect(fn.Properties.LoggingConfig).toMatchObject({ LogGroup: { Ref: expect.any(String) } });
      expect(fn.Properties.Environment).toMatchObject({
        Variables: expect.objectContaining({ NODE_OPTIONS: '--enable-source-maps' }),
      });
    }
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
  });

  it('grants only named actions on named resources (X-Ray aside)', () => {
    const statements = statementsOf(template);
    expect(statements.length).toBeGreaterThan(10);
    for (const statement of statements) {
      const actions = actionsOf(statement);
      if (statement.Resource === '*') {
        expect(actions.every((action) => action.startsWith('xray:'))).toBe(true);
      }
      for (const action of actions) {
        if (action.startsWith('dynamodb:')) expect(action).toMatch(/^dynamodb:[A-Za-z]+$/);
        expect(action).not.toBe('*');
      }
    }
    const tableStatements = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
    for (const statement of tableStatements) {
      expect(JSON.stringify(statement.Resource)).toMatch(/StateTable/);
    }
  });

  it('gives ingest the bus and the secret, and the API no delete', () => {
    const statements = statementsOf(template);
    const of = (prefix: string) => statements.filter((s) => s.policy.startsWith(prefix));
    const ingest = of('Ingest').flatMap(actionsOf);
    const api = of('IncidentApi').flatMap(actionsOf);
    const backup = of('BackupAction').flatMap(actionsOf);
    expect(ingest).toEqual(
      expect.arrayContaining(['events:PutEvents', 'secretsmanager:GetSecretValue', 'dynamodb:PutItem']),
    );
    expect(api).toEqual(expect.arrayContaining(['dynamodb:Query', 'secretsmanager:GetSecretValue']));
    expect(api).not.toContain('dynamodb:DeleteItem');
    expect(backup).not.toContain('events:PutEvents');
    expect(backup).not.toContain('secretsmanager:GetSecretValue');
    expect(backup).not.toContain('lambda:InvokeFunction');
  });

  it('schedules probes, backups and the escalation sweep onto the bus', () => {
    const schedules = template.findResources('AWS::Scheduler::Schedule') as Resources;
    const byKind = Object.fromEntries(
      Object.values(schedules).map((schedule) => {
        const target = schedule.Properties.Target as {
          Input: string;
          EventBridgeParameters: { DetailType: string; Source: string };
        };
        const input = JSON.parse(target.Input) as { kind: string; actionId: string; dryRun: boolean };
        expect(target.EventBridgeParameters).toEqual({ DetailType: 'Action Requested', Source: 'responder' });
        expect(input.actionId).toContain('<aws.scheduler.scheduled-time>');
        return [input.kind, schedule.Properties.ScheduleExpression];
      }),
    );
    expect(byKind).toEqual({
      probe: config.probes.schedule,
      backup: config.backups.schedule,
      escalate: config.escalation.sweepSchedule,
    });
  });

  it('creates the webhook credential unless the config names one', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({
        GenerateStringKey: 'token',
        SecretStringTemplate: '{"username":"alertmanager"}',
      }),
    });
    const imported = buildApp(
      testConfig({ webhook: { credentialSecret: 'ops/responder-webhook' } }),
      appWithoutBundling(),
    );
    Template.fromStack(imported.primary).resourceCountIs('AWS::SecretsManager::Secret', 0);
  });
});

describe('Stack: Responder, probes', () => {
  const vpc = {
    vpcId: 'vpc-0abc1234',
    availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    privateSubnetIds: ['subnet-0aa11', 'subnet-0bb22'],
    securityGroupIds: ['sg-0cc33'],
  };
  const probesConfig = testConfig({
    probes: {
      vpc,
      targets: [
        { name: 'db', kind: 'postgres', host: 'db.internal', secret: 'payments/db' },
        {
          name: 'api',
          kind: 'http',
          url: 'https://api.internal/health',
          headers: { 'x-key': { secret: 'payments/api-key' } },
        },
      ],
    },
  });
  let built: ResponderApp;
  let template: Template;
  beforeAll(() => {
    built = buildApp(probesConfig, appWithoutBundling());
    template = Template.fromStack(built.primary);
  });
  const probeFunctionId = () =>
    Object.keys(template.findResources('AWS::Lambda::Function')).find((id) => id.startsWith('ProbeAction')) ??
    '';

  it('runs the probe function, and only it, in the configured private subnets', () => {
    const functions = template.findResources('AWS::Lambda::Function') as Resources;
    for (const [id, fn] of Object.entries(functions)) {
      if (id === probeFunctionId()) {
        expect(fn.Properties.VpcConfig).toEqual({
          SubnetIds: vpc.privateSubnetIds,
          SecurityGroupIds: vpc.securityGroupIds,
        });
      } else {
        expect(fn.Properties.VpcConfig).toBeUndefined();
      }
    }
  });

  it('lets the probe function read exactly the secrets its targets name, and request escalations', () => {
    const statements = statementsOf(template).filter((s) => s.policy.startsWith('ProbeAction'));
    const secretResources = statements
      .filter((s) => actionsOf(s).includes('secretsmanager:GetSecretValue'))
      .map((s) => JSON.stringify(s.Resource));
    expect(secretResources).toHaveLength(2);
    expect(secretResources.join(' ')).toContain('secret:payments/db-??????');
    expect(secretResources.join(' ')).toContain('secret:payments/api-key-??????');
    expect(statements.flatMap(actionsOf)).toContain('events:PutEvents');
    const fn = template.findResources('AWS::Lambda::Function')[probeFunctionId()] as {
      Properties: { Environment: { Variables: Record<string, unknown> } };
    };
    expect(fn.Properties.Environment.Variables.EVENT_BUS_NAME).toBeDefined();
  });

  it('lets the API invoke the probe function, unqualified, for POST /api/probes', () => {
    const invoke = statementsOf(template).filter((s) => actionsOf(s).includes('lambda:InvokeFunction'));
    expect(invoke).toHaveLength(1);
    expect(invoke[0]?.policy).toMatch(/^IncidentApi/);
    expect(invoke[0]?.Resource).toEqual({ 'Fn::GetAtt': [probeFunctionId(), 'Arn'] });
  });

  it('stays free of unacknowledged cdk-nag findings with a VPC', () => {
    const report = new AwsSolutionsChecks(built.app).validateScope(built.app);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });
});

describe('Stack: Responder DR region', () => {
  it('holds the failover function and its own encrypted table', () => {
    const { dr } = buildApp(testConfig(), appWithoutBundling());
    const template = Template.fromStack(dr);
    const functions = template.findResources('AWS::Lambda::Function') as Resources;
    expect(Object.keys(functions)).toEqual([expect.stringMatching(/^FailoverAction/)]);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: Match.objectLike({ SSEEnabled: true }),
    });
    expect(JSON.stringify(template.findOutputs('FailoverFunctionName'))).toContain('FailoverAction');
  });
});

describe('cdk-nag: AwsSolutions', () => {
  it('reports no unacknowledged finding on the whole app', () => {
    const { app } = buildApp(testConfig(), appWithoutBundling());
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('is live: it flags an unencrypted, unlogged bucket', () => {
    const app = new App();
    new Bucket(new Stack(app, 'Plain'), 'Bucket');
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.success).toBe(false);
    expect(report.violations.map((v) => v.ruleName)).toEqual(expect.arrayContaining(['AwsSolutions-S1']));
  });
});

describe('Construct validation', () => {
  it('WebhookApi refuses throttling that would reject every request', () => {
    const stack = new Stack(appWithoutBundling(), 'Api');
    const fn = LambdaFunction.fromFunctionArn(
      stack,
      'Fn',
      'arn:aws:lambda:eu-west-1:123456789012:function:x',
    );
    expect(
      () => new WebhookApi(stack, 'Webhook', { ingest: fn, api: fn, rateLimit: 0, burstLimit: 10 }),
    ).toThrow(/must be positive/);
  });

  it('ResponderFunction refuses a memory size Lambda does not offer', () => {
    const stack = new Stack(appWithoutBundling(), 'Fn');
    expect(
      () =>
        new ResponderFunction(stack, 'Tiny', {
          name: 'probe',
          config: testConfig(),
          description: 'x',
          memorySize: 64,
        }),
    ).toThrow(/memorySize must be between 128 and 10240 MB/);
  });
});
