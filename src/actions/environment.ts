import type { ResponderConfig } from '../config/schema.ts';
import type { Escalator } from '../escalation/escalator.ts';
import type {
  ActionDispatcher,
  ActionIdempotency,
  AuditTrail,
  AutomationSwitch,
  BackupCatalog,
  Clock,
  IncidentStore,
  Log,
  ProbeMetrics,
  SecretStore,
  TargetHealthStore,
} from '../ports.ts';
import type { PerformAction } from './run-action.ts';

/** What a capability may use, built once per container (Lambda) or once per process (local runtime). */
export interface ActionEnvironment {
  readonly config: ResponderConfig;
  readonly incidents: IncidentStore;
  readonly audit: AuditTrail;
  readonly automation: AutomationSwitch;
  /** Probe targets' health: the probe capability's. */
  readonly targetHealth: TargetHealthStore;
  /** Action requests' idempotency records (`runActionRequest`), over the same table. */
  readonly idempotency: ActionIdempotency;
  readonly secrets: SecretStore;
  readonly dispatcher: ActionDispatcher;
  readonly clock: Clock;
  readonly log: Log;
  readonly metrics: ProbeMetrics;
  /**
   * Pages, sweeps and acknowledgements, over the environment's store and pager. Only where something
   * pages (the escalate function, the local runtime): the other functions build no SNS client.
   */
  readonly escalator?: Escalator;
  /** The backup catalog, read by backup freshness probes; only where the probe function is. */
  readonly backupCatalog?: BackupCatalog;
}

/** Builds one capability's body from the environment, once per container. */
export type CapabilityFactory = (env: ActionEnvironment) => PerformAction;
