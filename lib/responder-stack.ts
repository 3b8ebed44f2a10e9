import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { SecurityGroup, Subnet, Vpc } from 'aws-cdk-lib/aws-ec2';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import {
  ContextAttribute,
  Schedule,
  ScheduleExpression,
  ScheduleTargetInput,
} from 'aws-cdk-lib/aws-scheduler';
import { EventBridgePutEvents } from 'aws-cdk-lib/aws-scheduler-targets';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { type ActionKind, REMEDIATION_KINDS, type ResponderConfig } from '../src/config/schema.ts';
import { ACTION_REQUESTED, EVENT_SOURCE } from '../src/domain/actions.ts';
import type { FunctionName } from './bundling.ts';
import { ActionDispatch } from './constructs/action-dispatch.ts';
import { EscalationTopics } from './constructs/escalation-topics.ts';
import { ResponderFunction, retentionFor } from './constructs/responder-function.ts';
import { StateTable } from './constructs/state-table.ts';
import { WebhookApi } from './constructs/webhook-api.ts';
import { grantSecretValue } from './grants.ts';
import {
  acknowledgeDeadLetterQueue,
  acknowledgeGeneratedSecret,
  acknowledgePagingKeyAccess,
  acknowledgeRouteAuthentication,
  acknowledgeTracing,
  acknowledgeVpcAccess,
} from './nag.ts';

/** A secret named in the config, by full ARN or by name. */
function importSecret(scope: Construct, id: string, ref: string): ISecret {
  return ref.startsWith('arn:')
    ? Secret.fromSecretCompleteArn(scope, id, ref)
    : Secret.fromSecretNameV2(scope, id, ref);
}

/** Every secret the probe targets read: database and Redis credentials, header values. */
export function probeSecretIds(config: ResponderConfig): string[] {
  const ids = new Set<string>();
  for (const target of config.probes.targets) {
    if ((target.kind === 'postgres' || target.kind === 'redis') && target.secret) ids.add(target.secret);
    if (target.kind === 'http' || target.kind === 'https') {
      for (const value of Object.values(target.headers)) if (typeof value !== 'string') ids.add(value.secret);
    }
  }
  return [...ids];
}

/** The config's reserved concurrency for a function, or none when `lambda.reserveConcurrency` is false. */
export function reservedConcurrencyOf(config: ResponderConfig, name: FunctionName): number | undefined {
  return config.lambda.reserveConcurrency ? config.lambda.reservedConcurrency[name] : undefined;
}

/** `on-call` → `OnCall`: output ids are alphanumeric. */
function outputIdOf(name: string): string {
  return name
    .split('-')
    .map((part) => `${part[0]?.toUpperCase() ?? ''}${part.slice(1)}`)
    .join('');
}

export interface ResponderStackProps extends StackProps {
  readonly config: ResponderConfig;
  /** Written into the incident API's /healthz answer. */
  readonly version: string;
}

const ACTION_FUNCTIONS: ReadonlyArray<{ kind: ActionKind; description: string; timeout: Duration }> = [
  { kind: 'probe', description: 'Responder: health probes', timeout: Duration.minutes(2) },
  { kind: 'backup', description: 'Responder: database backups to S3', timeout: Duration.minutes(15) },
  { kind: 'rotate', description: 'Responder: secret rotation', timeout: Duration.minutes(5) },
  { kind: 'failover', description: 'Responder: DNS failover to the DR site', timeout: Duration.minutes(10) },
  { kind: 'escalate', description: 'Responder: paging and escalation', timeout: Duration.minutes(1) },
];

/**
 * The primary-region stack: the webhook and incident API, the state table, the action bus and the
 * five action functions, the schedules that feed them, and the paging topics and ack-link key.
 */
export class ResponderStack extends Stack {
  public readonly state: StateTable;
  public readonly webhookSecret: ISecret;
  /** The paging topics, one per `escalation.topics` entry, and their key. */
  public readonly escalation: EscalationTopics;
  /** The HMAC key of the signed acknowledge links in pages (`escalation.ackSigningSecret`, or created). */
  public readonly ackSigningSecret: ISecret;
  public readonly api: WebhookApi;
  public readonly dispatch: ActionDispatch;
  public readonly functions: Record<'ingest' | 'api' | ActionKind, ResponderFunction>;
  /** The role EventBridge Scheduler uses to put the scheduled action requests on the bus. */
  public readonly schedulesRole: Role;

  constructor(scope: Construct, id: string, props: ResponderStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.state = new StateTable(this, 'State');
    this.webhookSecret = this.webhookCredential(config);
    this.ackSigningSecret = this.ackSigningKey(config);
    this.escalation = new EscalationTopics(this, 'EscalationTopics', {
      topics: config.escalation.topics,
      displayNamePrefix: config.service,
    });
    const stateEnv = { STATE_TABLE_NAME: this.state.table.tableName };

    const ingest = new ResponderFunction(this, 'Ingest', {
      name: 'ingest',
      reservedConcurrentExecutions: reservedConcurrencyOf(config, 'ingest'),
      config,
      description: 'Responder: Alertmanager webhook ingest',
      timeout: Duration.seconds(15),
      environment: { ...stateEnv, WEBHOOK_SECRET_ARN: this.webhookSecret.secretArn },
    });
    const api = new ResponderFunction(this, 'IncidentApi', {
      name: 'api',
      reservedConcurrentExecutions: reservedConcurrencyOf(config, 'api'),
      config,
      description: 'Responder: incident API',
      // API Gateway waits at most 30 s; POST /api/probes waits for the probe function.
      timeout: Duration.seconds(29),
      memorySize: 256,
      environment: {
        ...stateEnv,
        WEBHOOK_SECRET_ARN: this.webhookSecret.secretArn,
        RESPONDER_VERSION: props.version,
      },
    });
    const probeNetwork = this.probeNetwork(config);
    const actions = Object.fromEntries(
      ACTION_FUNCTIONS.map(({ kind, description, timeout }) => [
        kind,
        new ResponderFunction(this, `${kind[0]?.toUpperCase()}${kind.slice(1)}Action`, {
          name: kind,
          config,
          description,
          timeout,
          environment: stateEnv,
          network: kind === 'probe' ? probeNetwork : undefined,
          reservedConcurrentExecutions: reservedConcurrencyOf(config, kind),
        }),
      ]),
    ) as Record<ActionKind, ResponderFunction>;
    this.functions = { ingest, api, ...actions };

    this.dispatch = new ActionDispatch(this, 'Dispatch', {
      targets: Object.fromEntries(Object.entries(actions).map(([kind, fn]) => [kind, fn.function])),
    });
    ingest.function.addEnvironment('EVENT_BUS_NAME', this.dispatch.bus.eventBusName);
    // The probe function requests escalations when a target turns unhealthy.
    actions.probe.function.addEnvironment('EVENT_BUS_NAME', this.dispatch.bus.eventBusName);
    this.dispatch.grantActionRequestsTo(actions.probe.function);
    // POST /api/probes runs the probes where they have network access: in the probe function.
    api.function.addEnvironment('PROBE_FUNCTION_NAME', actions.probe.function.functionName);
    // The unqualified function only: grantInvoke() would add every version and alias (":*").
    api.function.addToRolePolicy(
      new PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [actions.probe.function.functionArn],
      }),
    );
    probeSecretIds(config).forEach((secretId, index) => {
      grantSecretValue(importSecret(this, `ProbeSecret${index}`, secretId), actions.probe.function);
    });

    // Least privilege: each function gets exactly the table operations, item kinds and secrets it uses
    // (test/iam-grants.test.ts checks both ways against the calls each bundle makes).
    const { state } = this;
    state.grantDeliveryClaims(ingest.function);
    // floodLimits: ingest counts new incidents, the escalate function counts pages.
    state.grantFloodLimits(ingest.function);
    state.grantFloodLimits(actions.escalate.function);
    state.grantIncidents(ingest.function, 'record');
    state.grantAudit(ingest.function, 'append');
    state.grantAutomationFlag(ingest.function, 'read');
    this.dispatch.grantActionRequestsTo(ingest.function);
    grantSecretValue(this.webhookSecret, ingest.function);

    state.grantIncidents(api.function, 'read');
    state.grantIncidentList(api.function);
    state.grantAudit(api.function, 'append');
    state.grantAudit(api.function, 'read');
    state.grantEscalations(api.function);
    state.grantTargetHealth(api.function, 'list');
    state.grantAutomationFlag(api.function, 'write');
    grantSecretValue(this.webhookSecret, api.function);

    for (const fn of Object.values(actions)) {
      state.grantActionClaims(fn.function);
      state.grantAudit(fn.function, 'append');
    }
    for (const kind of REMEDIATION_KINDS) state.grantAutomationFlag(actions[kind].function, 'read');
    state.grantTargetHealth(actions.probe.function, 'record');
    state.grantIncidents(actions.probe.function, 'record');
    state.grantIncidents(actions.escalate.function, 'read');
    // The sweep finds due escalations in the index; without it, tiers after the first are never paged.
    state.grantEscalations(actions.escalate.function, { sweep: true });

    this.api = new WebhookApi(this, 'WebhookApi', {
      ingest: ingest.function,
      api: api.function,
      rateLimit: config.api.throttle.rateLimit,
      burstLimit: config.api.throttle.burstLimit,
      webhookThrottle: config.api.webhookThrottle,
      accessLogRetention: retentionFor(config.logRetentionDays),
    });

    // Paging: the escalate function pages and sweeps; the API acknowledges (and pages the tiers it tells).
    const pagingEnv = {
      ESCALATION_TOPICS: this.toJsonString(this.escalation.topicArns),
      ACK_SECRET_ARN: this.ackSigningSecret.secretArn,
      // The HTTP API's own endpoint (no trailing slash) unless the config names a custom domain.
      PUBLIC_URL: config.api.publicUrl ?? this.api.httpApi.apiEndpoint,
    };
    for (const pager of [actions.escalate, api]) {
      const fn = pager.function;
      for (const [name, value] of Object.entries(pagingEnv)) fn.addEnvironment(name, value);
      this.escalation.grantPublish(fn);
      grantSecretValue(this.ackSigningSecret, fn);
      acknowledgePagingKeyAccess(pager);
    }

    // One role for every schedule, so the bus policy can name it.
    this.schedulesRole = new Role(this, 'SchedulesRole', {
      description: 'Responder: EventBridge Scheduler puts scheduled action requests on the bus',
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    });
    this.dispatch.grantActionRequests(this.schedulesRole);
    const dryRun = config.safety.dryRun;
    this.schedule('ProbeSchedule', 'probe', config.probes.schedule, 'health probes', dryRun);
    this.schedule('BackupSchedule', 'backup', config.backups.schedule, 'database backups', dryRun);
    this.schedule('EscalationSweep', 'escalate', config.escalation.sweepSchedule, 'escalation sweep', dryRun);

    new CfnOutput(this, 'WebhookUrl', {
      value: this.api.webhookUrl,
      description: 'Alertmanager webhook_configs url',
    });
    new CfnOutput(this, 'ApiUrl', { value: this.api.stage.url, description: 'Incident API base URL' });
    new CfnOutput(this, 'WebhookSecretArn', {
      value: this.webhookSecret.secretArn,
      description: 'Secrets Manager secret with the webhook/API token ({"token","username"})',
    });
    for (const [name, topic] of Object.entries(this.escalation.topics)) {
      new CfnOutput(this, `EscalationTopicArn${outputIdOf(name)}`, {
        value: topic.topicArn,
        description: `SNS topic '${name}' for pages: subscribe people to it (email, sms, https)`,
      });
    }
    new CfnOutput(this, 'AckSigningSecretName', {
      value: this.ackSigningSecret.secretName,
      description: 'Secrets Manager secret with the HMAC key of the acknowledge links in pages ({"key"})',
    });
    new CfnOutput(this, 'StateTableName', { value: this.state.table.tableName });
    new CfnOutput(this, 'EventBusName', { value: this.dispatch.bus.eventBusName });

    for (const fn of Object.values(this.functions)) acknowledgeTracing(fn);
    if (probeNetwork) acknowledgeVpcAccess(actions.probe);
    acknowledgeRouteAuthentication(this.api.routes);
    for (const queue of Object.values(this.dispatch.deadLetterQueues)) acknowledgeDeadLetterQueue(queue);
  }

  /** The VPC, subnets and security groups from `probes.vpc`, imported without lookups (synth stays offline). */
  private probeNetwork(config: ResponderConfig) {
    const vpc = config.probes.vpc;
    if (!vpc) return undefined;
    return {
      vpc: Vpc.fromVpcAttributes(this, 'ProbeVpc', {
        vpcId: vpc.vpcId,
        availabilityZones: vpc.availabilityZones,
        privateSubnetIds: vpc.privateSubnetIds,
      }),
      subnets: vpc.privateSubnetIds.map((id) => Subnet.fromSubnetId(this, `ProbeSubnet-${id}`, id)),
      securityGroups: vpc.securityGroupIds.map((id) =>
        SecurityGroup.fromSecurityGroupId(this, `ProbeSg-${id}`, id),
      ),
    };
  }

  private webhookCredential(config: ResponderConfig): ISecret {
    const ref = config.webhook.credentialSecret;
    if (ref) return importSecret(this, 'WebhookCredential', ref);
    const secret = new Secret(this, 'WebhookCredential', {
      description: `Responder (${config.service}) webhook and API credential: {"token","username"}`,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username: config.webhook.basicAuthUsername }),
        generateStringKey: 'token',
        passwordLength: 48,
        excludePunctuation: true,
      },
    });
    acknowledgeGeneratedSecret(
      secret,
      'The webhook token is shared with Alertmanager, whose config must change in step; the operator rotates it deliberately (new secret version, then the Alertmanager config), not on a blind schedule.',
    );
    return secret;
  }

  /** The ack-link HMAC key: the secret the config names, else a generated `{"key"}` of 64 characters. */
  private ackSigningKey(config: ResponderConfig): ISecret {
    const ref = config.escalation.ackSigningSecret;
    if (ref) return importSecret(this, 'AckSigningKey', ref);
    const secret = new Secret(this, 'AckSigningKey', {
      description: `Responder (${config.service}) HMAC key of the acknowledge links in pages: {"key"}`,
      generateSecretString: {
        secretStringTemplate: '{}',
        generateStringKey: 'key',
        passwordLength: 64,
        excludePunctuation: true,
      },
    });
    acknowledgeGeneratedSecret(
      secret,
      'Rotating the ack-link signing key invalidates every acknowledge link already sent in a page (they stay valid for escalation.ackLinkTtlHours); rotate it by hand, between incidents, when needed.',
    );
    return secret;
  }

  /** An EventBridge Scheduler schedule that puts an "Action Requested" event on the bus. */
  private schedule(id: string, kind: ActionKind, expression: string, what: string, dryRun: boolean) {
    new Schedule(this, id, {
      description: `Responder: ${what}`,
      schedule: ScheduleExpression.expression(expression),
      target: new EventBridgePutEvents(
        {
          eventBus: this.dispatch.bus,
          source: EVENT_SOURCE,
          detailType: ACTION_REQUESTED,
          detail: ScheduleTargetInput.fromObject({
            actionId: `schedule-${kind}-${ContextAttribute.scheduledTime}`,
            kind,
            trigger: 'schedule',
            requestedAt: ContextAttribute.scheduledTime,
            dryRun,
            params: { scheduled: true },
          }),
        },
        { role: this.schedulesRole },
      ),
    });
  }
}
