import { Duration } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { ResponderConfig } from '../../src/config/schema.ts';
import { functionArn } from '../failover-names.ts';
import { grantSecretValue } from '../grants.ts';
import { acknowledgeTracing } from '../nag.ts';
import { ResponderFunction, reservedConcurrencyOf } from './responder-function.ts';
import type { StateTable } from './state-table.ts';

export interface IncidentApiProps {
  /** The validated config: the Lambda settings and what the API bakes into its bundle. */
  readonly config: ResponderConfig;
  /** Incidents, the audit trail, escalations, target health and the kill switch. */
  readonly state: StateTable;
  /** The credential (`{"token","username"}`) every `/api` request is checked against. */
  readonly webhookSecret: ISecret;
  /** The function `POST /api/probes` invokes, where the probes have network access. */
  readonly probeFunction: IFunction;
  /** Written into the `/healthz` answer. */
  readonly version: string;
  /**
   * The function `POST /api/backups` invokes (a dry run waits for it, a backup does not); with it the
   * API reads the backup catalog too.
   * @default - no backup routes: they answer 503
   */
  readonly backupFunction?: IFunction;
  /**
   * The function `POST /api/rotations` invokes (and waits for: it starts the rotation).
   * @default - no rotation route: it answers 503
   */
  readonly rotateFunction?: IFunction;
  /**
   * The DR region's failover function, which `/api/failover`, its approvals and the approve links
   * invoke in that region. Named, not referenced: the DR stack is another stack in another region
   * (`failoverNames`), and the API may invoke that one function only.
   * @default - no failover here: the failover routes answer 503 with the command that invokes it
   */
  readonly drFailover?: { readonly region: string; readonly functionName: string };
}

/**
 * The incident API's function: incidents and their audit trail, acknowledgements, the automation
 * switch and probe runs on demand. Paging (acknowledging pages, telling the tiers) is added by
 * `Paging.addPager`; the HTTP API in front of it is shared with ingest (`WebhookApi`).
 */
export class IncidentApi extends Construct {
  /** The API function. Its id is `Default`, so its resources keep the logical ids of this construct's id. */
  public readonly handler: ResponderFunction;

  constructor(scope: Construct, id: string, props: IncidentApiProps) {
    super(scope, id);
    if (props.version.trim() === '') {
      throw new Error('IncidentApi needs a version for /healthz: pass the package version, e.g. "0.1.0"');
    }
    const dr = props.drFailover;
    if (
      dr &&
      (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(dr.region) || !/^[A-Za-z0-9_-]{1,64}$/.test(dr.functionName))
    ) {
      throw new Error(
        `IncidentApi drFailover needs a region like eu-central-1 and a function name of 1-64 letters, digits, - or _; got '${dr.region}' and '${dr.functionName}'`,
      );
    }
    const { config, state } = props;
    this.handler = new ResponderFunction(this, 'Default', {
      name: 'api',
      reservedConcurrentExecutions: reservedConcurrencyOf(config, 'api'),
      config,
      description: 'Responder: incident API',
      // API Gateway waits at most 30 s; POST /api/probes waits for the probe function.
      timeout: Duration.seconds(29),
      memorySize: 256,
      environment: {
        STATE_TABLE_NAME: state.table.tableName,
        WEBHOOK_SECRET_ARN: props.webhookSecret.secretArn,
        RESPONDER_VERSION: props.version,
        // POST /api/probes runs the probes where they have network access: in the probe function.
        PROBE_FUNCTION_NAME: props.probeFunction.functionName,
        ...(props.backupFunction ? { BACKUP_FUNCTION_NAME: props.backupFunction.functionName } : {}),
        ...(props.rotateFunction ? { ROTATE_FUNCTION_NAME: props.rotateFunction.functionName } : {}),
        ...(props.drFailover
          ? {
              DR_FAILOVER_REGION: props.drFailover.region,
              DR_FAILOVER_FUNCTION_NAME: props.drFailover.functionName,
            }
          : {}),
      },
    });
    const fn = this.handler.function;
    // The unqualified function only: grantInvoke() would add every version and alias (":*").
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [
          props.probeFunction.functionArn,
          ...(props.backupFunction ? [props.backupFunction.functionArn] : []),
          ...(props.rotateFunction ? [props.rotateFunction.functionArn] : []),
          ...(props.drFailover
            ? [functionArn(this, props.drFailover.region, props.drFailover.functionName)]
            : []),
        ],
      }),
    );
    if (props.backupFunction) state.grantBackupCatalog(fn, 'read');
    // Least privilege: exactly the table operations, item kinds and secrets the API uses
    // (test/iam-grants.test.ts checks both ways against the calls its bundle makes).
    state.grantIncidents(fn, 'read');
    state.grantIncidentList(fn);
    state.grantAudit(fn, 'append');
    state.grantAudit(fn, 'read');
    state.grantEscalations(fn);
    state.grantTargetHealth(fn, 'list');
    state.grantAutomationFlag(fn, 'write');
    grantSecretValue(props.webhookSecret, fn);

    acknowledgeTracing(this.handler);
  }
}
