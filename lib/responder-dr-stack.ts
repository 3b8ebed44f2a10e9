import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { ResponderConfig } from '../src/config/schema.ts';
import { RemediationAction } from './constructs/remediation-action.ts';
import type { ResponderFunction } from './constructs/responder-function.ts';
import { StateTable } from './constructs/state-table.ts';

export interface ResponderDrStackProps extends StackProps {
  readonly config: ResponderConfig;
}

/**
 * The DR-region stack: what failover needs while the primary region is impaired. The failover function
 * and its own state table live here, so an operator can fail DNS over with `aws lambda invoke` in this
 * region when nothing in the primary region answers.
 */
export class ResponderDrStack extends Stack {
  public readonly state: StateTable;
  /** The same failover action as the primary region's, without a bus: it is invoked directly. */
  public readonly failoverAction: RemediationAction;
  /** The failover function (`failoverAction.handler`). */
  public readonly failover: ResponderFunction;

  constructor(scope: Construct, id: string, props: ResponderDrStackProps) {
    super(scope, id, props);
    this.state = new StateTable(this, 'State');
    this.failoverAction = new RemediationAction(this, 'FailoverAction', {
      kind: 'failover',
      config: props.config,
      state: this.state,
      description: 'Responder (DR region): DNS failover to the DR site and back',
      functionNameOutput: 'Invoke with a payload from events/ to fail over while the primary region is down',
    });
    this.failover = this.failoverAction.handler;
    new CfnOutput(this, 'StateTableName', { value: this.state.table.tableName });
  }
}
