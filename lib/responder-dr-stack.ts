import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { ResponderConfig } from '../src/config/schema.ts';
import { ResponderFunction } from './constructs/responder-function.ts';
import { StateTable } from './constructs/state-table.ts';
import { acknowledgeTracing } from './nag.ts';
import { reservedConcurrencyOf } from './responder-stack.ts';

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
  public readonly failover: ResponderFunction;

  constructor(scope: Construct, id: string, props: ResponderDrStackProps) {
    super(scope, id, props);
    this.state = new StateTable(this, 'State');
    this.failover = new ResponderFunction(this, 'FailoverAction', {
      name: 'failover',
      config: props.config,
      description: 'Responder (DR region): DNS failover to the DR site and back',
      timeout: Duration.minutes(10),
      environment: { STATE_TABLE_NAME: this.state.table.tableName },
      reservedConcurrentExecutions: reservedConcurrencyOf(props.config, 'failover'),
    });
    // As the primary region's failover function: its claims, the audit trail and the kill switch.
    this.state.grantActionClaims(this.failover.function);
    this.state.grantAudit(this.failover.function, 'append');
    this.state.grantAutomationFlag(this.failover.function, 'read');
    acknowledgeTracing(this.failover);

    new CfnOutput(this, 'FailoverFunctionName', {
      value: this.failover.function.functionName,
      description: 'Invoke with a payload from events/ to fail over while the primary region is down',
    });
    new CfnOutput(this, 'StateTableName', { value: this.state.table.tableName });
  }
}
