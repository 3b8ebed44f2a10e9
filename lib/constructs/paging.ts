import type { CfnOutput } from 'aws-cdk-lib';
import { Duration, Stack, Token } from 'aws-cdk-lib';
import type { Schedule } from 'aws-cdk-lib/aws-scheduler';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { ResponderConfig } from '../../src/config/schema.ts';
import { grantSecretValue } from '../grants.ts';
import { acknowledgePagingKeyAccess, acknowledgeTracing } from '../nag.ts';
import type { ActionDispatch } from './action-dispatch.ts';
import { type ActionScheduleOptions, actionSchedule } from './action-schedule.ts';
import type { EscalationTopics } from './escalation-topics.ts';
import { ResponderFunction, reservedConcurrencyOf } from './responder-function.ts';
import { stackOutput } from './stack-output.ts';
import type { StateTable } from './state-table.ts';

export interface PagingProps {
  /** The validated config: `escalation.sweepSchedule`, `safety.dryRun`, the Lambda settings. */
  readonly config: ResponderConfig;
  /** Incidents, escalations (and their due index), flood limits, claims and the audit trail. */
  readonly state: StateTable;
  /** The bus that brings escalation requests and the sweeps. */
  readonly dispatch: ActionDispatch;
  /** The topics pages are published to. */
  readonly topics: EscalationTopics;
  /** The HMAC key (`{"key"}`) of the signed acknowledge links in pages. */
  readonly ackSigningSecret: ISecret;
  /** The base URL of the acknowledge links: the HTTP API's endpoint or a custom domain (`api.publicUrl`). */
  readonly publicUrl: string;
  /** Sweeps for due escalations on `escalation.sweepSchedule` as this role. */
  readonly schedule: Pick<ActionScheduleOptions, 'role'>;
  /**
   * Escalate requests may carry their incident, which the escalate function records in this table
   * before it pages: those of the DR failover function (approvals, failed failovers), whose incidents
   * live in the DR region's table. Set it when `failover` is configured.
   * @default false - the escalate function only reads incidents
   */
  readonly recordsCarriedIncidents?: boolean;
}

/**
 * Paging and escalation: the escalate function that pages each tier and the sweep schedule that finds
 * the due ones, the paging topics' and ack key's outputs, and `addPager` for another function that
 * pages (the incident API, which acknowledges and tells the tiers).
 */
export class Paging extends Construct {
  /** The escalate function. Its id is `Default`, so its resources keep the logical ids of this construct's id. */
  public readonly handler: ResponderFunction;
  public readonly sweep: Schedule;
  /** `EscalationTopicArn<Name>` per topic and `AckSigningSecretName`. */
  public readonly outputs: readonly CfnOutput[];
  private readonly props: PagingProps;

  constructor(scope: Construct, id: string, props: PagingProps) {
    super(scope, id);
    if (!Token.isUnresolved(props.publicUrl) && !/^https?:\/\/[^/]/.test(props.publicUrl)) {
      throw new Error(
        `Paging publicUrl '${props.publicUrl}' is not an http(s) URL: the acknowledge links in pages are built on it; set api.publicUrl to e.g. https://responder.example.com`,
      );
    }
    this.props = props;
    const { config, state, dispatch } = props;
    this.handler = new ResponderFunction(this, 'Default', {
      name: 'escalate',
      config,
      description: 'Responder: paging and escalation',
      timeout: Duration.minutes(1),
      environment: { STATE_TABLE_NAME: state.table.tableName },
      reservedConcurrentExecutions: reservedConcurrencyOf(config, 'escalate'),
    });
    const fn = this.handler.function;
    dispatch.addTarget('escalate', fn);
    // The escalate function counts pages against the flood limits.
    state.grantFloodLimits(fn);
    state.grantActionIdempotency(fn);
    state.grantAudit(fn, 'append');
    state.grantIncidents(fn, props.recordsCarriedIncidents ? 'record' : 'read');
    // The sweep finds due escalations in the index; without it, tiers after the first are never paged.
    state.grantEscalations(fn, { sweep: true });
    this.addPager(this.handler);

    this.sweep = actionSchedule(this, 'Sweep', {
      dispatch,
      kind: 'escalate',
      expression: config.escalation.sweepSchedule,
      role: props.schedule.role,
      what: 'escalation sweep',
      dryRun: config.safety.dryRun,
    });

    this.outputs = [
      ...Object.entries(props.topics.topics).map(([name, topic]) =>
        stackOutput(this, `EscalationTopicArn${outputIdOf(name)}`, {
          value: topic.topicArn,
          description: `SNS topic '${name}' for pages: subscribe people to it (email, sms, https)`,
        }),
      ),
      stackOutput(this, 'AckSigningSecretName', {
        value: props.ackSigningSecret.secretName,
        description: 'Secrets Manager secret with the HMAC key of the acknowledge links in pages ({"key"})',
      }),
    ];
    acknowledgeTracing(this.handler);
  }

  /**
   * Lets a function page: the topics, the ack-link key and the public URL in its environment,
   * `sns:Publish` on the topics (and their key), and reading the ack-link key.
   */
  addPager(pager: ResponderFunction): void {
    const fn = pager.function;
    fn.addEnvironment('ESCALATION_TOPICS', Stack.of(this).toJsonString(this.props.topics.topicArns));
    fn.addEnvironment('ACK_SECRET_ARN', this.props.ackSigningSecret.secretArn);
    fn.addEnvironment('PUBLIC_URL', this.props.publicUrl);
    this.props.topics.grantPublish(fn);
    grantSecretValue(this.props.ackSigningSecret, fn);
    acknowledgePagingKeyAccess(pager);
  }
}

/** `on-call` → `OnCall`: output ids are alphanumeric. */
function outputIdOf(name: string): string {
  return name
    .split('-')
    .map((part) => `${part[0]?.toUpperCase() ?? ''}${part.slice(1)}`)
    .join('');
}
