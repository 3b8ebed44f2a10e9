/** The kinds of health probe; the config's target schema has one variant per kind. */
export const PROBE_KINDS = ['http', 'https', 'tcp', 'postgres', 'redis', 'tls', 'dns', 'backup'] as const;
export type ProbeKind = (typeof PROBE_KINDS)[number];

/** The thresholds of a target that count its results into health. */
export interface HealthThresholds {
  readonly failureThreshold: number;
  readonly recoveryThreshold: number;
}

export type Observed = Record<string, number | string | boolean | null>;

/** What one probe of one target found. */
export interface ProbeResult {
  readonly target: string;
  readonly kind: ProbeKind;
  readonly ok: boolean;
  readonly latencyMs: number;
  /** One line an operator can act on: what was checked and what was wrong. */
  readonly detail: string;
  /** Measured values (status code, connections, days to expiry...), also published as metrics. */
  readonly observed: Observed;
  readonly at: string;
}

/** A target's standing across runs: only a run of failures makes it unhealthy, only a run of successes heals it. */
export interface TargetHealth {
  readonly target: string;
  readonly healthy: boolean;
  readonly consecutiveFailures: number;
  readonly consecutiveSuccesses: number;
  readonly lastResult: ProbeResult;
  readonly lastTransitionAt?: string;
  /** When the current run of failures began. */
  readonly failingSince?: string;
  /** The incident opened when the target turned unhealthy. */
  readonly incidentId?: string;
  /** Optimistic-concurrency counter; 0 for a target never recorded. */
  readonly version: number;
}

export type HealthTransition = 'unhealthy' | 'healthy' | undefined;

/**
 * Folds one result into a target's health. Unhealthy after `failureThreshold` consecutive failures,
 * healthy again after `recoveryThreshold` consecutive successes, as Route 53 health checks count.
 */
export function nextHealth(
  previous: TargetHealth | undefined,
  result: ProbeResult,
  target: HealthThresholds,
): { health: TargetHealth; transition: HealthTransition } {
  const wasHealthy = previous?.healthy ?? true;
  const failures = result.ok ? 0 : (previous?.consecutiveFailures ?? 0) + 1;
  const successes = result.ok ? (previous?.consecutiveSuccesses ?? 0) + 1 : 0;
  let transition: HealthTransition;
  if (wasHealthy && failures >= target.failureThreshold) transition = 'unhealthy';
  if (!wasHealthy && successes >= target.recoveryThreshold) transition = 'healthy';
  const healthy = transition ? transition === 'healthy' : wasHealthy;
  return {
    transition,
    health: {
      target: result.target,
      healthy,
      consecutiveFailures: failures,
      consecutiveSuccesses: successes,
      lastResult: result,
      lastTransitionAt: transition ? result.at : previous?.lastTransitionAt,
      failingSince: result.ok ? undefined : (previous?.failingSince ?? result.at),
      // Kept through recovery until the run that resolves the incident clears it.
      incidentId: previous?.incidentId,
      version: (previous?.version ?? 0) + 1,
    },
  };
}

/** `host`, `host:port`, `v6`, `[v6]` or `[v6]:port` → its host and port (53 when not given). */
export function parseDnsServer(value: string): { host: string; port: number } | undefined {
  const match =
    /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(value) ??
    /^([0-9a-fA-F]*:[0-9a-fA-F:.]*:[0-9a-fA-F:.]*)()$/.exec(value) ??
    /^([a-zA-Z0-9._-]+)(?::(\d{1,5}))?$/.exec(value);
  if (!match?.[1]) return undefined;
  const port = match[2] ? Number(match[2]) : 53;
  if (port < 1 || port > 65535) return undefined;
  return { host: match[1], port };
}
