import { App, CfnResource, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type ResponderApp } from '../lib/app.ts';
import { ActionDispatch } from '../lib/constructs/action-dispatch.ts';
import { EscalationTopics } from '../lib/constructs/escalation-topics.ts';
import { Paging } from '../lib/constructs/paging.ts';
import { RemediationAction } from '../lib/constructs/remediation-action.ts';
import { ResponderFunction } from '../lib/constructs/responder-function.ts';
import { StateTable } from '../lib/constructs/state-table.ts';
import { WebhookApi } from '../lib/constructs/webhook-api.ts';
import { ACTION_KINDS, type ResponderConfig } from '../src/config/schema.ts';
import { testConfig } from './support/runtime.ts';
import {
  busPolicyStatements,
  decide,
  functionsOf,
  type Statement as IamStatement,
  ResolvedTemplate,
} from './support/template-iam.ts';

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
      'POST /api/incidents/{id}/ack',
      'GET /ack/{token}',
      'POST /ack/{token}',
      // other methods reach the API function, which answers 405/HEAD/OPTIONS as the local runtime does
      'ANY /alertmanager',
      'ANY /healthz',
      'ANY /api/{proxy+}',
    ]) {
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: route });
    }
    template.resourceCountIs('AWS::ApiGatewayV2::Route', 14);
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
    for (const [id, fn] of Object.entries(functions)) {
      if (fn.Properties.PackageType === 'Image') {
        // The backup function: AWS's Node.js 22 Lambda base image with pg_dump (lib/backup-image.ts).
        expect(id).toMatch(/^BackupAction/);
        expect(fn.Properties.Runtime).toBeUndefined();
        expect(JSON.stringify(fn.Properties.Code)).toContain('ImageUri');
      } else {
        const runtime = String(fn.Properties.Runtime);
        expect(runtime).toMatch(/^nodejs\d+\.x$/);
        expect(Number(/\d+/.exec(runtime)?.[0])).toBeGreaterThanOrEqual(22);
      }
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
    // A failed backup requests its incident's escalation; with no database configured it reads no secret.
    expect(backup).toContain('events:PutEvents');
    expect(backup).not.toContain('secretsmanager:GetSecretValue');
    expect(backup).not.toContain('lambda:InvokeFunction');
  });

  it('schedules probes and the escalation sweep onto the bus (backups: one per database, none here)', () => {
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
    expect(config.backups.databases).toEqual([]);
    expect(byKind).toEqual({
      probe: config.probes.schedule,
      escalate: config.escalation.sweepSchedule,
    });
  });

  it('creates the webhook credential unless the config names one', () => {
    const webhookSecret = {
      GenerateSecretString: Match.objectLike({
        GenerateStringKey: 'token',
        SecretStringTemplate: '{"username":"alertmanager"}',
      }),
    };
    template.resourcePropertiesCountIs('AWS::SecretsManager::Secret', webhookSecret, 1);
    const imported = buildApp(
      testConfig({ webhook: { credentialSecret: 'ops/responder-webhook' } }),
      appWithoutBundling(),
    );
    Template.fromStack(imported.primary).resourcePropertiesCountIs(
      'AWS::SecretsManager::Secret',
      webhookSecret,
      0,
    );
  });
});

describe('Stack: Responder, probes', () => {
  const vpc = {
    vpcId: 'vpc-0abc1234',
    availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    privateSubnetIds: ['subnet-0aa11000', 'subnet-0bb22000'],
    securityGroupIds: ['sg-0cc33000'],
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

  it('lets the API invoke the probe and rotate functions, unqualified, for POST /api/probes and /api/rotations', () => {
    const invoke = statementsOf(template).filter(
      // The rotate function's own, for RotateSecret on its secrets, aside (test/rotation-stack.test.ts).
      (s) =>
        actionsOf(s).includes('lambda:InvokeFunction') && !s.policy.startsWith('RotateActionStartRotation'),
    );
    expect(invoke).toHaveLength(1);
    expect(invoke[0]?.policy).toMatch(/^IncidentApi/);
    const rotateId = Object.keys(template.findResources('AWS::Lambda::Function')).find((id) =>
      id.startsWith('RotateActionFunction'),
    );
    expect(invoke[0]?.Resource).toEqual([
      { 'Fn::GetAtt': [probeFunctionId(), 'Arn'] },
      { 'Fn::GetAtt': [rotateId, 'Arn'] },
    ]);
  });

  it('stays free of unacknowledged cdk-nag findings with a VPC', () => {
    const report = new AwsSolutionsChecks(built.app).validateScope(built.app);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });
});

describe('Stack: Responder, escalation paging', () => {
  const TOPIC_NAMES = ['on-call', 'team-lead', 'cto', 'security', 'dba'];
  const pagingConfig = (overrides: { ackSigningSecret?: string; publicUrl?: string } = {}) =>
    testConfig({
      api: { publicUrl: overrides.publicUrl },
      escalation: {
        ackSigningSecret: overrides.ackSigningSecret,
        topics: {
          'on-call': {
            subscriptions: [
              { protocol: 'email', endpoint: 'oncall@example.com', filter: { severity: ['P1', 'P2'] } },
              { protocol: 'sms', endpoint: '+14155550100', filter: { severity: ['P1'], event: ['page'] } },
            ],
          },
          'team-lead': {
            displayName: 'Payments leads',
            subscriptions: [{ protocol: 'https', endpoint: 'https://hooks.example.com/page' }],
          },
          cto: { subscriptions: [{ protocol: 'email', endpoint: 'cto@example.com' }] },
          security: {},
          dba: {
            subscriptions: [
              { protocol: 'https', endpoint: 'https://dba.example.com/hook', filter: { tier: ['dba'] } },
            ],
          },
        },
      },
    });
  let built: ResponderApp;
  let template: Template;
  beforeAll(() => {
    built = buildApp(pagingConfig(), appWithoutBundling());
    template = Template.fromStack(built.primary);
  });

  const idsOf = (type: string) => Object.keys(template.findResources(type));
  const topicIds = () => idsOf('AWS::SNS::Topic');
  const topicId = (name: string) => {
    const id = topicIds().find((candidate) =>
      candidate.startsWith(`EscalationTopics${name.replace(/-/g, '')}`),
    );
    if (!id) throw new Error(`no topic ${name}`);
    return id;
  };
  const functionId = (prefix: string) => idsOf('AWS::Lambda::Function').find((id) => id.startsWith(prefix));
  const variablesOf = (tmpl: Template) =>
    Object.fromEntries(
      Object.entries(tmpl.findResources('AWS::Lambda::Function') as Resources).map(([id, fn]) => [
        id,
        (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables,
      ]),
    );

  it('creates one SNS topic per configured topic, encrypted with a rotating customer-managed key', () => {
    template.resourceCountIs('AWS::SNS::Topic', TOPIC_NAMES.length);
    const keyId = idsOf('AWS::KMS::Key').find((id) => id.startsWith('EscalationTopicsKey'));
    expect(keyId).toBeDefined();
    template.hasResourceProperties('AWS::KMS::Key', {
      Description: 'Responder paging topics encryption',
      EnableKeyRotation: true,
    });
    template.allResourcesProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
    });
    template.hasResourceProperties('AWS::SNS::Topic', { DisplayName: 'payments-api on-call' });
    template.hasResourceProperties('AWS::SNS::Topic', { DisplayName: 'Payments leads' });
    expect(topicIds()).toHaveLength(new Set(TOPIC_NAMES.map(topicId)).size);
  });

  it('refuses publishing to every topic without TLS', () => {
    template.resourceCountIs('AWS::SNS::TopicPolicy', TOPIC_NAMES.length);
    for (const name of TOPIC_NAMES) {
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [{ Ref: topicId(name) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Principal: '*',
              Action: 'sns:Publish',
              Resource: { Ref: topicId(name) },
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
  });

  it('subscribes the configured email, SMS and HTTPS endpoints with their filter policies', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 5);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: { Ref: topicId('on-call') },
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
      FilterPolicy: { severity: ['P1', 'P2'] },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: { Ref: topicId('on-call') },
      Protocol: 'sms',
      Endpoint: '+14155550100',
      FilterPolicy: { severity: ['P1'], event: ['page'] },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: { Ref: topicId('team-lead') },
      Protocol: 'https',
      Endpoint: 'https://hooks.example.com/page',
      FilterPolicy: Match.absent(),
    });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: { Ref: topicId('cto') },
      Protocol: 'email',
      Endpoint: 'cto@example.com',
      FilterPolicy: Match.absent(),
    });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: { Ref: topicId('dba') },
      Protocol: 'https',
      Endpoint: 'https://dba.example.com/hook',
      FilterPolicy: { tier: ['dba'] },
    });
  });

  it('gives the escalate and API functions, and no other, the topics, the ack key and the public URL', () => {
    const escalate = functionId('EscalateAction');
    const api = functionId('IncidentApi');
    const ackSecret = idsOf('AWS::SecretsManager::Secret').find((id) => id.startsWith('AckSigningKey'));
    const topics = Object.fromEntries(TOPIC_NAMES.map((name) => [name, { Ref: topicId(name) }]));
    const variables = variablesOf(template);
    for (const [id, env] of Object.entries(variables)) {
      if (id === escalate || id === api) {
        // ESCALATION_TOPICS is a JSON object built from the topic ARNs at deploy time.
        const join = env.ESCALATION_TOPICS as { 'Fn::Join': [string, unknown[]] };
        expect(join['Fn::Join'][0]).toBe('');
        const refs = join['Fn::Join'][1].filter((part) => typeof part !== 'string');
        expect(refs).toEqual(Object.values(topics));
        const text = join['Fn::Join'][1]
          .map((part) => (typeof part === 'string' ? part : `ARN:${(part as { Ref: string }).Ref}`))
          .join('');
        expect(JSON.parse(text)).toEqual(
          Object.fromEntries(TOPIC_NAMES.map((name) => [name, `ARN:${topicId(name)}`])),
        );
        expect(env.ACK_SECRET_ARN).toEqual({ Ref: ackSecret });
        expect(env.PUBLIC_URL).toEqual({
          'Fn::GetAtt': [expect.stringMatching(/^WebhookApiHttpApi/), 'ApiEndpoint'],
        });
      } else {
        expect(env).not.toHaveProperty('ESCALATION_TOPICS');
        expect(env).not.toHaveProperty('ACK_SECRET_ARN');
        expect(env).not.toHaveProperty('PUBLIC_URL');
      }
    }
    expect(Object.keys(variables)).toEqual(expect.arrayContaining([escalate, api]));
  });

  it('lets only the escalate and API functions publish, on the topic ARNs only, and use the topic key', () => {
    const statements = statementsOf(template);
    const publish = statements.filter((s) => actionsOf(s).includes('sns:Publish'));
    expect(new Set(publish.map((s) => s.policy.replace(/(Function|ServiceRole).*$/, '')))).toEqual(
      new Set(['EscalateAction', 'IncidentApi']),
    );
    const topicRefs = TOPIC_NAMES.map((name) => ({ Ref: topicId(name) }));
    for (const policy of ['EscalateAction', 'IncidentApi']) {
      const own = publish.filter((s) => s.policy.startsWith(policy));
      expect(own.every((s) => s.Effect === 'Allow' && actionsOf(s).length === 1)).toBe(true);
      const resources = own.flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]));
      expect(resources).toHaveLength(topicRefs.length);
      expect(resources).toEqual(expect.arrayContaining(topicRefs));
    }
    const keyId = idsOf('AWS::KMS::Key').find((id) => id.startsWith('EscalationTopicsKey'));
    const keyStatements = statements.filter((s) => JSON.stringify(s.Resource).includes(`"${keyId}"`));
    expect(new Set(keyStatements.map((s) => s.policy.replace(/(Function|ServiceRole).*$/, '')))).toEqual(
      new Set(['EscalateAction', 'IncidentApi']),
    );
    for (const statement of keyStatements) {
      expect(actionsOf(statement).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);
      expect(statement.Resource).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    }
    const ackSecret = idsOf('AWS::SecretsManager::Secret').find((id) => id.startsWith('AckSigningKey'));
    const ackReaders = statements.filter(
      (s) => JSON.stringify(s.Resource) === JSON.stringify({ Ref: ackSecret }),
    );
    expect(new Set(ackReaders.map((s) => s.policy.replace(/(Function|ServiceRole).*$/, '')))).toEqual(
      new Set(['EscalateAction', 'IncidentApi']),
    );
    for (const statement of ackReaders)
      expect(actionsOf(statement)).toContain('secretsmanager:GetSecretValue');
  });

  it('creates a 64-character ack signing key when the config names none', () => {
    template.resourcePropertiesCountIs(
      'AWS::SecretsManager::Secret',
      {
        GenerateSecretString: {
          SecretStringTemplate: '{}',
          GenerateStringKey: 'key',
          PasswordLength: 64,
          ExcludePunctuation: true,
        },
      },
      1,
    );
  });

  it('outputs each topic ARN and the ack signing secret name', () => {
    const outputs = template.findOutputs('*');
    for (const name of TOPIC_NAMES) {
      const output = Object.values(outputs).find(
        (o) => JSON.stringify(o.Value) === JSON.stringify({ Ref: topicId(name) }),
      );
      expect(output?.Description).toContain(`'${name}'`);
    }
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining([
        'EscalationTopicArnOnCall',
        'EscalationTopicArnTeamLead',
        'EscalationTopicArnCto',
        'EscalationTopicArnSecurity',
        'EscalationTopicArnDba',
        'AckSigningSecretName',
      ]),
    );
    expect(JSON.stringify(outputs.AckSigningSecretName?.Value)).toMatch(/AckSigningKey/);
  });

  it('stays free of unacknowledged cdk-nag findings with subscriptions', () => {
    const report = new AwsSolutionsChecks(built.app).validateScope(built.app);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });

  describe('with an ack signing secret and a public URL in the config', () => {
    const secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ops/ack-key-AbCdEf';
    let imported: ResponderApp;
    let importedTemplate: Template;
    beforeAll(() => {
      imported = buildApp(
        pagingConfig({ ackSigningSecret: secretArn, publicUrl: 'https://responder.example.com' }),
        appWithoutBundling(),
      );
      importedTemplate = Template.fromStack(imported.primary);
    });

    it('creates no ack signing key, and reads and advertises the named one', () => {
      importedTemplate.resourcePropertiesCountIs(
        'AWS::SecretsManager::Secret',
        { GenerateSecretString: Match.objectLike({ GenerateStringKey: 'key' }) },
        0,
      );
      importedTemplate.resourcePropertiesCountIs(
        'AWS::SecretsManager::Secret',
        { GenerateSecretString: Match.objectLike({ GenerateStringKey: 'token' }) },
        1,
      );
      const readers = statementsOf(importedTemplate).filter((s) => s.Resource === secretArn);
      expect(new Set(readers.map((s) => s.policy.replace(/(Function|ServiceRole).*$/, '')))).toEqual(
        new Set(['EscalateAction', 'IncidentApi']),
      );
      importedTemplate.hasOutput('AckSigningSecretName', { Value: 'ops/ack-key' });
    });

    it('passes the named secret and the public URL to the escalate and API functions', () => {
      const paged = Object.entries(variablesOf(importedTemplate)).filter(([, env]) => 'PUBLIC_URL' in env);
      expect(paged.map(([id]) => id.replace(/(Function|ServiceRole).*$/, '')).sort()).toEqual([
        'EscalateAction',
        'IncidentApi',
      ]);
      for (const [, env] of paged) {
        expect(env.PUBLIC_URL).toBe('https://responder.example.com');
        expect(env.ACK_SECRET_ARN).toBe(secretArn);
      }
    });

    it('stays free of unacknowledged cdk-nag findings', () => {
      const report = new AwsSolutionsChecks(imported.app).validateScope(imported.app);
      expect(report.violations.map((v) => v.ruleName)).toEqual([]);
    });
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

  it('acknowledges each finding on the one resource it is about, with its exact id and a reason', () => {
    const config = testConfig({
      probes: {
        targets: [{ name: 'db', kind: 'tcp', host: '10.0.0.5', port: 5432 }],
        vpc: {
          vpcId: 'vpc-0abc0000',
          availabilityZones: ['eu-west-1a'],
          privateSubnetIds: ['subnet-0abc0000'],
          securityGroupIds: ['sg-0abc0000'],
        },
      },
    });
    const { app } = buildApp(config, appWithoutBundling());
    const acknowledged = app.node.findAll().flatMap((construct) =>
      construct.node.metadata
        .filter((entry) => entry.type === 'aws:cdk:acknowledged-rules')
        .flatMap((entry) =>
          Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
            construct,
            id,
            reason,
          })),
        ),
    );
    expect(acknowledged.length).toBeGreaterThan(10);
    for (const { construct, id, reason } of acknowledged) {
      expect(CfnResource.isCfnResource(construct), `${id} on ${construct.node.path}`).toBe(true);
      expect(reason.length, `${id} on ${construct.node.path}`).toBeGreaterThan(40);
      if (id.includes('IAM4') || id.includes('IAM5')) expect(id).toMatch(/\[(Resource|Action|Policy)::.+\]$/);
    }
    const where = (rule: string) =>
      acknowledged
        .filter(({ id }) => id.includes(rule))
        .map(({ construct }) => (construct as CfnResource).cfnResourceType)
        .sort();
    // One per route, never the stack.
    expect(where('APIG4')).toEqual(Array(14).fill('AWS::ApiGatewayV2::Route'));
    // X-Ray's '*' on the tracing policies only (seven functions and the DR failover).
    expect(where('IAM5[Resource::*]')).toEqual(Array(8).fill('AWS::IAM::Policy'));
    // No function uses AWSLambdaBasicExecutionRole; the VPC policy only on the probe function's role.
    expect(where('AWSLambdaBasicExecutionRole')).toEqual([]);
    expect(where('AWSLambdaVPCAccessExecutionRole')).toEqual(['AWS::IAM::Role']);
    expect(where('SQS3')).toEqual(Array(5).fill('AWS::SQS::Queue'));
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });

  it('lets each function write logs to its own log group only, and trace: no managed policy', () => {
    const { primary } = buildApp(testConfig(), appWithoutBundling());
    const template = Template.fromStack(primary);
    const resolved = new ResolvedTemplate(
      template.toJSON() as ResolvedTemplate['template'],
      'eu-west-1',
      'p',
    );
    const functions = functionsOf(resolved);
    expect(functions).toHaveLength(7);
    for (const fn of functions) {
      const logGroup = resolved.resolve(
        (resolved.properties(fn.logicalId).LoggingConfig as { LogGroup: unknown }).LogGroup,
      );
      const logs = fn.statements.filter((s) => [s.Action ?? []].flat().some((a) => a.startsWith('logs:')));
      expect(logs.flatMap((s) => [s.Action ?? []].flat()).sort()).toEqual([
        'logs:CreateLogStream',
        'logs:PutLogEvents',
      ]);
      expect(logs.flatMap((s) => [s.Resource ?? []].flat())).toEqual([
        `arn:aws:logs:eu-west-1:123456789012:log-group:${logGroup}:*`,
      ]);
      const anywhere = fn.statements.filter((s) => [s.Resource ?? []].flat().includes('*'));
      expect(anywhere.flatMap((s) => [s.Action ?? []].flat()).sort()).toEqual([
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ]);
    }
    template.allResourcesProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
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

  it('EscalationTopics refuses a filter on an attribute pages do not carry, and a doubled endpoint', () => {
    const stack = new Stack(appWithoutBundling(), 'Topics');
    expect(
      () =>
        new EscalationTopics(stack, 'Bad', {
          displayNamePrefix: 'x',
          topics: {
            'on-call': {
              subscriptions: [{ protocol: 'email', endpoint: 'a@example.com', filter: { priority: ['P1'] } }],
            },
          },
        }),
    ).toThrow(/filter on 'priority' would drop every page/);
    expect(
      () =>
        new EscalationTopics(stack, 'Twice', {
          displayNamePrefix: 'x',
          topics: {
            'on-call': {
              subscriptions: [
                { protocol: 'sms', endpoint: '+14155550100' },
                { protocol: 'sms', endpoint: '+14155550100', filter: { severity: ['P1'] } },
              ],
            },
          },
        }),
    ).toThrow(/subscribed twice/);
    expect(() => new EscalationTopics(stack, 'None', { displayNamePrefix: 'x', topics: {} })).toThrow(
      /at least one topic/,
    );
  });

  it('EscalationTopics truncates a default display name to the 100 characters SNS allows', () => {
    const stack = new Stack(appWithoutBundling(), 'LongName');
    new EscalationTopics(stack, 'Topics', {
      displayNamePrefix: 'p'.repeat(95),
      topics: { 'on-call': { subscriptions: [] } },
    });
    Template.fromStack(stack).hasResourceProperties('AWS::SNS::Topic', {
      DisplayName: `${'p'.repeat(95)} on-c`,
    });
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

  it('RemediationAction refuses a schedule without a bus to put its requests on', () => {
    // GIVEN
    const stack = new Stack(appWithoutBundling(), 'Remediation');
    const state = new StateTable(stack, 'State');
    const role = new Role(stack, 'Schedules', { assumedBy: new ServicePrincipal('scheduler.amazonaws.com') });
    // WHEN / THEN
    expect(
      () =>
        new RemediationAction(stack, 'Backup', {
          kind: 'backup',
          config: testConfig(),
          state,
          schedule: { expression: 'rate(1 day)', role },
        }),
    ).toThrow(/RemediationAction 'backup': a schedule needs dispatch, the bus its requests are put on/);
  });

  it('RemediationAction without a bus is invoked directly: no rule, no schedule, its function name as an output', () => {
    // GIVEN
    const stack = new Stack(appWithoutBundling(), 'Direct');
    // WHEN
    const action = new RemediationAction(stack, 'FailoverAction', {
      kind: 'failover',
      config: testConfig(),
      state: new StateTable(stack, 'State'),
      functionNameOutput: 'Invoke by hand',
    });
    // THEN
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Events::Rule', 0);
    template.resourceCountIs('AWS::Scheduler::Schedule', 0);
    template.hasOutput('FailoverFunctionName', { Description: 'Invoke by hand' });
    expect(action.schedule).toBeUndefined();
  });

  it('Paging refuses a public URL that acknowledge links cannot be built on', () => {
    // GIVEN
    const stack = new Stack(appWithoutBundling(), 'Paging');
    const config = testConfig();
    const topics = new EscalationTopics(stack, 'Topics', {
      topics: config.escalation.topics,
      displayNamePrefix: 'x',
    });
    const ackSigningSecret = new Secret(stack, 'AckKey');
    const role = new Role(stack, 'Schedules', { assumedBy: new ServicePrincipal('scheduler.amazonaws.com') });
    // WHEN / THEN
    expect(
      () =>
        new Paging(stack, 'EscalateAction', {
          config,
          state: new StateTable(stack, 'State'),
          dispatch: new ActionDispatch(stack, 'Dispatch'),
          topics,
          ackSigningSecret,
          publicUrl: 'responder.example.com',
          schedule: { role },
        }),
    ).toThrow(/Paging publicUrl 'responder.example.com' is not an http\(s\) URL/);
  });

  it('ActionDispatch fails synthesis when no capability added a target', () => {
    // GIVEN
    const stack = new Stack(appWithoutBundling(), 'EmptyBus');
    // WHEN
    const dispatch = new ActionDispatch(stack, 'Dispatch');
    // THEN
    expect(dispatch.node.validate()).toEqual([
      'ActionDispatch needs at least one target function: call addTarget(kind, fn)',
    ]);
    expect(() => Template.fromStack(stack)).toThrow(/ActionDispatch needs at least one target function/);
  });
});

describe('State table access: each function reaches only its own item kinds', () => {
  const built = buildApp(testConfig(), appWithoutBundling());
  const primary = new ResolvedTemplate(
    Template.fromStack(built.primary).toJSON() as ResolvedTemplate['template'],
    'eu-west-1',
    'primary',
  );
  const functions = functionsOf(primary);
  const table = primary.getAtt(primary.idsOf('AWS::DynamoDB::Table')[0] ?? '', 'Arn');
  const decisionOf = (name: string, action: string, pk: string, index?: string) => {
    const fn = functions.find((f) => f.environment.POWERTOOLS_SERVICE_NAME === `responder-${name}`);
    if (!fn) throw new Error(`no function ${name}`);
    return decide(fn.statements, [], {
      action: `dynamodb:${action}`,
      resource: index ? `${table}/index/${index}` : table,
      context: { 'dynamodb:LeadingKeys': [pk] },
    });
  };

  it('conditions every DynamoDB grant on the table on the partition keys (ForAllValues:StringLike dynamodb:LeadingKeys)', () => {
    for (const stack of [built.primary, built.dr]) {
      const statements = statementsOf(Template.fromStack(stack));
      const onIndex = (s: unknown) =>
        JSON.stringify((s as { Resource?: unknown }).Resource).includes('/index/');
      const dynamo = statements.filter(
        (s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')) && !onIndex(s),
      );
      expect(dynamo.length).toBeGreaterThanOrEqual(3);
      // Index queries are read-only and unconditioned on purpose (see StateTable.grantIndexQuery).
      for (const statement of statements.filter(onIndex))
        expect(actionsOf(statement)).toEqual(['dynamodb:Query']);
      for (const statement of dynamo) {
        const condition = (statement as { Condition?: Record<string, Record<string, unknown>> }).Condition;
        expect(condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys']).toBeDefined();
      }
    }
  });

  it('keeps the probe function, which talks to arbitrary networks, off the kill switch, escalations and claims of others', () => {
    expect(decisionOf('probe', 'PutItem', 'PROBES')).toBe('allowed');
    expect(decisionOf('probe', 'PutItem', 'INC#20260101-00000000')).toBe('allowed');
    expect(decisionOf('probe', 'PutItem', 'FLAG#automation')).toBe('implicitly denied');
    expect(decisionOf('probe', 'PutItem', 'ESC#20260101-00000000')).toBe('implicitly denied');
    expect(decisionOf('probe', 'PutItem', 'DELIVERY#abc')).toBe('implicitly denied');
    expect(decisionOf('probe', 'DeleteItem', 'AUDIT#INC#20260101-00000000')).toBe('implicitly denied');
  });

  it('lets only the API switch automation, and only the escalate and API functions write escalations', () => {
    for (const name of ['ingest', 'probe', 'backup', 'rotate', 'failover', 'escalate']) {
      expect(decisionOf(name, 'PutItem', 'FLAG#automation')).toBe('implicitly denied');
    }
    expect(decisionOf('api', 'PutItem', 'FLAG#automation')).toBe('allowed');
    for (const name of ['ingest', 'probe', 'backup']) {
      expect(decisionOf(name, 'PutItem', 'ESC#20260101-00000000')).toBe('implicitly denied');
    }
    expect(decisionOf('escalate', 'PutItem', 'ESC#20260101-00000000')).toBe('allowed');
    expect(decisionOf('escalate', 'Query', 'ESCALATION-DUE', 'gsi1')).toBe('allowed');
    expect(decisionOf('api', 'Query', 'INCIDENT', 'gsi1')).toBe('allowed');
  });

  it('gives backup, rotate and failover their idempotency records, the audit trail and the kill switch (read)', () => {
    for (const name of ['backup', 'rotate', 'failover']) {
      expect(decisionOf(name, 'PutItem', 'IDEMPOTENCY#ACTION')).toBe('allowed');
      expect(decisionOf(name, 'PutItem', 'IDEMPOTENCY#OTHER')).toBe('implicitly denied');
      expect(decisionOf(name, 'GetItem', 'FLAG#automation')).toBe('allowed');
      expect(decisionOf(name, 'PutItem', 'AUDIT#INC#20260101-00000000')).toBe('allowed');
      expect(decisionOf(name, 'GetItem', 'LIMIT#x')).toBe('implicitly denied');
    }
    // A failed backup or rotation opens an incident (and the backup function keeps the catalog).
    expect(decisionOf('failover', 'PutItem', 'INC#20260101-00000000')).toBe('implicitly denied');
    expect(decisionOf('rotate', 'PutItem', 'INC#20260101-00000000')).toBe('allowed');
    expect(decisionOf('rotate', 'PutItem', 'GROUP#action:rotate:ops/db')).toBe('allowed');
    for (const name of ['rotate', 'failover']) {
      expect(decisionOf(name, 'PutItem', 'BACKUP#payments')).toBe('implicitly denied');
    }
    expect(decisionOf('backup', 'PutItem', 'INC#20260101-00000000')).toBe('allowed');
    expect(decisionOf('backup', 'PutItem', 'GROUP#action:backup:payments')).toBe('allowed');
    expect(decisionOf('backup', 'PutItem', 'BACKUP#payments')).toBe('allowed');
    expect(decisionOf('backup', 'DeleteItem', 'BACKUP#payments')).toBe('allowed');
    expect(decisionOf('backup', 'DeleteItem', 'INC#20260101-00000000')).toBe('implicitly denied');
  });

  it('StateTable.grantFloodLimits allows counting up LIMIT# items, nothing else', () => {
    const stack = new Stack(appWithoutBundling(), 'Limits', { env: { region: 'eu-west-1' } });
    const state = new StateTable(stack, 'State');
    const fn = new ResponderFunction(stack, 'Fn', {
      name: 'ingest',
      config: testConfig(),
      description: 'test',
    });
    state.grantFloodLimits(fn.function);
    const resolved = new ResolvedTemplate(
      Template.fromStack(stack).toJSON() as ResolvedTemplate['template'],
      'eu-west-1',
      'limits',
    );
    const [only] = functionsOf(resolved);
    const tableArn = resolved.getAtt(resolved.idsOf('AWS::DynamoDB::Table')[0] ?? '', 'Arn');
    const call = (action: string, pk: string) =>
      decide(only?.statements ?? [], [], {
        action,
        resource: tableArn,
        context: { 'dynamodb:LeadingKeys': [pk] },
      });
    expect(call('dynamodb:UpdateItem', 'LIMIT#ingest')).toBe('allowed');
    expect(call('dynamodb:GetItem', 'LIMIT#ingest')).toBe('implicitly denied');
    expect(call('dynamodb:PutItem', 'LIMIT#ingest')).toBe('implicitly denied');
    expect(call('dynamodb:UpdateItem', 'INC#x')).toBe('implicitly denied');
  });
});

describe('Event bus: only Responder roles request actions', () => {
  const built = buildApp(testConfig(), appWithoutBundling());
  const template = Template.fromStack(built.primary);
  const resolved = new ResolvedTemplate(template.toJSON() as ResolvedTemplate['template'], 'eu-west-1', 'p');
  const busArn = resolved.getAtt(resolved.idsOf('AWS::Events::EventBus')[0] ?? '', 'Arn');
  const roleArnOf = (name: string) =>
    functionsOf(resolved).find((f) => f.environment.POWERTOOLS_SERVICE_NAME === `responder-${name}`)
      ?.roleArn ?? '';
  const schedulesRole = resolved.getAtt(
    resolved.idsOf('AWS::IAM::Role').find((id) => id.startsWith('SchedulesRole')) ?? '',
    'Arn',
  );
  // An administrator of the account: allowed everything by its own policy.
  const admin: IamStatement[] = [{ Effect: 'Allow', Action: '*', Resource: '*' }];
  const put = (principal: string, source: string) =>
    decide(admin, busPolicyStatements(resolved), {
      action: 'events:PutEvents',
      resource: busArn,
      context: {
        'aws:PrincipalArn': [principal],
        'events:source': [source],
        'events:detail-type': ['Action Requested'],
      },
    });

  it('denies putting source "responder" events to every principal but ingest, probe, backup, rotate and the schedules', () => {
    expect(put('arn:aws:iam::123456789012:role/Admin', 'responder')).toBe('explicitly denied');
    expect(put(roleArnOf('api'), 'responder')).toBe('explicitly denied');
    expect(put(roleArnOf('failover'), 'responder')).toBe('explicitly denied');
    // A failed backup or rotation opens an incident, which requests its escalation.
    expect(put(roleArnOf('backup'), 'responder')).toBe('allowed');
    expect(put(roleArnOf('rotate'), 'responder')).toBe('allowed');
    expect(put(roleArnOf('ingest'), 'responder')).toBe('allowed');
    expect(put(roleArnOf('probe'), 'responder')).toBe('allowed');
    expect(put(schedulesRole, 'responder')).toBe('allowed');
    // Other sources are left to each principal's own policy.
    expect(put('arn:aws:iam::123456789012:role/Admin', 'billing')).toBe('allowed');
  });

  it('names exactly five roles in the exception, conditioned on events:source', () => {
    template.hasResourceProperties('AWS::Events::EventBusPolicy', {
      Statement: Match.objectLike({
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 'events:PutEvents',
        Condition: {
          StringEquals: { 'events:source': 'responder' },
          ArnNotEquals: { 'aws:PrincipalArn': Match.arrayWith([]) },
        },
      }),
    });
    const [policy] = busPolicyStatements(resolved);
    expect(
      (policy?.Condition?.ArnNotEquals?.['aws:PrincipalArn'] as string[] | undefined)?.toSorted(),
    ).toEqual(
      [
        roleArnOf('ingest'),
        roleArnOf('probe'),
        roleArnOf('backup'),
        roleArnOf('rotate'),
        schedulesRole,
      ].toSorted(),
    );
  });

  it('runs every schedule as the one schedules role', () => {
    const schedules = template.findResources('AWS::Scheduler::Schedule') as Resources;
    expect(Object.keys(schedules)).toHaveLength(2);
    for (const schedule of Object.values(schedules)) {
      const roleArn = resolved.resolve((schedule.Properties.Target as { RoleArn: unknown }).RoleArn);
      expect(roleArn).toBe(schedulesRole);
    }
  });
});

describe('Stack: Responder, flood resistance', () => {
  it('throttles POST /alertmanager on its own, and every other route with api.throttle', () => {
    // GIVEN
    const config = testConfig({
      api: { throttle: { rateLimit: 7, burstLimit: 11 }, webhookThrottle: { rateLimit: 3, burstLimit: 4 } },
    });
    // WHEN
    const template = Template.fromStack(buildApp(config, appWithoutBundling()).primary);
    // THEN
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 7, ThrottlingBurstLimit: 11 },
      RouteSettings: { 'POST /alertmanager': { ThrottlingRateLimit: 3, ThrottlingBurstLimit: 4 } },
    });
    const routes = template.findResources('AWS::ApiGatewayV2::Route', {
      Properties: { RouteKey: 'POST /alertmanager' },
    });
    const [stage] = Object.values(template.findResources('AWS::ApiGatewayV2::Stage')) as Array<{
      DependsOn?: string[];
    }>;
    expect(stage?.DependsOn).toEqual(expect.arrayContaining(Object.keys(routes)));
  });

  it('gives the webhook its own default allowance (20/s, burst 50) apart from the API (50/s, burst 100)', () => {
    const template = Template.fromStack(buildApp(testConfig(), appWithoutBundling()).primary);
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      RouteSettings: { 'POST /alertmanager': { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 50 } },
    });
  });

  it('reserves the configured concurrency for every function of both stacks', () => {
    // GIVEN
    const config = testConfig({ lambda: { reservedConcurrency: { ingest: 30, failover: 3 } } });
    // WHEN
    const built = buildApp(config, appWithoutBundling());
    // THEN
    const reservedOf = (stack: Stack) =>
      Object.fromEntries(
        Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function') as Resources).map(
          (fn) => [
            (
              (fn.Properties.Environment as { Variables: Record<string, string> }).Variables
                .POWERTOOLS_SERVICE_NAME ?? ''
            ).replace('responder-', ''),
            fn.Properties.ReservedConcurrentExecutions,
          ],
        ),
      );
    expect(reservedOf(built.primary)).toEqual({
      ingest: 30,
      api: 10,
      probe: 5,
      backup: 2,
      rotate: 2,
      failover: 3,
      escalate: 10,
    });
    expect(reservedOf(built.dr)).toEqual({ failover: 3 });
  });

  it('reserves nothing when lambda.reserveConcurrency is false', () => {
    const built = buildApp(testConfig({ lambda: { reserveConcurrency: false } }), appWithoutBundling());
    for (const stack of [built.primary, built.dr]) {
      Template.fromStack(stack).allResourcesProperties('AWS::Lambda::Function', {
        ReservedConcurrentExecutions: Match.absent(),
      });
    }
  });

  it('refuses a reservation of 0 and a non-positive throttle, naming the field', () => {
    expect(() => testConfig({ lambda: { reservedConcurrency: { escalate: 0 } } })).toThrow(
      /lambda\.reservedConcurrency\.escalate: reserve at least 1 \(0 would stop the function\)/,
    );
    expect(() => testConfig({ api: { webhookThrottle: { rateLimit: 0 } } })).toThrow(
      /api\.webhookThrottle\.rateLimit: use a rate above 0/,
    );
    expect(() => testConfig({ api: { webhookThrottle: { burstLimit: 2.5 } } })).toThrow(
      /api\.webhookThrottle\.burstLimit: use a whole number/,
    );
  });

  it('ResponderFunction refuses a reservation that would stop the function', () => {
    const stack = new Stack(appWithoutBundling(), 'Reserved');
    expect(
      () =>
        new ResponderFunction(stack, 'Fn', {
          name: 'ingest',
          config: testConfig(),
          description: 'x',
          reservedConcurrentExecutions: 0,
        }),
    ).toThrow(/reservedConcurrentExecutions must be a whole number of at least 1/);
  });
});
