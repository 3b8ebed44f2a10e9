import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { ResponderConfig } from '../src/config/schema.ts';
import { DnsFailover } from './constructs/dns-failover.ts';
import { RemediationAction } from './constructs/remediation-action.ts';
import { importedNetwork, type ResponderFunction } from './constructs/responder-function.ts';
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
  /**
   * With `failover` in the config: the failover function's grants, the bus that receives failover
   * requests from the primary region, and the switch endpoint, health check and records (`switch`
   * mode) or the Route 53 record grants (`records` mode).
   * @default - undefined without `failover`: the function refuses every request
   */
  public readonly dnsFailover?: DnsFailover;

  constructor(scope: Construct, id: string, props: ResponderDrStackProps) {
    super(scope, id, props);
    this.state = new StateTable(this, 'State');
    this.failoverAction = new RemediationAction(this, 'FailoverAction', {
      kind: 'failover',
      config: props.config,
      state: this.state,
      description: 'Responder (DR region): DNS failover to the DR site and back',
      functionNameOutput: 'Invoke with a payload from events/ to fail over while the primary region is down',
      // Where it reaches the databases it promotes and fences (failover.database.vpc).
      network: importedNetwork(this, props.config.failover?.database?.vpc),
    });
    this.failover = this.failoverAction.handler;
    if (props.config.failover) {
      this.dnsFailover = new DnsFailover(this, 'DnsFailover', {
        config: props.config,
        failover: props.config.failover,
        state: this.state,
        action: this.failoverAction,
      });
    }
    new CfnOutput(this, 'StateTableName', { value: this.state.table.tableName });
  }
}
