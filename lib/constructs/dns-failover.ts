import { ArnFormat, Aws, CfnOutput, Duration, Fn, Stack } from 'aws-cdk-lib';
import { EventBus, Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { AnyPrincipal, type CfnRole, Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { type CfnFunction, type FunctionUrl, FunctionUrlAuthType } from 'aws-cdk-lib/aws-lambda';
import { CfnHealthCheck, CfnRecordSet } from 'aws-cdk-lib/aws-route53';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { FailoverConfig } from '../../src/config/failover.ts';
import type { FailoverDatabaseConfig } from '../../src/config/failover-database.ts';
import type { ResponderConfig } from '../../src/config/schema.ts';
import { ACTION_REQUESTED, EVENT_SOURCE } from '../../src/domain/actions.ts';
import { eventBusArn, failoverNames, roleArn } from '../failover-names.ts';
import { grantSecretValue } from '../grants.ts';
import { acknowledgeDeadLetterQueue, acknowledgeRoute53Changes, acknowledgeTracing } from '../nag.ts';
import { importSecret } from '../secrets.ts';
import type { RemediationAction } from './remediation-action.ts';
import { ResponderFunction } from './responder-function.ts';
import type { StateTable } from './state-table.ts';

/** The environment variables the DR failover function gets from `DnsFailover` (besides STATE_TABLE_NAME). */
export const FAILOVER_ENV = {
  /** ARN of the primary region's action bus: approval pages go there (a client in the ARN's region). */
  primaryEventBusArn: 'PRIMARY_EVENT_BUS_ARN',
} as const;

/** The switch endpoint's path prefix; the rest is the DR stack's id (see `DnsFailover`). */
export const SWITCH_PATH_PREFIX = '/switch/';

/** Route 53's normalized form of a record name (its condition key's): lower case, no trailing dot. */
export function normalizedRecordName(name: string): string {
  return name
    .toLowerCase()
    .replace(/\.$/, '')
    .replace(/[^a-z0-9_.-]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

export interface DnsFailoverProps {
  readonly config: ResponderConfig;
  readonly failover: FailoverConfig;
  /** The DR region's state table: the switch, the lock, approvals, incidents and the audit trail. */
  readonly state: StateTable;
  /** The DR region's failover action (its function and grants). */
  readonly action: RemediationAction;
  /** @default Duration.hours(6) - how long EventBridge keeps retrying the failover function */
  readonly maxEventAge?: Duration;
}

/**
 * DNS failover in the DR stack. In both modes: the failover function's grants (the switch, lock and
 * approvals; incidents; the audit trail; pages through the primary region's bus, by ARN), and the DR
 * region's bus to which the primary bus forwards alert-triggered failover requests, with its rule to
 * the failover function.
 *
 * `switch` mode: an endpoint (Lambda function URL) serving the switch item, an inverted Route 53
 * HTTPS health check on it, and the PRIMARY/SECONDARY failover records. Failing over is one
 * conditional write of the switch item in this region; Route 53's control plane is not called.
 *
 * `records` mode: `route53:ChangeResourceRecordSets` (UPSERT of the configured record only, by
 * Route 53's condition keys), `ListResourceRecordSets` on the zone and `GetChange`. The record is the
 * runbook's, and stays out of the stack.
 *
 * With `failover.database`: the RDS actions of its engine on the named instances or clusters only
 * (`rds-replica`: promote and describe the two instances; `aurora-global`: switch over, fail over and
 * describe the global cluster and its two clusters), and the database logins' secret values.
 *
 * Nothing here references a resource of the primary stack: the primary bus's ARN is built from its
 * name (`failoverNames`), and the primary stack likewise builds this bus's ARN and this function's
 * role ARN from theirs.
 */
export class DnsFailover extends Construct {
  /** The DR region's bus: failover requests forwarded from the primary bus arrive here. */
  public readonly bus: EventBus;
  public readonly rule: Rule;
  public readonly deadLetterQueue: Queue;
  /** `switch` mode: the endpoint's function. */
  public readonly switchEndpoint?: ResponderFunction;
  /** `switch` mode: its function URL. */
  public readonly switchUrl?: FunctionUrl;
  /** `switch` mode: the inverted health check on the endpoint (PRIMARY's). */
  public readonly healthCheck?: CfnHealthCheck;
  /** `switch` mode: the failover routing records. */
  public readonly records?: { readonly primary: CfnRecordSet; readonly secondary: CfnRecordSet };

  constructor(scope: Construct, id: string, props: DnsFailoverProps) {
    super(scope, id);
    const { config, failover, state } = props;
    const names = failoverNames(config.service);
    const handler = props.action.handler;
    const fn = handler.function;

    // A name, so the primary stack's bus policy can except this role by ARN (no cross-stack reference).
    (handler.role.node.defaultChild as CfnRole).roleName = names.drFailoverRole;
    // A name, so the primary region's API can invoke the function by ARN (no cross-stack reference).
    (fn.node.defaultChild as CfnFunction).functionName = names.drFailoverFunction;
    state.grantFailover(fn);
    // The approval incident (P1) and the audit trail of every gate and step.
    state.grantIncidents(fn, 'record');
    // Approval pages go through the primary region's bus while it answers (the DR region has no paging).
    const primaryBus = eventBusArn(this, config.aws.region, names.primaryBus);
    fn.addEnvironment(FAILOVER_ENV.primaryEventBusArn, primaryBus);
    handler.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['events:PutEvents'], resources: [primaryBus] }),
    );

    // Failover requests from the primary region: its bus forwards them here (EventBridge targets
    // Lambda functions in the rule's own region only; a bus in another region is a supported target).
    this.bus = new EventBus(this, 'Bus', {
      eventBusName: names.drBus,
      description: 'Responder (DR region): failover requests forwarded from the primary region',
    });
    this.bus.addToResourcePolicy(
      new PolicyStatement({
        sid: 'OnlyTheForwarderRequestsFailover',
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['events:PutEvents'],
        resources: [this.bus.eventBusArn],
        conditions: {
          StringEquals: { 'events:source': EVENT_SOURCE },
          ArnNotEquals: { 'aws:PrincipalArn': [roleArn(this, names.forwarderRole)] },
        },
      }),
    );
    this.deadLetterQueue = new Queue(this, 'DeadLetters', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.rule = new Rule(this, 'Rule', {
      eventBus: this.bus,
      description: 'Action Requested (failover), forwarded from the primary region -> the failover function',
      eventPattern: {
        source: [EVENT_SOURCE],
        detailType: [ACTION_REQUESTED],
        detail: { kind: ['failover'] },
      },
    });
    this.rule.addTarget(
      new LambdaFunction(fn, {
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: 8,
        maxEventAge: props.maxEventAge ?? Duration.hours(6),
      }),
    );
    acknowledgeDeadLetterQueue(this.deadLetterQueue);
    new CfnOutput(this, 'FailoverEventBusArn', {
      value: this.bus.eventBusArn,
      description: 'The DR bus the primary bus forwards failover requests to',
    });

    if (failover.mode === 'switch') this.serveSwitch(config, failover, state);
    else this.allowRecordChanges(failover, handler);
    if (failover.database) this.allowDatabaseFailover(failover.database, handler);
  }

  /**
   * The database step: the engine's RDS actions on the configured resources, by ARNs built from their
   * names (RDS keeps identifiers in lower case, as its ARNs show them), and the logins' secrets.
   */
  private allowDatabaseFailover(database: FailoverDatabaseConfig, handler: ResponderFunction) {
    const stack = Stack.of(this);
    const rdsArn = (resource: string, name: string, region?: string) =>
      stack.formatArn({
        service: 'rds',
        region,
        resource,
        resourceName: name.toLowerCase(),
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
    if (database.engine === 'rds-replica') {
      // Failover promotes the replica (this region); failback promotes the primary instance once it is
      // rebuilt as a replica of the DR instance. Both are described for their role and status.
      handler.role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['rds:PromoteReadReplica', 'rds:DescribeDBInstances'],
          resources: [
            rdsArn('db', database.replicaInstance),
            rdsArn('db', database.primaryInstance, database.primaryRegion),
          ],
        }),
      );
    } else if (database.engine === 'aurora-global') {
      // A global cluster's ARN has no region.
      const global = rdsArn('global-cluster', database.globalClusterIdentifier, '');
      const clusters = [database.drClusterArn, database.primaryClusterArn].map((arn) => arn.toLowerCase());
      handler.role.addToPrincipalPolicy(
        new PolicyStatement({
          // Both need the global cluster and the clusters they promote and demote.
          actions: ['rds:SwitchoverGlobalCluster', 'rds:FailoverGlobalCluster'],
          resources: [global, ...clusters],
        }),
      );
      handler.role.addToPrincipalPolicy(
        new PolicyStatement({ actions: ['rds:DescribeGlobalClusters'], resources: [global] }),
      );
      handler.role.addToPrincipalPolicy(
        new PolicyStatement({ actions: ['rds:DescribeDBClusters'], resources: clusters }),
      );
    }
    const logins = { DatabasePrimarySecret: database.primarySecret, DatabaseDrSecret: database.drSecret };
    for (const [id, ref] of Object.entries(logins)) {
      if (ref) grantSecretValue(importSecret(this, id, ref), handler.function);
    }
  }

  /** The switch endpoint, its inverted health check, and the failover records. */
  private serveSwitch(config: ResponderConfig, failover: FailoverConfig, state: StateTable) {
    // The DR stack's id (a UUID CloudFormation generates once): unguessable, stable across updates.
    const token = Fn.select(2, Fn.split('/', Aws.STACK_ID));
    const path = Fn.join('', [SWITCH_PATH_PREFIX, token]);
    const endpoint = new ResponderFunction(this, 'SwitchEndpoint', {
      name: 'failover-switch',
      config,
      description: 'Responder (DR region): the failover switch, as the Route 53 health check reads it',
      timeout: Duration.seconds(5),
      memorySize: 256,
      environment: { STATE_TABLE_NAME: state.table.tableName, SWITCH_PATH: path },
      // Caps what a flood of requests to the public URL can take from the account.
      reservedConcurrentExecutions: config.lambda.reserveConcurrency ? 10 : undefined,
    });
    state.grantFailoverSwitchRead(endpoint.function);
    const url = endpoint.function.addFunctionUrl({ authType: FunctionUrlAuthType.NONE });
    acknowledgeTracing(endpoint);

    const healthCheck = new CfnHealthCheck(this, 'SwitchHealthCheck', {
      healthCheckConfig: {
        type: 'HTTPS',
        // https://<id>.lambda-url.<region>.on.aws/ -> <id>.lambda-url.<region>.on.aws
        fullyQualifiedDomainName: Fn.select(2, Fn.split('/', url.url)),
        port: 443,
        resourcePath: path,
        enableSni: true,
        requestInterval: failover.healthCheck.intervalSeconds,
        failureThreshold: failover.healthCheck.failureThreshold,
        // Healthy (PRIMARY answered) unless the endpoint answers 2xx/3xx, which it does only while the
        // switch says "dr": an endpoint that cannot be reached never moves DNS to the DR site.
        inverted: true,
      },
      healthCheckTags: [{ key: 'Name', value: `responder-${config.service} failover switch` }],
    });

    const name = normalizedRecordName(failover.record.name);
    const record = (site: 'primary' | 'dr', role: 'PRIMARY' | 'SECONDARY', id: string) => {
      const value = failover[site].record;
      return new CfnRecordSet(this, id, {
        hostedZoneId: failover.hostedZoneId,
        name,
        type: failover.record.type,
        setIdentifier: `responder-${config.service}-${site}`,
        failover: role,
        healthCheckId: role === 'PRIMARY' ? healthCheck.attrHealthCheckId : undefined,
        ...('values' in value
          ? { ttl: String(failover.record.ttl), resourceRecords: value.values }
          : {
              aliasTarget: {
                dnsName: value.alias.dnsName,
                hostedZoneId: value.alias.hostedZoneId,
                evaluateTargetHealth: value.alias.evaluateTargetHealth,
              },
            }),
      });
    };
    const records = {
      primary: record('primary', 'PRIMARY', 'PrimaryRecord'),
      secondary: record('dr', 'SECONDARY', 'SecondaryRecord'),
    };
    Object.assign(this, { switchEndpoint: endpoint, switchUrl: url, healthCheck, records });

    new CfnOutput(this, 'FailoverSwitchUrl', {
      // The URL ends in "/", the path starts with one.
      value: Fn.join('', [url.url, SWITCH_PATH_PREFIX.slice(1), token]),
      description: 'The switch as Route 53 reads it: 200 "dr" while failed over, 503 "primary" otherwise',
    });
    new CfnOutput(this, 'FailoverHealthCheckId', {
      value: healthCheck.attrHealthCheckId,
      description: 'The inverted health check of the PRIMARY failover record (it follows the switch)',
    });
  }

  /** `records` mode: UPSERT the configured record only, read it, and follow the change to INSYNC. */
  private allowRecordChanges(failover: FailoverConfig, handler: ResponderFunction) {
    const zone = Fn.join('', ['arn:', Aws.PARTITION, ':route53:::hostedzone/', failover.hostedZoneId]);
    handler.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['route53:ChangeResourceRecordSets'],
        resources: [zone],
        conditions: {
          'ForAllValues:StringEquals': {
            'route53:ChangeResourceRecordSetsNormalizedRecordNames': [
              normalizedRecordName(failover.record.name),
            ],
            'route53:ChangeResourceRecordSetsRecordTypes': [failover.record.type],
            'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
          },
        },
      }),
    );
    // The engine reads the record before the UPSERT (the current value, for the audit trail and the
    // dry run) and after it.
    handler.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['route53:ListResourceRecordSets'], resources: [zone] }),
    );
    handler.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['route53:GetChange'],
        resources: [Fn.join('', ['arn:', Aws.PARTITION, ':route53:::change/*'])],
      }),
    );
    acknowledgeRoute53Changes(handler);
  }
}
