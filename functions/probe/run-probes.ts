import type { ActionEnvironment } from '../../src/actions/environment.ts';
import type { ActionOutcome, PerformAction } from '../../src/actions/run-action.ts';
import type { ProbeTarget } from '../../src/config/probe-targets.ts';
import type { ResponderConfig } from '../../src/config/schema.ts';
import type { ActionRequest } from '../../src/domain/actions.ts';
import {
  type HealthTransition,
  nextHealth,
  type ProbeResult,
  type TargetHealth,
} from '../../src/domain/probes.ts';
import {
  type IncidentSource,
  type RaiseDeps,
  raiseIncident,
  resolveIncident,
} from '../../src/incidents/raise-incident.ts';
import { CONFLICT, retryOnConflict } from '../../src/state/retry-on-conflict.ts';
import { probeAll } from './probe-targets.ts';

/** The action environment but the escalator: probes only ask for escalations, over the bus. */
export type ProbeActionDeps = Omit<ActionEnvironment, 'escalator'>;

export interface ProbedTarget extends ProbeResult {
  readonly healthy: boolean;
  readonly consecutiveFailures: number;
  readonly transition?: HealthTransition;
  readonly incidentId?: string;
}

export interface ProbeReport {
  readonly results: ProbedTarget[];
  readonly unknownTargets: string[];
  readonly dryRun: boolean;
}

/** Concurrent runs (a schedule and an operator) retry their health write a few times. */
const MAX_HEALTH_WRITES = 5;

function requestedTargets(request: ActionRequest, config: ResponderConfig) {
  const names = request.params.targets;
  if (names === undefined) return { targets: config.probes.targets, unknown: [] };
  const wanted = Array.isArray(names) ? names.filter((name): name is string => typeof name === 'string') : [];
  const known = new Map(config.probes.targets.map((target) => [target.name, target]));
  return {
    targets: wanted.flatMap((name) => known.get(name) ?? []),
    unknown: wanted.filter((name) => !known.has(name)),
  };
}

/**
 * The target's trouble as an incident source. The escalation's id names the transition, so a retried
 * run asks once per transition (start paging, or end with a resolved notice).
 */
function sourceOf(target: ProbeTarget, result: ProbeResult, health: TargetHealth): IncidentSource {
  const state = health.healthy ? 'healthy' : 'unhealthy';
  return {
    groupKey: `probe:${target.name}`,
    severity: target.severity,
    title: `${target.name} (${target.kind}) is unhealthy: ${result.detail}`,
    labels: { alertname: 'ProbeFailed', target: target.name, kind: target.kind, ...target.labels },
    summary: result.detail,
    fingerprint: `probe-${target.name}`,
    at: result.at,
    startsAt: health.failingSince ?? result.at,
    receiver: 'responder-probes',
    resolvedBecause: `${target.name} recovered after ${target.recoveryThreshold} consecutive successful probes`,
    auditData: { target: target.name, result },
    actor: 'probe-function',
    escalation: {
      actionId: `probe-${target.name}-${state}-${health.lastTransitionAt ?? result.at}-escalate`,
      trigger: 'probe',
      params: { target: target.name },
    },
  };
}

/**
 * Folds a result into the target's health. The conditional health write decides which run owns a
 * transition, so two runs at once open one incident and request one page. A target left unhealthy
 * without an incident (a crash between the writes) gets its incident on the next run.
 */
async function recordHealth(
  target: ProbeTarget,
  result: ProbeResult,
  deps: ProbeActionDeps,
): Promise<ProbedTarget> {
  const raising: RaiseDeps = {
    config: deps.config,
    incidents: deps.incidents,
    audit: deps.audit,
    clock: deps.clock,
    dispatcher: deps.dispatcher,
  };
  return retryOnConflict<ProbedTarget>(
    async () => {
      const previous = await deps.targetHealth.getTargetHealth(target.name);
      const { health, transition } = nextHealth(previous, result, target);
      if (!(await deps.targetHealth.saveTargetHealth(health, previous?.version ?? 0))) return CONFLICT;
      let saved = health;
      if (health.healthy && health.incidentId) {
        // Recovered: resolve the incident, then forget it. A failure in between retries on the next run.
        // The escalation ends and the tiers paged hear of it; the request is idempotent per recovery.
        await resolveIncident(sourceOf(target, result, health), raising, { incidentId: health.incidentId });
        saved = { ...health, incidentId: undefined, version: health.version + 1 };
        await deps.targetHealth.saveTargetHealth(saved, health.version);
      }
      if (!health.healthy && !health.incidentId) {
        // Page first, then remember the incident: a failure in between leaves the target without an
        // incident id, so the next run asks again (the escalation pages a tier once however often).
        const incident = await raiseIncident(sourceOf(target, result, health), raising);
        if (incident) {
          saved = { ...health, incidentId: incident.id, version: health.version + 1 };
          // Losing this write to a newer run is fine: that run sees the incident through the group pointer.
          await deps.targetHealth.saveTargetHealth(saved, health.version);
        }
      }
      return {
        ...result,
        healthy: saved.healthy,
        consecutiveFailures: saved.consecutiveFailures,
        transition,
        incidentId: saved.incidentId ?? (transition === 'healthy' ? previous?.incidentId : undefined),
      };
    },
    {
      attempts: MAX_HEALTH_WRITES,
      exhausted: () => {
        throw new Error(`health of ${target.name} kept changing under this run; the next run records it`);
      },
    },
  );
}

/** Probes the requested targets (all by default), records health, opens/resolves incidents, attaches results. */
export async function runProbeRequest(request: ActionRequest, deps: ProbeActionDeps): Promise<ProbeReport> {
  const { targets, unknown } = requestedTargets(request, deps.config);
  const results = await probeAll(targets, {
    secrets: deps.secrets,
    clock: deps.clock,
    backups: deps.backupCatalog,
    concurrency: deps.config.probes.concurrency,
  });
  deps.metrics.publish(results);
  if (request.incidentId) {
    for (const result of results) {
      await deps.audit.appendAudit(
        {
          at: result.at,
          incidentId: request.incidentId,
          type: 'probe.result',
          actor: 'probe-function',
          message: `${result.target} (${result.kind}) ${result.ok ? 'ok' : 'FAILING'}: ${result.detail}`,
          data: { ...result },
        },
        deps.config.auditRetentionDays,
      );
    }
  }
  const byName = new Map(targets.map((target) => [target.name, target]));
  const probed: ProbedTarget[] = [];
  for (const result of results) {
    const target = byName.get(result.target);
    if (!target) continue;
    if (request.dryRun) {
      // A dry run observes and reports; it changes no health, incident or page.
      const health = await deps.targetHealth.getTargetHealth(target.name);
      probed.push({
        ...result,
        healthy: health?.healthy ?? true,
        consecutiveFailures: health?.consecutiveFailures ?? 0,
      });
    } else {
      probed.push(await recordHealth(target, result, deps));
    }
  }
  return { results: probed, unknownTargets: unknown, dryRun: request.dryRun };
}

export function createProbeAction(deps: ProbeActionDeps): PerformAction {
  return async (request): Promise<ActionOutcome> => {
    const report = await runProbeRequest(request, deps);
    const failing = report.results.filter((r) => !r.ok).map((r) => r.target);
    const changes = report.results
      .filter((r) => r.transition)
      .map((r) => `${r.target} turned ${r.transition}${r.incidentId ? ` (incident ${r.incidentId})` : ''}`);
    const unknown = report.unknownTargets.length
      ? `; unknown targets: ${report.unknownTargets.join(', ')}`
      : '';
    return {
      status: 'completed',
      summary: `probed ${report.results.length}${request.dryRun ? ' (dry run)' : ''}: ${report.results.length - failing.length} ok, ${failing.length} failing${failing.length ? ` (${failing.join(', ')})` : ''}${changes.length ? `; ${changes.join('; ')}` : ''}${unknown}`,
      data: { failing, transitions: changes, unknownTargets: report.unknownTargets },
      result: report,
    };
  };
}
