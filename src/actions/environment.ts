import type { ResponderConfig } from '../config/schema.ts';
import type { Escalator } from '../escalation/escalator.ts';
import type { ActionDispatcher, Clock, Log, ProbeMetrics, SecretStore, StateStore } from '../ports.ts';

/** What a capability may use, built once per container (Lambda) or once per process (local runtime). */
export interface ActionEnvironment {
  readonly config: ResponderConfig;
  readonly store: StateStore;
  readonly secrets: SecretStore;
  readonly dispatcher: ActionDispatcher;
  readonly clock: Clock;
  readonly log: Log;
  readonly metrics: ProbeMetrics;
  /** Pages, sweeps and acknowledgements, over the environment's store and pager. */
  readonly escalator: Escalator;
}
