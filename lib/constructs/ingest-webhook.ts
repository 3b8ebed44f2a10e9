import { Duration } from 'aws-cdk-lib';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { ResponderConfig } from '../../src/config/schema.ts';
import { grantSecretValue } from '../grants.ts';
import { acknowledgeTracing } from '../nag.ts';
import type { ActionDispatch } from './action-dispatch.ts';
import { ResponderFunction, reservedConcurrencyOf } from './responder-function.ts';
import type { StateTable } from './state-table.ts';

export interface IngestWebhookProps {
  /** The validated config: the Lambda settings and what ingest bakes into its bundle. */
  readonly config: ResponderConfig;
  /** Where deliveries are claimed, incidents recorded, floods counted and the kill switch read. */
  readonly state: StateTable;
  /** The bus ingest puts the action requests of new incidents on. */
  readonly dispatch: ActionDispatch;
  /** The webhook credential (`{"token","username"}`) every delivery is checked against. */
  readonly webhookSecret: ISecret;
}

/**
 * The Alertmanager webhook's ingest function: it checks the credential, claims each delivery once,
 * records incidents within the flood limits and requests their actions on the bus. The HTTP API in
 * front of it is shared with the incident API (`WebhookApi`).
 */
export class IngestWebhook extends Construct {
  /** The ingest function. Its id is `Default`, so its resources keep the logical ids of this construct's id. */
  public readonly handler: ResponderFunction;

  constructor(scope: Construct, id: string, props: IngestWebhookProps) {
    super(scope, id);
    const { config, state, dispatch } = props;
    this.handler = new ResponderFunction(this, 'Default', {
      name: 'ingest',
      reservedConcurrentExecutions: reservedConcurrencyOf(config, 'ingest'),
      config,
      description: 'Responder: Alertmanager webhook ingest',
      timeout: Duration.seconds(15),
      environment: {
        STATE_TABLE_NAME: state.table.tableName,
        WEBHOOK_SECRET_ARN: props.webhookSecret.secretArn,
        EVENT_BUS_NAME: dispatch.bus.eventBusName,
      },
    });
    // Least privilege: exactly the table operations, item kinds and secrets ingest uses
    // (test/iam-grants.test.ts checks both ways against the calls its bundle makes).
    const fn = this.handler.function;
    state.grantDeliveryClaims(fn);
    // Ingest counts new incidents against the flood limits.
    state.grantFloodLimits(fn);
    state.grantIncidents(fn, 'record');
    state.grantAudit(fn, 'append');
    state.grantAutomationFlag(fn, 'read');
    dispatch.grantActionRequestsTo(fn);
    grantSecretValue(props.webhookSecret, fn);

    acknowledgeTracing(this.handler);
  }
}
