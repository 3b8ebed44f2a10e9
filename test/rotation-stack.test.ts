import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type ResponderApp } from '../lib/app.ts';
import { ActionDispatch } from '../lib/constructs/action-dispatch.ts';
import { ROTATION_SECRET_ACTIONS, SecretRotation } from '../lib/constructs/secret-rotation.ts';
import { StateTable } from '../lib/constructs/state-table.ts';
import { OWN_SECRET_ENV, ownRotations } from '../src/config/own-secrets.ts';
import type { ResponderConfig } from '../src/config/schema.ts';
import { testConfig } from './support/runtime.ts';
import { decide, functionsOf, ResolvedTemplate, type Statement } from './support/template-iam.ts';

/** Synthesis without esbuild: bundling is covered by `npm run synth` and the IAM guard. */
const appWithoutBundling = () => new App({ context: { 'aws:cdk:bundling-stacks': [] } });

type Resources = Record<string, { Properties: Record<string, unknown>; DependsOn?: string[] }>;

const VPC = {
  vpcId: 'vpc-0abc1234',
  availabilityZones: ['eu-west-1a', 'eu-west-1b'],
  privateSubnetIds: ['subnet-0aa11000', 'subnet-0bb22000'],
  securityGroupIds: ['sg-0cc33000'],
};
const ACCOUNT = '123456789012';
const arnOf = (name: string) => `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:${name}`;
const LEDGER = arnOf('ledger/app-AbCdEf');

/** Four rotations, one per strategy: by name and by full ARN, with master and admin secrets. */
function rotationConfig(overrides: Record<string, unknown> = {}): ResponderConfig {
  return testConfig({
    aws: { region: 'eu-west-1', drRegion: 'eu-central-1', account: ACCOUNT },
    secrets: {
      vpc: VPC,
      rotations: [
        { secret: 'payments/app', strategy: 'postgres-single-user', schedule: 'rate(30 days)', window: '4h' },
        {
          secret: LEDGER,
          strategy: 'postgres-alternating-users',
          masterSecret: 'ledger/master',
          ownerRole: 'ledger_owner',
          schedule: 'cron(0 4 ? * SUN *)',
        },
        { secret: 'cache/app', strategy: 'redis-acl', adminSecret: 'cache/admin' },
        { secret: 'api/signing-key', strategy: 'generated', field: 'key', bytes: 32 },
      ],
      own: { schedule: 'rate(60 days)', window: '2h', graceMinutes: 120 },
      ...overrides,
    },
  } as Parameters<typeof testConfig>[0]);
}

describe('Stack: Responder, secret rotation', () => {
  let config: ResponderConfig;
  let built: ResponderApp;
  let template: Template;
  let resolved: ResolvedTemplate;
  const resources = (type: string) => template.findResources(type) as Resources;
  const idOf = (type: string, prefix: string) => {
    const id = Object.keys(resources(type)).find((candidate) => candidate.startsWith(prefix));
    if (!id) throw new Error(`no ${type} ${prefix}*`);
    return id;
  };
  const rotateFunction = () =>
    functionsOf(resolved).find((fn) => fn.environment.POWERTOOLS_SERVICE_NAME === 'responder-rotate');
  const call = (action: string, resource: string) =>
    decide(rotateFunction()?.statements ?? [], [], { action, resource, context: {} });

  beforeAll(() => {
    config = rotationConfig();
    built = buildApp(config, appWithoutBundling());
    template = Template.fromStack(built.primary);
    resolved = new ResolvedTemplate(template.toJSON() as ResolvedTemplate['template'], 'eu-west-1', 'p');
  });

  it('keeps the logical ids of the rotate function, its role and its log group', () => {
    expect(Object.keys(resources('AWS::Lambda::Function'))).toEqual(
      expect.arrayContaining([expect.stringMatching(/^RotateActionFunction[0-9A-F]{8}$/)]),
    );
    expect(Object.keys(resources('AWS::IAM::Role'))).toEqual(
      expect.arrayContaining([expect.stringMatching(/^RotateActionServiceRole[0-9A-F]{8}$/)]),
    );
    expect(Object.keys(resources('AWS::Logs::LogGroup'))).toEqual(
      expect.arrayContaining([expect.stringMatching(/^RotateActionLogs[0-9A-F]{8}$/)]),
    );
  });

  it('runs the rotate function for 5 minutes, with its reserved concurrency, in the configured private subnets', () => {
    const fnId = idOf('AWS::Lambda::Function', 'RotateActionFunction');
    const fn = resources('AWS::Lambda::Function')[fnId]?.Properties ?? {};
    expect(fn.Timeout).toBe(300);
    expect(fn.ReservedConcurrentExecutions).toBe(config.lambda.reservedConcurrency.rotate);
    expect(fn.VpcConfig).toEqual({ SubnetIds: VPC.privateSubnetIds, SecurityGroupIds: VPC.securityGroupIds });
    // The other functions stay out of the VPC (no probes.vpc or backups.vpc here).
    const inVpc = Object.entries(resources('AWS::Lambda::Function')).filter(
      ([, r]) => r.Properties.VpcConfig,
    );
    expect(inVpc.map(([id]) => id)).toEqual([fnId]);
  });

  it('schedules each configured secret with its rules and the rotate function, never rotating on deploy', () => {
    const fnArn = { 'Fn::GetAtt': [idOf('AWS::Lambda::Function', 'RotateActionFunction'), 'Arn'] };
    const expected: Array<[unknown, string, string]> = [
      ['payments/app', 'rate(30 days)', '4h'],
      [LEDGER, 'cron(0 4 ? * SUN *)', '3h'],
      ['cache/app', 'rate(30 days)', '3h'],
      ['api/signing-key', 'rate(30 days)', '3h'],
    ];
    for (const [secretId, scheduleExpression, duration] of expected) {
      template.resourcePropertiesCountIs(
        'AWS::SecretsManager::RotationSchedule',
        {
          SecretId: secretId,
          RotationLambdaARN: fnArn,
          RotationRules: { ScheduleExpression: scheduleExpression, Duration: duration },
          RotateImmediatelyOnUpdate: false,
        },
        1,
      );
    }
    // Four configured, and the webhook credential and the ack-link key the stack created.
    template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 6);
    // No hosted rotation, no AutomaticallyAfterDays: the expression and the window only.
    for (const schedule of Object.values(resources('AWS::SecretsManager::RotationSchedule'))) {
      expect(Object.keys(schedule.Properties.RotationRules as object).sort()).toEqual([
        'Duration',
        'ScheduleExpression',
      ]);
      expect(schedule.Properties.HostedRotationLambda).toBeUndefined();
    }
  });

  it('rotates the webhook credential and the ack-link key it creates on secrets.own', () => {
    const fnArn = { 'Fn::GetAtt': [idOf('AWS::Lambda::Function', 'RotateActionFunction'), 'Arn'] };
    for (const prefix of ['WebhookCredential', 'AckSigningKey']) {
      template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
        SecretId: { Ref: idOf('AWS::SecretsManager::Secret', prefix) },
        RotationLambdaARN: fnArn,
        RotationRules: { ScheduleExpression: 'rate(60 days)', Duration: '2h' },
      });
    }
    // The function learns their ARNs (it adds them to its rotations with ownRotations).
    const env = rotateFunction()?.environment ?? {};
    expect(env[OWN_SECRET_ENV.webhookCredential]).toBe(
      resolved.ref(idOf('AWS::SecretsManager::Secret', 'WebhookCredential')),
    );
    expect(env[OWN_SECRET_ENV.ackSigningKey]).toBe(
      resolved.ref(idOf('AWS::SecretsManager::Secret', 'AckSigningKey')),
    );
    expect(env.EVENT_BUS_NAME).toBeDefined();
    expect(env.STATE_TABLE_NAME).toBeDefined();
  });

  it('lets Secrets Manager invoke the function only from this account and for each rotated secret', () => {
    const fnArn = { 'Fn::GetAtt': [idOf('AWS::Lambda::Function', 'RotateActionFunction'), 'Arn'] };
    const permissions = Object.entries(resources('AWS::Lambda::Permission')).filter(
      ([, p]) => p.Properties.Principal === 'secretsmanager.amazonaws.com',
    );
    expect(permissions).toHaveLength(6);
    for (const [, permission] of permissions) {
      expect(permission.Properties).toMatchObject({
        Action: 'lambda:InvokeFunction',
        FunctionName: fnArn,
        SourceAccount: ACCOUNT,
      });
      expect(permission.Properties.SourceArn).toBeDefined();
    }
    const sources = permissions.map(([, p]) => resolved.resolve(p.Properties.SourceArn));
    expect(sources).toEqual(
      expect.arrayContaining([
        `${arnOf('payments/app')}-??????`,
        LEDGER,
        `${arnOf('cache/app')}-??????`,
        `${arnOf('api/signing-key')}-??????`,
        resolved.ref(idOf('AWS::SecretsManager::Secret', 'WebhookCredential')),
        resolved.ref(idOf('AWS::SecretsManager::Secret', 'AckSigningKey')),
      ]),
    );
    // Each schedule waits for its permission: Secrets Manager checks it may invoke.
    const permissionIds = permissions.map(([id]) => id);
    for (const schedule of Object.values(resources('AWS::SecretsManager::RotationSchedule'))) {
      expect(schedule.DependsOn?.some((id) => permissionIds.includes(id))).toBe(true);
    }
  });

  it('grants the rotation calls on exactly the rotated secrets, and only reads the master and admin secrets', () => {
    const rotated = [
      `${arnOf('payments/app')}-AbCdEf`,
      LEDGER,
      `${arnOf('cache/app')}-AbCdEf`,
      `${arnOf('api/signing-key')}-AbCdEf`,
      resolved.getAtt(idOf('AWS::SecretsManager::Secret', 'WebhookCredential'), 'Arn'),
      resolved.getAtt(idOf('AWS::SecretsManager::Secret', 'AckSigningKey'), 'Arn'),
    ];
    for (const secret of rotated) {
      for (const action of ROTATION_SECRET_ACTIONS)
        expect(call(action, secret), `${action} ${secret}`).toBe('allowed');
      expect(call('secretsmanager:DeleteSecret', secret)).toBe('implicitly denied');
      expect(call('secretsmanager:PutResourcePolicy', secret)).toBe('implicitly denied');
    }
    for (const reader of [`${arnOf('ledger/master')}-AbCdEf`, `${arnOf('cache/admin')}-AbCdEf`]) {
      expect(call('secretsmanager:GetSecretValue', reader)).toBe('allowed');
      for (const action of ROTATION_SECRET_ACTIONS.filter((a) => a !== 'secretsmanager:GetSecretValue')) {
        expect(call(action, reader), `${action} ${reader}`).toBe('implicitly denied');
      }
    }
    expect(call('secretsmanager:GetSecretValue', `${arnOf('other/secret')}-AbCdEf`)).toBe(
      'implicitly denied',
    );
    // Not GetRandomPassword (the function generates values), and no secretsmanager action on '*'.
    expect(call('secretsmanager:GetRandomPassword', '*')).toBe('implicitly denied');
    const statements = rotateFunction()?.statements ?? [];
    const onAnything = statements.filter((s: Statement) =>
      [s.Resource ?? []].flat().some((r) => r.includes('*') && !r.endsWith('-??????')),
    );
    expect(
      onAnything
        .flatMap((s) => [s.Action ?? []].flat())
        .filter((a) => /^(secretsmanager|lambda|kms):/.test(a)),
    ).toEqual([]);
    // RotateSecret also needs InvokeFunction on the rotation function: on itself, nothing else.
    const fnArn = rotateFunction()?.arn ?? '';
    expect(call('lambda:InvokeFunction', fnArn)).toBe('allowed');
    expect(call('lambda:InvokeFunction', fnArn.replace('RotateAction', 'FailoverAction'))).toBe(
      'implicitly denied',
    );
  });

  it('keeps its claims, the audit trail and the rotation incidents, reads the kill switch, and requests escalations', () => {
    const fn = rotateFunction();
    const actions = (fn?.statements ?? []).flatMap((s) => [s.Action ?? []].flat());
    expect(actions).toEqual(
      expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem', 'events:PutEvents']),
    );
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ detail: { kind: ['rotate'] } }),
      Targets: Match.arrayWith([
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [idOf('AWS::Lambda::Function', 'RotateActionFunction'), 'Arn'] },
        }),
      ]),
    });
  });

  it('stays free of unacknowledged cdk-nag findings (no SMG4 acknowledgement on its own secrets)', () => {
    const report = new AwsSolutionsChecks(built.app).validateScope(built.app);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
    const acknowledged = built.app.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === 'aws:cdk:acknowledged-rules'))
      .flatMap((m) => Object.keys(m.data as object));
    expect(acknowledged.filter((id) => id.includes('SMG4'))).toEqual([]);
  });

  it('with imported own secrets, rotates neither (the operator rotates them through secrets.rotations)', () => {
    const imported = buildApp(
      testConfig({
        webhook: { credentialSecret: 'ops/responder-webhook' },
        escalation: { ackSigningSecret: 'ops/ack-key' },
      } as Parameters<typeof testConfig>[0]),
      appWithoutBundling(),
    );
    const importedTemplate = Template.fromStack(imported.primary);
    importedTemplate.resourceCountIs('AWS::SecretsManager::RotationSchedule', 0);
    const fns = functionsOf(
      new ResolvedTemplate(importedTemplate.toJSON() as ResolvedTemplate['template'], 'eu-west-1', 'i'),
    );
    const rotate = fns.find((fn) => fn.environment.POWERTOOLS_SERVICE_NAME === 'responder-rotate');
    expect(rotate?.environment).not.toHaveProperty(OWN_SECRET_ENV.webhookCredential);
    expect(rotate?.environment).not.toHaveProperty(OWN_SECRET_ENV.ackSigningKey);
    // Nothing to rotate: no secretsmanager or lambda grant at all.
    const actions = (rotate?.statements ?? []).flatMap((s) => [s.Action ?? []].flat());
    expect(actions.filter((a) => /^(secretsmanager|lambda):/.test(a))).toEqual([]);
    const report = new AwsSolutionsChecks(imported.app).validateScope(imported.app);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });

  it('without secrets.vpc, runs the rotate function outside any VPC', () => {
    const plain = Template.fromStack(buildApp(testConfig(), appWithoutBundling()).primary);
    const fns = plain.findResources('AWS::Lambda::Function') as Resources;
    const rotate = Object.entries(fns).find(([id]) => id.startsWith('RotateActionFunction'));
    expect(rotate?.[1].Properties.VpcConfig).toBeUndefined();
  });
});

describe('ownRotations', () => {
  it('turns the own secrets into generated rotations on secrets.own', () => {
    const config = rotationConfig();
    const rotations = ownRotations(config, {
      webhookCredential: arnOf('w-AbCdEf'),
      ackSigningKey: arnOf('a-AbCdEf'),
    });
    expect(rotations).toEqual([
      expect.objectContaining({
        secret: arnOf('w-AbCdEf'),
        strategy: 'generated',
        field: 'token',
        length: 48,
        schedule: 'rate(60 days)',
        window: '2h',
        graceMinutes: 120,
      }),
      expect.objectContaining({ secret: arnOf('a-AbCdEf'), strategy: 'generated', field: 'key', length: 64 }),
    ]);
    expect(ownRotations(config, {})).toEqual([]);
  });
});

describe('SecretRotation construct', () => {
  it('refuses an alternating-users rotation whose master secret is the rotated one', () => {
    const stack = new Stack(appWithoutBundling(), 'Rotation', { env: { region: 'eu-west-1' } });
    const config = rotationConfig({
      rotations: [
        {
          secret: 'ledger/app',
          strategy: 'postgres-alternating-users',
          masterSecret: 'ledger/app',
          ownerRole: 'ledger_owner',
        },
      ],
    });
    expect(
      () =>
        new SecretRotation(stack, 'Rotate', {
          config,
          state: new StateTable(stack, 'State'),
          dispatch: new ActionDispatch(stack, 'Dispatch'),
        }),
    ).toThrow(/names itself as masterSecret/);
  });
});
