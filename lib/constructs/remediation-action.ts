import type { CfnOutput } from 'aws-cdk-lib';
import { Duration } from 'aws-cdk-lib';
import type { Schedule } from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { REMEDIATION_KINDS, type ResponderConfig } from '../../src/config/schema.ts';
import { acknowledgeTracing, acknowledgeVpcAccess } from '../nag.ts';
import type { ActionDispatch } from './action-dispatch.ts';
import { type ActionScheduleOptions, actionSchedule } from './action-schedule.ts';
import {
  ResponderFunction,
  type ResponderFunctionProps,
  reservedConcurrencyOf,
} from './responder-function.ts';
import { stackOutput } from './stack-output.ts';
import type { StateTable } from './state-table.ts';

/** The actions that change infrastructure, and so obey the automation kill switch. */
export type RemediationKind = 'backup' | 'rotate' | 'failover';

const DEFAULTS: Record<RemediationKind, { description: string; timeout: Duration; what: string }> = {
  backup: {
    description: 'Responder: database backups to S3',
    timeout: Duration.minutes(15),
    what: 'database backups',
  },
  rotate: {
    description: 'Responder: secret rotation',
    timeout: Duration.minutes(5),
    what: 'secret rotation',
  },
  failover: {
    description: 'Responder: DNS failover to the DR site',
    // The fence, the promotion, the Route 53 change and the verification must all fit (the config
    // checks their bounds against this), and the failover lock lasts as long.
    timeout: Duration.minutes(15),
    what: 'DNS failover',
  },
};

export interface RemediationActionProps {
  /** Which action: its handler is `functions/<kind>/`. */
  readonly kind: RemediationKind;
  /** The validated config: `safety.dryRun`, the Lambda settings, what the function bakes into its bundle. */
  readonly config: ResponderConfig;
  /** Where the action's claims, the audit trail and the kill switch live. */
  readonly state: StateTable;
  /**
   * The bus whose action requests of this kind the function carries out.
   * @default - none: the function is invoked directly (`aws lambda invoke`), as in the DR region
   */
  readonly dispatch?: ActionDispatch;
  /**
   * Requests the action on a schedule too; needs `dispatch`, the bus the requests are put on.
   * @default - no schedule: the action runs when ingest, the CLI or an operator requests it
   */
  readonly schedule?: ActionScheduleOptions;
  /** @default - `Responder: <what the action does>` */
  readonly description?: string;
  /**
   * Outputs the function's name as `<Kind>FunctionName` with this description, for operators who
   * invoke it by hand.
   * @default - no output
   */
  readonly functionNameOutput?: string;
  /**
   * Runs the function in these subnets, e.g. the DR failover function next to the databases it fences.
   * @default - not in a VPC
   */
  readonly network?: ResponderFunctionProps['network'];
}

/**
 * One remediation action (backup, rotation or failover): its function, with its claims, the audit
 * trail and the kill switch (read); its rule on the bus and its schedule when given.
 */
export class RemediationAction extends Construct {
  /** The action's function. Its id is `Default`, so its resources keep the logical ids of this construct's id. */
  public readonly handler: ResponderFunction;
  /** @default - undefined without `schedule` */
  public readonly schedule?: Schedule;
  /** @default - undefined without `functionNameOutput` */
  public readonly functionNameOutput?: CfnOutput;

  constructor(scope: Construct, id: string, props: RemediationActionProps) {
    super(scope, id);
    const { kind, config, state, dispatch } = props;
    if (!(REMEDIATION_KINDS as readonly string[]).includes(kind)) {
      throw new Error(`RemediationAction kind '${kind}' is not one of ${REMEDIATION_KINDS.join(', ')}`);
    }
    if (props.schedule && !dispatch) {
      throw new Error(
        `RemediationAction '${kind}': a schedule needs dispatch, the bus its requests are put on; pass dispatch or drop the schedule`,
      );
    }
    const defaults = DEFAULTS[kind];
    this.handler = new ResponderFunction(this, 'Default', {
      name: kind,
      config,
      description: props.description ?? defaults.description,
      timeout: defaults.timeout,
      environment: { STATE_TABLE_NAME: state.table.tableName },
      reservedConcurrentExecutions: reservedConcurrencyOf(config, kind),
      network: props.network,
    });
    const fn = this.handler.function;
    dispatch?.addTarget(kind, fn);
    state.grantActionIdempotency(fn);
    state.grantAudit(fn, 'append');
    // Every remediation obeys the automation kill switch.
    state.grantAutomationFlag(fn, 'read');

    if (props.schedule && dispatch) {
      this.schedule = actionSchedule(this, 'Schedule', {
        dispatch,
        kind,
        expression: props.schedule.expression,
        role: props.schedule.role,
        what: defaults.what,
        dryRun: config.safety.dryRun,
      });
    }
    if (props.functionNameOutput !== undefined) {
      this.functionNameOutput = stackOutput(this, `${kind[0]?.toUpperCase()}${kind.slice(1)}FunctionName`, {
        value: fn.functionName,
        description: props.functionNameOutput,
      });
    }
    acknowledgeTracing(this.handler);
    if (props.network) acknowledgeVpcAccess(this.handler, `the ${kind} function`);
  }
}
