import { App, CfnResource } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type ResponderApp } from '../lib/app.ts';
import { FAILOVER_ENV, normalizedRecordName } from '../lib/constructs/dns-failover.ts';
import { failoverNames } from '../lib/failover-names.ts';
import type { ResponderConfig } from '../src/config/schema.ts';
import { testConfig } from './support/runtime.ts';
import {
  ACCOUNT,
  busPolicyStatements,
  decide,
  functionsOf,
  ResolvedTemplate,
  STACK_UUID,
} from './support/template-iam.ts';

/** Synthesis without esbuild: bundling is covered by `npm run synth` and the IAM guard. */
const appWithoutBundling = () => new App({ context: { 'aws:cdk:bundling-stacks': [] } });

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

const ZONE = 'Z0123456789ABCDEFGHIJ';
const PRIMARY_REGION = 'eu-west-1';
const DR_REGION = 'eu-central-1';
const names = failoverNames('payments-api');

function failoverConfig(failover: Record<string, unknown> = {}): ResponderConfig {
  return testConfig({
    aws: { region: PRIMARY_REGION, drRegion: DR_REGION, account: ACCOUNT },
    probes: {
      targets: [
        { name: 'primary-site', kind: 'tcp', host: '192.0.2.10', port: 443 },
        { name: 'dr-site', kind: 'tcp', host: '198.51.100.20', port: 443 },
      ],
    },
    failover: {
      mode: 'switch',
      hostedZoneId: ZONE,
      zoneName: 'example.com',
      record: { name: 'api.example.com.', type: 'A', ttl: 45 },
      primary: { record: { values: ['192.0.2.10', '192.0.2.11'] }, targets: ['primary-site'] },
      dr: { record: { values: ['198.51.100.20'] }, targets: ['dr-site'] },
      healthCheck: { intervalSeconds: 30, failureThreshold: 3 },
      ...failover,
    },
  } as Parameters<typeof testConfig>[0]);
}

interface Built {
  readonly app: ResponderApp;
  readonly primary: Template;
  readonly dr: Template;
  readonly resolvedPrimary: ResolvedTemplate;
  readonly resolvedDr: ResolvedTemplate;
}

function build(config: ResponderConfig): Built {
  const app = buildApp(config, appWithoutBundling());
  const primary = Template.fromStack(app.primary);
  const dr = Template.fromStack(app.dr);
  return {
    app,
    primary,
    dr,
    resolvedPrimary: new ResolvedTemplate(
      primary.toJSON() as ResolvedTemplate['template'],
      PRIMARY_REGION,
      'p',
    ),
    resolvedDr: new ResolvedTemplate(dr.toJSON() as ResolvedTemplate['template'], DR_REGION, 'dr'),
  };
}

const byService = (resolved: ResolvedTemplate, service: string) => {
  const found = functionsOf(resolved).find((fn) => fn.environment.POWERTOOLS_SERVICE_NAME === service);
  if (!found) throw new Error(`no function ${service}`);
  return found;
};
const dynamo = (action: string, table: string, pk: string) => ({
  action: `dynamodb:${action}`,
  resource: table,
  context: { 'dynamodb:LeadingKeys': [pk] },
});

describe('DNS failover, switch mode', () => {
  let built: Built;
  beforeAll(() => {
    built = build(failoverConfig());
  });
  const only = (template: Template, type: string) => {
    const found = Object.entries(template.findResources(type) as Resources);
    expect(found, type).toHaveLength(1);
    return found[0] as [string, Resources[string]];
  };

  it('provisions the PRIMARY and SECONDARY failover records in the zone, with the TTL, PRIMARY on the health check', () => {
    const [healthCheckId] = only(built.dr, 'AWS::Route53::HealthCheck');
    built.dr.resourceCountIs('AWS::Route53::RecordSet', 2);
    built.dr.hasResourceProperties('AWS::Route53::RecordSet', {
      HostedZoneId: ZONE,
      Name: 'api.example.com',
      Type: 'A',
      Failover: 'PRIMARY',
      SetIdentifier: 'responder-payments-api-primary',
      TTL: '45',
      ResourceRecords: ['192.0.2.10', '192.0.2.11'],
      HealthCheckId: { 'Fn::GetAtt': [healthCheckId, 'HealthCheckId'] },
    });
    built.dr.hasResourceProperties('AWS::Route53::RecordSet', {
      HostedZoneId: ZONE,
      Name: 'api.example.com',
      Type: 'A',
      Failover: 'SECONDARY',
      SetIdentifier: 'responder-payments-api-dr',
      TTL: '45',
      ResourceRecords: ['198.51.100.20'],
      HealthCheckId: Match.absent(),
    });
    // Nothing of the kind in the primary stack.
    built.primary.resourceCountIs('AWS::Route53::RecordSet', 0);
    built.primary.resourceCountIs('AWS::Route53::HealthCheck', 0);
  });

  it('writes alias targets without a TTL', () => {
    const { dr } = build(
      failoverConfig({
        dr: {
          record: {
            alias: {
              dnsName: 'dr-alb-123.eu-central-1.elb.amazonaws.com',
              hostedZoneId: 'Z215JYRZR1TBD5',
              evaluateTargetHealth: true,
            },
          },
          targets: ['dr-site'],
        },
      }),
    );
    dr.hasResourceProperties('AWS::Route53::RecordSet', {
      Failover: 'SECONDARY',
      TTL: Match.absent(),
      ResourceRecords: Match.absent(),
      AliasTarget: {
        DNSName: 'dr-alb-123.eu-central-1.elb.amazonaws.com',
        HostedZoneId: 'Z215JYRZR1TBD5',
        EvaluateTargetHealth: true,
      },
    });
    dr.hasResourceProperties('AWS::Route53::RecordSet', { Failover: 'PRIMARY', TTL: '45' });
  });

  it('checks the switch endpoint over HTTPS on its secret path, inverted, at the configured interval and threshold', () => {
    const [, check] = only(built.dr, 'AWS::Route53::HealthCheck');
    const config = built.resolvedDr.resolve(check.Properties.HealthCheckConfig) as Record<string, unknown>;
    const [urlId] = only(built.dr, 'AWS::Lambda::Url');
    const url = built.resolvedDr.getAtt(urlId, 'FunctionUrl');
    expect(config).toEqual({
      Type: 'HTTPS',
      FullyQualifiedDomainName: new URL(url).hostname,
      Port: 443,
      ResourcePath: `/switch/${STACK_UUID}`,
      EnableSNI: true,
      RequestInterval: 30,
      FailureThreshold: 3,
      // Unhealthy only while the endpoint answers 2xx ("dr"): unreachable keeps DNS on the primary.
      Inverted: true,
    });
  });

  it('serves the switch from a public function URL whose function knows the path and may only read the switch item', () => {
    const [, url] = only(built.dr, 'AWS::Lambda::Url');
    expect(url.Properties.AuthType).toBe('NONE');
    const endpoint = byService(built.resolvedDr, 'responder-failover-switch');
    expect(built.resolvedDr.resolve(url.Properties.TargetFunctionArn)).toBe(endpoint.arn);
    expect(endpoint.environment.SWITCH_PATH).toBe(`/switch/${STACK_UUID}`);
    const table = endpoint.environment.STATE_TABLE_NAME ?? '';
    const tableArn = `arn:aws:dynamodb:${DR_REGION}:${ACCOUNT}:table/${table}`;
    expect(tableArn).toMatch(/StateTable/);
    const dynamoStatements = endpoint.statements.filter((s) =>
      [s.Action ?? []].flat().some((a) => a.startsWith('dynamodb:')),
    );
    expect(dynamoStatements).toEqual([
      {
        Effect: 'Allow',
        Action: 'dynamodb:GetItem',
        Resource: tableArn,
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['FAILOVER#switch'] } },
      },
    ]);
    const call = (action: string, pk: string) =>
      decide(endpoint.statements, [], dynamo(action, tableArn, pk));
    expect(call('GetItem', 'FAILOVER#switch')).toBe('allowed');
    expect(call('PutItem', 'FAILOVER#switch')).toBe('implicitly denied');
    expect(call('GetItem', 'FAILOVER#lock')).toBe('implicitly denied');
    expect(call('GetItem', 'FAILOVER#approval#r1')).toBe('implicitly denied');
    expect(call('GetItem', 'INC#20260101-00000000')).toBe('implicitly denied');
    // The key: decrypt only.
    const kms = endpoint.statements
      .flatMap((s) => [s.Action ?? []].flat())
      .filter((a) => a.startsWith('kms:'));
    expect(kms.sort()).toEqual(['kms:Decrypt', 'kms:DescribeKey']);
    // Nothing else: logs, X-Ray, the table.
    const services = new Set(
      endpoint.statements.flatMap((s) => [s.Action ?? []].flat()).map((a) => a.split(':')[0]),
    );
    expect([...services].sort()).toEqual(['dynamodb', 'kms', 'logs', 'xray']);
    const outputs = built.resolvedDr.resolve(built.dr.toJSON().Outputs) as Record<string, { Value: string }>;
    const switchUrl = Object.entries(outputs).find(([id]) => id.includes('FailoverSwitchUrl'))?.[1].Value;
    expect(switchUrl).toBe(
      `${url.Properties.TargetFunctionArn ? built.resolvedDr.getAtt(only(built.dr, 'AWS::Lambda::Url')[0], 'FunctionUrl') : ''}switch/${STACK_UUID}`,
    );
  });

  it('lets the failover function move the switch, take the lock and keep approvals in its own table, with no Route 53 call', () => {
    const failover = byService(built.resolvedDr, 'responder-failover');
    const table = `arn:aws:dynamodb:${DR_REGION}:${ACCOUNT}:table/${failover.environment.STATE_TABLE_NAME}`;
    for (const action of ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem']) {
      for (const pk of ['FAILOVER#switch', 'FAILOVER#lock', 'FAILOVER#approval#r1']) {
        expect(decide(failover.statements, [], dynamo(action, table, pk)), `${action} ${pk}`).toBe('allowed');
      }
    }
    expect(decide(failover.statements, [], dynamo('PutItem', table, 'INC#20260101-00000000'))).toBe(
      'allowed',
    );
    expect(decide(failover.statements, [], dynamo('PutItem', table, 'AUDIT#2026-01-01'))).toBe('allowed');
    expect(decide(failover.statements, [], dynamo('PutItem', table, 'ZONE#api.example.com'))).toBe(
      'implicitly denied',
    );
    expect(decide(failover.statements, [], dynamo('PutItem', table, 'FLAG#automation'))).toBe(
      'implicitly denied',
    );
    const actions = failover.statements.flatMap((s) => [s.Action ?? []].flat());
    expect(actions.filter((a) => a.startsWith('route53:'))).toEqual([]);
    // The environment: the table, and the primary bus by ARN.
    expect(failover.environment[FAILOVER_ENV.primaryEventBusArn]).toBe(
      `arn:aws:events:${PRIMARY_REGION}:${ACCOUNT}:event-bus/${names.primaryBus}`,
    );
  });

  it('adds nothing to either stack without failover in the config', () => {
    const plain = build(testConfig());
    for (const type of [
      'AWS::Route53::RecordSet',
      'AWS::Route53::HealthCheck',
      'AWS::Lambda::Url',
      'AWS::Events::EventBus',
    ]) {
      plain.dr.resourceCountIs(type, 0);
    }
    expect(Object.keys(plain.dr.findResources('AWS::Lambda::Function'))).toHaveLength(1);
    const role = Object.values(plain.dr.findResources('AWS::IAM::Role') as Resources)[0];
    expect(role?.Properties.RoleName).toBeUndefined();
    // The primary stack keeps its failover function, and its bus its generated name.
    expect(Object.keys(plain.primary.findResources('AWS::Lambda::Function'))).toHaveLength(7);
    const [bus] = Object.values(plain.primary.findResources('AWS::Events::EventBus') as Resources);
    expect(bus?.Properties.Name).not.toBe(names.primaryBus);
  });
});

describe('DNS failover: the DR stack stands alone', () => {
  for (const mode of ['switch', 'records'] as const) {
    it(`${mode} mode: no import, no cross-stack or cross-region reference, no dependency between the stacks`, () => {
      const { app, dr, primary } = build(failoverConfig({ mode }));
      const json = JSON.stringify(dr.toJSON());
      expect(json).not.toContain('Fn::ImportValue');
      expect(json).not.toMatch(/ExportsReader|ExportsWriter|CrossRegion/);
      expect(JSON.stringify(primary.toJSON())).not.toContain('Fn::ImportValue');
      expect(app.dr.dependencies).toEqual([]);
      expect(app.primary.dependencies).toEqual([]);
      // No logical id or name of the primary stack's resources appears in the DR stack.
      for (const id of Object.keys(primary.toJSON().Resources)) {
        if (dr.toJSON().Resources[id]) continue; // same construct ids in both stacks (the table, the failover function)
        expect(json, id).not.toContain(`"${id}"`);
      }
      // The primary region appears only in the ARN of the primary bus, where approval pages go (the
      // environment variable and its PutEvents grant); nothing on the failover path needs it.
      const mentions = [...json.matchAll(/eu-west-1[^"]*/g)].map((m) => m[0]);
      const primaryBusArn = `eu-west-1:${ACCOUNT}:event-bus/${names.primaryBus}`;
      expect(mentions).toEqual([primaryBusArn, primaryBusArn]);
      expect(json.match(new RegExp(names.primaryBus, 'g'))).toHaveLength(2);
    });
  }
});

describe('DNS failover: alert-triggered requests cross to the DR region', () => {
  let built: Built;
  beforeAll(() => {
    built = build(failoverConfig());
  });

  it('forwards failover requests from the primary bus to the DR bus (a bus target: EventBridge targets no Lambda in another region)', () => {
    const drBusArn = `arn:aws:events:${DR_REGION}:${ACCOUNT}:event-bus/${names.drBus}`;
    const rules = built.resolvedPrimary
      .idsOf('AWS::Events::Rule')
      .map(
        (id) =>
          built.resolvedPrimary.resolve(built.resolvedPrimary.properties(id)) as Record<string, unknown>,
      );
    const forward = rules.find((rule) => JSON.stringify(rule.EventPattern).includes('"failover"'));
    expect(forward).toMatchObject({
      EventPattern: {
        source: ['responder'],
        'detail-type': ['Action Requested'],
        detail: { kind: ['failover'] },
      },
      Targets: [
        {
          Arn: drBusArn,
          RoleArn: `arn:aws:iam::${ACCOUNT}:role/p-${built.resolvedPrimary.idsOf('AWS::IAM::Role').find((id) => id.startsWith('FailoverForwarderRole'))}`,
          DeadLetterConfig: { Arn: expect.stringMatching(/failoverDeadLetters/) },
        },
      ],
    });
    built.primary.hasResourceProperties('AWS::IAM::Role', {
      RoleName: names.forwarderRole,
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: 'events.amazonaws.com' } })],
      },
    });
    const forwarder = built.resolvedPrimary
      .idsOf('AWS::IAM::Policy')
      .map(
        (id) =>
          built.resolvedPrimary.resolve(built.resolvedPrimary.properties(id)) as Record<string, unknown>,
      )
      .filter((policy) => JSON.stringify(policy.Roles).includes('FailoverForwarderRole'));
    expect(forwarder.map((policy) => policy.PolicyDocument)).toEqual([
      {
        Version: '2012-10-17',
        Statement: [{ Action: 'events:PutEvents', Effect: 'Allow', Resource: drBusArn }],
      },
    ]);
    // The primary stack runs no failover function of its own: failover runs in the DR region.
    const services = functionsOf(built.resolvedPrimary).map((fn) => fn.environment.POWERTOOLS_SERVICE_NAME);
    expect(services).not.toContain('responder-failover');
    expect(services).toHaveLength(6);
  });

  it('receives them on the DR bus, which only the forwarder may put requests on, and runs the DR failover function', () => {
    const failover = byService(built.resolvedDr, 'responder-failover');
    built.dr.hasResourceProperties('AWS::Events::EventBus', { Name: names.drBus });
    const rules = built.resolvedDr
      .idsOf('AWS::Events::Rule')
      .map((id) => built.resolvedDr.resolve(built.resolvedDr.properties(id)) as Record<string, unknown>);
    expect(rules).toHaveLength(1);
    expect(rules[0]).toMatchObject({
      EventBusName: `dr-${built.resolvedDr.idsOf('AWS::Events::EventBus')[0]}`,
      EventPattern: {
        source: ['responder'],
        'detail-type': ['Action Requested'],
        detail: { kind: ['failover'] },
      },
      Targets: [
        {
          Arn: failover.arn,
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 21600 },
          DeadLetterConfig: { Arn: expect.stringMatching(/DeadLetters/) },
        },
      ],
    });
    const policy = busPolicyStatements(built.resolvedDr);
    const put = (principal: string) =>
      decide([{ Effect: 'Allow', Action: 'events:PutEvents', Resource: '*' }], policy, {
        action: 'events:PutEvents',
        resource: built.resolvedDr.getAtt(built.resolvedDr.idsOf('AWS::Events::EventBus')[0] ?? '', 'Arn'),
        context: { 'aws:PrincipalArn': [principal], 'events:source': ['responder'] },
      });
    expect(put(`arn:aws:iam::${ACCOUNT}:role/${names.forwarderRole}`)).toBe('allowed');
    expect(put(`arn:aws:iam::${ACCOUNT}:role/someone-else`)).toBe('explicitly denied');
  });

  it('lets the DR failover function page through the primary bus: its role by name, excepted from the bus policy', () => {
    const failover = byService(built.resolvedDr, 'responder-failover');
    expect(failover.roleArn).toMatch(/:role\/dr-FailoverActionServiceRole/); // resolved by logical id here
    built.dr.hasResourceProperties('AWS::IAM::Role', { RoleName: names.drFailoverRole });
    const drRoleArn = `arn:aws:iam::${ACCOUNT}:role/${names.drFailoverRole}`;
    const primaryBus = `arn:aws:events:${PRIMARY_REGION}:${ACCOUNT}:event-bus/${names.primaryBus}`;
    built.primary.hasResourceProperties('AWS::Events::EventBus', { Name: names.primaryBus });
    const call = (principal: string, resource: string) => ({
      action: 'events:PutEvents',
      resource,
      context: { 'aws:PrincipalArn': [principal], 'events:source': ['responder'] },
    });
    // Its identity policy names the primary bus by its name...
    expect(decide(failover.statements, [], call(drRoleArn, primaryBus))).toBe('allowed');
    // ...and the bus policy (here on the bus's ARN as the resolver names it) excepts its role.
    const busArn = built.resolvedPrimary.getAtt(
      built.resolvedPrimary.idsOf('AWS::Events::EventBus')[0] ?? '',
      'Arn',
    );
    const anyone = [{ Effect: 'Allow' as const, Action: 'events:PutEvents', Resource: '*' }];
    const policy = busPolicyStatements(built.resolvedPrimary);
    expect(decide(anyone, policy, call(drRoleArn, busArn))).toBe('allowed');
    expect(decide(anyone, policy, call(`arn:aws:iam::${ACCOUNT}:role/other`, busArn))).toBe(
      'explicitly denied',
    );
  });
});

describe('DNS failover: the primary API invokes the DR failover function', () => {
  let built: Built;
  beforeAll(() => {
    built = build(failoverConfig());
  });
  const drFunctionArn = `arn:aws:lambda:${DR_REGION}:${ACCOUNT}:function:${names.drFailoverFunction}`;
  /** Each (action, resource, condition) an API role statement allows, as one line. */
  const grantsOf = (resolved: ResolvedTemplate) =>
    byService(resolved, 'responder-api').statements.flatMap((statement) =>
      [statement.Action ?? []]
        .flat()
        .flatMap((action) =>
          [statement.Resource ?? []]
            .flat()
            .map(
              (resource) =>
                `${statement.Effect} ${action} ${resource}${statement.Condition ? ` ${JSON.stringify(statement.Condition)}` : ''}`,
            ),
        ),
    );

  it('names the DR failover function, and tells the API its region and name', () => {
    built.dr.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: names.drFailoverFunction,
      Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'responder-failover' }) },
    });
    expect(byService(built.resolvedDr, 'responder-failover').arn).toBe(drFunctionArn);
    expect(byService(built.resolvedPrimary, 'responder-api').environment).toMatchObject({
      DR_FAILOVER_REGION: DR_REGION,
      DR_FAILOVER_FUNCTION_NAME: names.drFailoverFunction,
    });
  });

  it('lets the API role invoke exactly that function (unqualified) and nothing else new', () => {
    // GIVEN the same stack without failover
    const { failover: _, ...withoutFailover } = failoverConfig();
    const plain = build(withoutFailover as ResponderConfig);

    // THEN the API role's grants differ by the DR function's ARN alone
    const added = grantsOf(built.resolvedPrimary).filter((g) => !grantsOf(plain.resolvedPrimary).includes(g));
    const removed = grantsOf(plain.resolvedPrimary).filter(
      (g) => !grantsOf(built.resolvedPrimary).includes(g),
    );
    expect(added).toEqual([`Allow lambda:InvokeFunction ${drFunctionArn}`]);
    expect(removed).toEqual([]);
    const api = byService(built.resolvedPrimary, 'responder-api');
    const invoke = (resource: string) =>
      decide(api.statements, [], { action: 'lambda:InvokeFunction', resource, context: {} });
    expect(invoke(drFunctionArn)).toBe('allowed');
    expect(invoke(`${drFunctionArn}:1`)).toBe('implicitly denied');
    expect(invoke(byService(built.resolvedDr, 'responder-failover-switch').arn)).toBe('implicitly denied');
    expect(invoke(`arn:aws:lambda:${PRIMARY_REGION}:${ACCOUNT}:function:${names.drFailoverFunction}`)).toBe(
      'implicitly denied',
    );
  });

  it('lets the escalate function record the incidents the DR function’s pages carry, only with failover', () => {
    const put = (resolved: ResolvedTemplate) =>
      decide(
        byService(resolved, 'responder-escalate').statements,
        [],
        dynamo(
          'PutItem',
          resolved.getAtt(resolved.idsOf('AWS::DynamoDB::Table')[0] ?? '', 'Arn'),
          'INC#20260101-00000000',
        ),
      );
    expect(put(built.resolvedPrimary)).toBe('allowed');
    const { failover: _, ...withoutFailover } = failoverConfig();
    expect(put(build(withoutFailover as ResponderConfig).resolvedPrimary)).toBe('implicitly denied');
  });
});

describe('DNS failover, records mode', () => {
  let built: Built;
  beforeAll(() => {
    built = build(failoverConfig({ mode: 'records' }));
  });

  it('creates no record, health check or switch endpoint: the record is the runbook’s', () => {
    for (const type of ['AWS::Route53::RecordSet', 'AWS::Route53::HealthCheck', 'AWS::Lambda::Url']) {
      built.dr.resourceCountIs(type, 0);
    }
    expect(functionsOf(built.resolvedDr).map((fn) => fn.environment.POWERTOOLS_SERVICE_NAME)).toEqual([
      'responder-failover',
    ]);
  });

  it("lets the failover function UPSERT the configured record only, by Route 53's condition keys, read the zone and follow the change", () => {
    const failover = byService(built.resolvedDr, 'responder-failover');
    const zone = `arn:aws:route53:::hostedzone/${ZONE}`;
    const change = (over: Partial<Record<string, string[]>> = {}, resource = zone) =>
      decide(failover.statements, [], {
        action: 'route53:ChangeResourceRecordSets',
        resource,
        context: {
          'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['api.example.com'],
          'route53:ChangeResourceRecordSetsRecordTypes': ['A'],
          'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
          ...over,
        },
      });
    expect(change()).toBe('allowed');
    expect(change({ 'route53:ChangeResourceRecordSetsActions': ['DELETE'] })).toBe('implicitly denied');
    expect(change({ 'route53:ChangeResourceRecordSetsActions': ['UPSERT', 'CREATE'] })).toBe(
      'implicitly denied',
    );
    expect(change({ 'route53:ChangeResourceRecordSetsRecordTypes': ['TXT'] })).toBe('implicitly denied');
    expect(change({ 'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['www.example.com'] })).toBe(
      'implicitly denied',
    );
    expect(
      change({ 'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['api.example.com', 'example.com'] }),
    ).toBe('implicitly denied');
    expect(change({}, 'arn:aws:route53:::hostedzone/ZOTHERZONE0000')).toBe('implicitly denied');
    const other = (action: string, resource: string) =>
      decide(failover.statements, [], { action, resource, context: {} });
    expect(other('route53:ListResourceRecordSets', zone)).toBe('allowed');
    expect(other('route53:ListResourceRecordSets', 'arn:aws:route53:::hostedzone/ZOTHERZONE0000')).toBe(
      'implicitly denied',
    );
    expect(other('route53:GetChange', 'arn:aws:route53:::change/C2682N5HXP0BZ4')).toBe('allowed');
    // Exactly these three Route 53 statements.
    const route53 = failover.statements.filter((s) =>
      [s.Action ?? []].flat().some((a) => a.startsWith('route53:')),
    );
    expect(route53).toEqual([
      {
        Effect: 'Allow',
        Action: 'route53:ChangeResourceRecordSets',
        Resource: zone,
        Condition: {
          'ForAllValues:StringEquals': {
            'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['api.example.com'],
            'route53:ChangeResourceRecordSetsRecordTypes': ['A'],
            'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
          },
        },
      },
      { Effect: 'Allow', Action: 'route53:ListResourceRecordSets', Resource: zone },
      { Effect: 'Allow', Action: 'route53:GetChange', Resource: 'arn:aws:route53:::change/*' },
    ]);
  });

  it("normalizes record names as Route 53's condition key does", () => {
    expect(normalizedRecordName('API.Example.com.')).toBe('api.example.com');
    expect(normalizedRecordName('*.example.com')).toBe('\\052.example.com');
    expect(normalizedRecordName('_srv.example.com')).toBe('_srv.example.com');
  });
});

describe('DNS failover: cdk-nag AwsSolutions', () => {
  for (const mode of ['switch', 'records'] as const) {
    it(`${mode} mode: no unacknowledged finding, each acknowledgement on one resource with its reason`, () => {
      const { app } = buildApp(failoverConfig({ mode }), appWithoutBundling());
      const report = new AwsSolutionsChecks(app).validateScope(app);
      expect(report.violations.map((v) => v.ruleName)).toEqual([]);
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
      for (const { construct, id, reason } of acknowledged) {
        expect(CfnResource.isCfnResource(construct), `${id} on ${construct.node.path}`).toBe(true);
        expect(reason.length, id).toBeGreaterThan(40);
      }
      const ids = acknowledged.map(({ id }) => id.replace(/^Annotation::/, ''));
      if (mode === 'records') {
        expect(ids).toContain('AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:route53:::change/*]');
      } else {
        expect(ids.filter((id) => id.includes('route53'))).toEqual([]);
      }
      // The DR bus's dead-letter queue, the forwarding rule's in the primary stack.
      expect(ids.filter((id) => id === 'AwsSolutions-SQS3')).toHaveLength(6);
    });
  }
});

describe('DNS failover: the database engines’ RDS actions, secrets and network', () => {
  const VPC = {
    vpcId: 'vpc-0abc1234',
    availabilityZones: ['eu-central-1a', 'eu-central-1b'],
    privateSubnetIds: ['subnet-0aaa1111', 'subnet-0bbb2222'],
    securityGroupIds: ['sg-0ccc3333'],
  };
  const PRIMARY_SECRET = 'responder/payments-primary-admin';
  const DR_SECRET = `arn:aws:secretsmanager:${DR_REGION}:${ACCOUNT}:secret:responder/payments-dr-admin-AbCdEf`;
  const REPLICA = `arn:aws:rds:${DR_REGION}:${ACCOUNT}:db:payments-dr`;
  const PRIMARY_DB = `arn:aws:rds:${PRIMARY_REGION}:${ACCOUNT}:db:payments`;
  const GLOBAL = `arn:aws:rds::${ACCOUNT}:global-cluster:payments-global`;
  const DR_CLUSTER = `arn:aws:rds:${DR_REGION}:${ACCOUNT}:cluster:payments-dr`;
  const PRIMARY_CLUSTER = `arn:aws:rds:${PRIMARY_REGION}:${ACCOUNT}:cluster:payments`;
  const ENGINES = {
    'rds-replica': {
      engine: 'rds-replica',
      // Mixed case on purpose: RDS keeps identifiers (and so its ARNs) in lower case.
      replicaInstance: 'Payments-DR',
      primaryInstance: 'payments',
      primaryRegion: PRIMARY_REGION,
    },
    'aurora-global': {
      engine: 'aurora-global',
      globalClusterIdentifier: 'payments-global',
      drClusterArn: DR_CLUSTER,
      primaryClusterArn: PRIMARY_CLUSTER,
    },
  } as const;
  const failoverFunction = (database: Record<string, unknown>) =>
    byService(build(failoverConfig({ database })).resolvedDr, 'responder-failover');
  const rdsStatements = (fn: ReturnType<typeof byService>) =>
    fn.statements.filter((s) => [s.Action ?? []].flat().some((a) => a.startsWith('rds:')));
  const allows = (fn: ReturnType<typeof byService>, action: string, resource: string) =>
    decide(fn.statements, [], { action, resource, context: {} });

  it('rds-replica: promotes and describes the DR replica and the primary instance, by ARN, and nothing else', () => {
    const fn = failoverFunction(ENGINES['rds-replica']);
    expect(rdsStatements(fn)).toEqual([
      {
        Effect: 'Allow',
        Action: ['rds:PromoteReadReplica', 'rds:DescribeDBInstances'],
        Resource: [REPLICA, PRIMARY_DB],
      },
    ]);
    for (const resource of [REPLICA, PRIMARY_DB]) {
      expect(allows(fn, 'rds:PromoteReadReplica', resource)).toBe('allowed');
      expect(allows(fn, 'rds:DescribeDBInstances', resource)).toBe('allowed');
    }
    expect(allows(fn, 'rds:PromoteReadReplica', `arn:aws:rds:${DR_REGION}:${ACCOUNT}:db:orders`)).toBe(
      'implicitly denied',
    );
    expect(allows(fn, 'rds:DeleteDBInstance', REPLICA)).toBe('implicitly denied');
    expect(allows(fn, 'rds:RebootDBInstance', PRIMARY_DB)).toBe('implicitly denied');
  });

  it('aurora-global: switches over and fails over the global cluster between its two clusters, and describes them', () => {
    const fn = failoverFunction(ENGINES['aurora-global']);
    expect(rdsStatements(fn)).toEqual([
      {
        Effect: 'Allow',
        Action: ['rds:SwitchoverGlobalCluster', 'rds:FailoverGlobalCluster'],
        Resource: [GLOBAL, DR_CLUSTER, PRIMARY_CLUSTER],
      },
      { Effect: 'Allow', Action: 'rds:DescribeGlobalClusters', Resource: GLOBAL },
      { Effect: 'Allow', Action: 'rds:DescribeDBClusters', Resource: [DR_CLUSTER, PRIMARY_CLUSTER] },
    ]);
    const other = `arn:aws:rds::${ACCOUNT}:global-cluster:orders-global`;
    expect(allows(fn, 'rds:FailoverGlobalCluster', other)).toBe('implicitly denied');
    expect(allows(fn, 'rds:DescribeGlobalClusters', other)).toBe('implicitly denied');
    expect(allows(fn, 'rds:RemoveFromGlobalCluster', GLOBAL)).toBe('implicitly denied');
    expect(allows(fn, 'rds:DescribeDBClusters', `arn:aws:rds:${DR_REGION}:${ACCOUNT}:cluster:orders`)).toBe(
      'implicitly denied',
    );
  });

  it('reads the database logins’ secrets when configured, and grants no RDS action to the SQL engine', () => {
    const fn = failoverFunction({
      ...ENGINES['rds-replica'],
      primarySecret: PRIMARY_SECRET,
      drSecret: DR_SECRET,
    });
    const secrets = fn.statements.filter((s) =>
      [s.Action ?? []].flat().includes('secretsmanager:GetSecretValue'),
    );
    expect(secrets.map((s) => s.Resource)).toEqual([
      `arn:aws:secretsmanager:${DR_REGION}:${ACCOUNT}:secret:${PRIMARY_SECRET}-??????`,
      DR_SECRET,
    ]);
    expect(
      failoverFunction(ENGINES['rds-replica']).statements.filter((s) =>
        [s.Action ?? []].flat().some((a) => a.startsWith('secretsmanager:')),
      ),
    ).toEqual([]);
    const standby = failoverFunction({
      engine: 'postgres-standby',
      primarySecret: PRIMARY_SECRET,
      drSecret: DR_SECRET,
    });
    expect(rdsStatements(standby)).toEqual([]);
    expect(allows(standby, 'secretsmanager:GetSecretValue', DR_SECRET)).toBe('allowed');
  });

  it('runs the DR failover function in failover.database.vpc, and nowhere without it', () => {
    const { dr } = build(failoverConfig({ database: { ...ENGINES['aurora-global'], vpc: VPC } }));
    const [failover] = Object.values(dr.findResources('AWS::Lambda::Function') as Resources).filter(
      (fn) =>
        (fn.Properties.Environment as { Variables: Record<string, string> }).Variables
          .POWERTOOLS_SERVICE_NAME === 'responder-failover',
    );
    expect(failover?.Properties.VpcConfig).toEqual({
      SubnetIds: VPC.privateSubnetIds,
      SecurityGroupIds: VPC.securityGroupIds,
    });
    const inVpc = failoverFunction({ ...ENGINES['aurora-global'], vpc: VPC });
    expect(allows(inVpc, 'ec2:CreateNetworkInterface', '*')).toBe('allowed');
    const { dr: outside } = build(failoverConfig({ database: ENGINES['aurora-global'] }));
    for (const fn of Object.values(outside.findResources('AWS::Lambda::Function') as Resources)) {
      expect(fn.Properties.VpcConfig).toBeUndefined();
    }
    expect(allows(failoverFunction(ENGINES['aurora-global']), 'ec2:CreateNetworkInterface', '*')).toBe(
      'implicitly denied',
    );
  });

  for (const engine of ['rds-replica', 'aurora-global'] as const) {
    it(`${engine} in a VPC: no unacknowledged cdk-nag finding; the VPC access policy acknowledged on the role`, () => {
      const { app, dr } = buildApp(
        failoverConfig({
          mode: 'records',
          database: { ...ENGINES[engine], vpc: VPC, primarySecret: PRIMARY_SECRET, drSecret: DR_SECRET },
        }),
        appWithoutBundling(),
      );
      const report = new AwsSolutionsChecks(app).validateScope(app);
      expect(report.violations.map((v) => v.ruleName)).toEqual([]);
      const role = dr.failover.role.node.defaultChild as CfnResource;
      const acknowledged = role.node.metadata
        .filter((entry) => entry.type === 'aws:cdk:acknowledged-rules')
        .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
        .map(([id, reason]) => [id.replace(/^Annotation::/, ''), reason]);
      expect(acknowledged).toEqual([
        [
          'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
          expect.stringMatching(/the failover function in the configured private subnets/),
        ],
      ]);
    });
  }
});
