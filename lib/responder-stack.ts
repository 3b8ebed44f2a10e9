import { CfnOutput, type CfnResource, Stack, type StackProps } from 'aws-cdk-lib';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Schedule } from 'aws-cdk-lib/aws-scheduler';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { ActionKind, ResponderConfig } from '../src/config/schema.ts';
import { ActionDispatch } from './constructs/action-dispatch.ts';
import { DatabaseBackups } from './constructs/database-backups.ts';
import { EscalationTopics } from './constructs/escalation-topics.ts';
import { HealthProbes } from './constructs/health-probes.ts';
import { IncidentApi } from './constructs/incident-api.ts';
import { IngestWebhook } from './constructs/ingest-webhook.ts';
import { Paging } from './constructs/paging.ts';
import { RemediationAction } from './constructs/remediation-action.ts';
import { type ResponderFunction, retentionFor } from './constructs/responder-function.ts';
import { SecretRotation } from './constructs/secret-rotation.ts';
import { StateTable } from './constructs/state-table.ts';
import { WebhookApi } from './constructs/webhook-api.ts';
import { eventBusArn, failoverNames, roleArn } from './failover-names.ts';
import { acknowledgeDeadLetterQueue, acknowledgeRouteAuthentication } from './nag.ts';
import { importSecret } from './secrets.ts';

export interface ResponderStackProps extends StackProps {
  readonly config: ResponderConfig;
  /** Written into the incident API's /healthz answer. */
  readonly version: string;
}

/**
 * The primary-region stack, composed of one construct per capability (ingest, the incident API,
 * probes, paging, database backups, secret rotation and the failover action), each with its function, schedule,
 * grants, nag acknowledgements and outputs, over what they share: the state table, the action bus,
 * the HTTP API, the webhook credential, the paging topics and ack-link key, and the schedules role.
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
  /** The role EventBridge Scheduler uses to put the scheduled action requests on the bus. */
  public readonly schedulesRole: Role;
  public readonly ingest: IngestWebhook;
  public readonly incidentApi: IncidentApi;
  public readonly probes: HealthProbes;
  public readonly paging: Paging;
  /** Database backups: the bucket, the pg_dump image, its function, schedules and Fargate runner. */
  public readonly backups: DatabaseBackups;
  /** Secret rotation: the rotate function, a rotation schedule per configured secret and Responder's own. */
  public readonly rotation: SecretRotation;
  /**
   * The primary region's failover action: only without `failover` in the config (it then records
   * requests); with it, failover runs in the DR stack and `failoverForwarder` forwards requests there.
   */
  public readonly remediation: Readonly<{ failover?: RemediationAction }>;
  /** With `failover`: the role of the primary bus's rule that forwards failover requests to the DR bus. */
  public readonly failoverForwarder?: Role;
  public readonly functions: Record<'ingest' | 'api' | Exclude<ActionKind, 'failover'>, ResponderFunction> & {
    readonly failover?: ResponderFunction;
  };

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
    const names = failoverNames(config.service);
    // Named with failover, so the DR failover function can page through it by ARN.
    this.dispatch = new ActionDispatch(this, 'Dispatch', {
      busName: config.failover ? names.primaryBus : undefined,
    });
    // One role for every schedule, so the bus policy can name it.
    this.schedulesRole = new Role(this, 'SchedulesRole', {
      description: 'Responder: EventBridge Scheduler puts scheduled action requests on the bus',
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    });
    const { state, dispatch } = this;
    const schedule = { role: this.schedulesRole };

    // The capabilities. Each construct's function has the id `Default`, so the functions, roles and
    // log groups keep the logical ids they had when this stack built them inline.
    this.probes = new HealthProbes(this, 'ProbeAction', { config, state, dispatch, schedule });
    this.ingest = new IngestWebhook(this, 'Ingest', {
      config,
      state,
      dispatch,
      webhookSecret: this.webhookSecret,
    });
    this.backups = new DatabaseBackups(this, 'BackupAction', { config, state, dispatch, schedule });
    // The webhook credential and the ack-link key rotate with the others when the stack created them.
    this.rotation = new SecretRotation(this, 'RotateAction', {
      config,
      state,
      dispatch,
      ownSecrets: {
        webhookCredential: config.webhook.credentialSecret ? undefined : this.webhookSecret,
        ackSigningKey: config.escalation.ackSigningSecret ? undefined : this.ackSigningSecret,
      },
    });
    if (config.failover) {
      // Failover runs in the DR region (ResponderDrStack): its requests cross to the DR bus, whose ARN
      // and the DR failover role's are built from their names (no reference to the DR stack).
      this.failoverForwarder = new Role(this, 'FailoverForwarderRole', {
        roleName: names.forwarderRole,
        description: 'Responder: forwards failover requests from the action bus to the DR region',
        assumedBy: new ServicePrincipal('events.amazonaws.com', {
          conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
        }),
      });
      const drBus = EventBus.fromEventBusArn(
        this,
        'DrFailoverBus',
        eventBusArn(this, config.aws.drRegion, names.drBus),
      );
      dispatch.forward('failover', drBus, this.failoverForwarder);
      dispatch.allowActionRequestsFrom(roleArn(this, names.drFailoverRole));
      this.remediation = {};
    } else {
      this.remediation = {
        failover: new RemediationAction(this, 'FailoverAction', {
          kind: 'failover',
          config,
          state,
          dispatch,
        }),
      };
    }
    this.incidentApi = new IncidentApi(this, 'IncidentApi', {
      config,
      state,
      webhookSecret: this.webhookSecret,
      probeFunction: this.probes.handler.function,
      backupFunction: config.backups.databases.length > 0 ? this.backups.handler.function : undefined,
      rotateFunction: this.rotation.handler.function,
      // Failover requests from the API go straight to the DR region's function, by its name.
      drFailover: config.failover
        ? { region: config.aws.drRegion, functionName: names.drFailoverFunction }
        : undefined,
      version: props.version,
    });
    // `POST /api/rotations` accepts the own secrets too: the API learns their ARNs as the rotate function does.
    for (const [name, value] of Object.entries(this.rotation.ownSecretEnvironment)) {
      this.incidentApi.handler.function.addEnvironment(name, value);
    }
    this.api = new WebhookApi(this, 'WebhookApi', {
      ingest: this.ingest.handler.function,
      api: this.incidentApi.handler.function,
      rateLimit: config.api.throttle.rateLimit,
      burstLimit: config.api.throttle.burstLimit,
      webhookThrottle: config.api.webhookThrottle,
      accessLogRetention: retentionFor(config.logRetentionDays),
    });
    // Paging: the escalate function pages and sweeps; the API acknowledges (and pages the tiers it tells).
    this.paging = new Paging(this, 'EscalateAction', {
      config,
      state,
      dispatch,
      schedule,
      topics: this.escalation,
      ackSigningSecret: this.ackSigningSecret,
      // The HTTP API's own endpoint (no trailing slash) unless the config names a custom domain.
      publicUrl: config.api.publicUrl ?? this.api.httpApi.apiEndpoint,
      // The DR failover function's pages carry their incidents (they live in the DR region's table).
      recordsCarriedIncidents: config.failover !== undefined,
    });
    this.paging.addPager(this.incidentApi.handler);
    // After the probe and ingest roles: the bus policy lists its exceptions in the order they are granted.
    dispatch.grantActionRequests(this.schedulesRole);

    this.functions = {
      ingest: this.ingest.handler,
      api: this.incidentApi.handler,
      probe: this.probes.handler,
      backup: this.backups.handler,
      rotate: this.rotation.handler,
      failover: this.remediation.failover?.handler,
      escalate: this.paging.handler,
    };

    // The schedules' logical ids from before the capability constructs, so a deploy updates them in place.
    keepLogicalId(this.probes.schedule, 'ProbeScheduleC3BDD144');
    keepLogicalId(this.paging.sweep, 'EscalationSweep4F59B4A5');

    // Outputs of what the capabilities share; each capability outputs its own.
    new CfnOutput(this, 'WebhookUrl', {
      value: this.api.webhookUrl,
      description: 'Alertmanager webhook_configs url',
    });
    new CfnOutput(this, 'ApiUrl', { value: this.api.stage.url, description: 'Incident API base URL' });
    new CfnOutput(this, 'WebhookSecretArn', {
      value: this.webhookSecret.secretArn,
      description: 'Secrets Manager secret with the webhook/API token ({"token","username"})',
    });
    new CfnOutput(this, 'StateTableName', { value: this.state.table.tableName });
    new CfnOutput(this, 'EventBusName', { value: this.dispatch.bus.eventBusName });

    acknowledgeRouteAuthentication(this.api.routes);
    for (const queue of Object.values(this.dispatch.deadLetterQueues)) acknowledgeDeadLetterQueue(queue);
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
    // Rotated on secrets.own by the rotate function (SecretRotation); ingest and the API accept
    // AWSPREVIOUS for secrets.own.graceMinutes, so Alertmanager's credentials_file can follow.
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
    // Rotated on secrets.own by the rotate function (SecretRotation); links signed with the key before
    // (AWSPREVIOUS) keep working during the grace period.
    return secret;
  }
}

function keepLogicalId(schedule: Schedule, logicalId: string) {
  (schedule.node.defaultChild as CfnResource).overrideLogicalId(logicalId);
}
