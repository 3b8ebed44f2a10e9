import { Duration } from 'aws-cdk-lib';
import type { Schedule } from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import type { ResponderConfig } from '../../src/config/schema.ts';
import { grantSecretValue } from '../grants.ts';
import { acknowledgeTracing, acknowledgeVpcAccess } from '../nag.ts';
import { importSecret } from '../secrets.ts';
import type { ActionDispatch } from './action-dispatch.ts';
import { type ActionScheduleOptions, actionSchedule } from './action-schedule.ts';
import { importedNetwork, ResponderFunction, reservedConcurrencyOf } from './responder-function.ts';
import type { StateTable } from './state-table.ts';

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

export interface HealthProbesProps {
  /** The validated config: `probes` (targets, VPC), `safety.dryRun`, the Lambda settings. */
  readonly config: ResponderConfig;
  /** Where target health, incidents, claims and the audit trail live. */
  readonly state: StateTable;
  /** The bus that brings probe requests and takes the escalations an unhealthy target requests. */
  readonly dispatch: ActionDispatch;
  /** Runs the probes on `probes.schedule` as this role. */
  readonly schedule: Pick<ActionScheduleOptions, 'role'>;
}

/**
 * Health probes: the probe function (in `probes.vpc`'s private subnets when the config names one),
 * the schedule that runs it, read access to exactly the secrets its targets name, and the right to
 * request escalations on the bus when a target turns unhealthy.
 */
export class HealthProbes extends Construct {
  /** The probe function. Its id is `Default`, so its resources keep the logical ids of this construct's id. */
  public readonly handler: ResponderFunction;
  public readonly schedule: Schedule;

  constructor(scope: Construct, id: string, props: HealthProbesProps) {
    super(scope, id);
    const { config, state, dispatch } = props;
    const network = importedNetwork(this, config.probes.vpc);
    this.handler = new ResponderFunction(this, 'Default', {
      name: 'probe',
      config,
      description: 'Responder: health probes',
      timeout: Duration.minutes(2),
      environment: { STATE_TABLE_NAME: state.table.tableName, EVENT_BUS_NAME: dispatch.bus.eventBusName },
      network,
      reservedConcurrentExecutions: reservedConcurrencyOf(config, 'probe'),
    });
    const fn = this.handler.function;
    dispatch.addTarget('probe', fn);
    // The probe function requests escalations when a target turns unhealthy.
    dispatch.grantActionRequestsTo(fn);
    probeSecretIds(config).forEach((secretId, index) => {
      grantSecretValue(importSecret(this, `Secret${index}`, secretId), fn);
    });
    state.grantActionIdempotency(fn);
    state.grantAudit(fn, 'append');
    state.grantTargetHealth(fn, 'record');
    state.grantIncidents(fn, 'record');
    // Backup freshness targets find the newest verified backup of their database.
    if (config.probes.targets.some((target) => target.kind === 'backup'))
      state.grantBackupCatalog(fn, 'latest');

    this.schedule = actionSchedule(this, 'Schedule', {
      dispatch,
      kind: 'probe',
      expression: config.probes.schedule,
      role: props.schedule.role,
      what: 'health probes',
      dryRun: config.safety.dryRun,
    });

    acknowledgeTracing(this.handler);
    if (network) acknowledgeVpcAccess(this.handler);
  }
}
