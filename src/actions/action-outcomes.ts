import type { ActionKind, ResponderConfig } from '../config/schema.ts';
import type { ActionOutcome, ActionRequest } from '../domain/actions.ts';
import { type IncidentSource, raiseIncident, resolveIncident } from '../incidents/raise-incident.ts';
import { groupIdOf } from '../incidents/record-incident.ts';
import type { ActionDispatcher, AuditTrail, Clock, IncidentStore } from '../ports.ts';

export interface OutcomeDeps {
  readonly config: ResponderConfig;
  readonly incidents: IncidentStore;
  readonly audit: AuditTrail;
  readonly clock: Clock;
  readonly dispatcher: ActionDispatcher;
}

/** What the action acted on, so each database's backups (each secret's rotations) are one incident line. */
function subjectOf(request: ActionRequest, outcome: ActionOutcome): string {
  if (outcome.subject) return outcome.subject;
  const { params } = request;
  for (const name of ['database', 'secret', 'to', 'target']) {
    if (typeof params[name] === 'string') return params[name] as string;
  }
  return 'all';
}

const NAMES: Partial<Record<ActionKind, string>> = {
  backup: 'BackupFailed',
  rotate: 'RotationFailed',
  failover: 'FailoverFailed',
};

/**
 * A failed backup, rotation or failover opens an incident with the severity `severity.actionFailures`
 * gives its kind, and pages; the next success of the same kind on the same subject resolves it.
 */
export async function recordActionOutcome(
  kind: ActionKind,
  request: ActionRequest,
  outcome: ActionOutcome,
  deps: OutcomeDeps,
): Promise<void> {
  const alertname = NAMES[kind];
  if (!alertname || request.dryRun || outcome.status === 'recorded') return;
  const subject = subjectOf(request, outcome);
  const groupKey = `action:${kind}:${subject}`;
  if (outcome.status === 'completed') {
    // Only a success after a failure has anything to resolve; most successes cost one read.
    const current = await deps.incidents.findCurrentIncident(groupIdOf(groupKey));
    if (current.incident?.status !== 'open') return;
  }
  const source: IncidentSource = {
    groupKey,
    severity: deps.config.severity.actionFailures[kind as 'backup' | 'rotate' | 'failover'],
    title: `${kind} of ${subject} failed: ${outcome.summary}`,
    labels: { alertname, kind, subject, service: deps.config.service },
    summary: outcome.summary,
    fingerprint: `${kind}-${subject}`,
    at: deps.clock.now().toISOString(),
    receiver: `responder-${kind}`,
    resolvedBecause: `the next ${kind} of ${subject} succeeded: ${outcome.summary}`,
    auditData: { actionId: request.actionId },
    actor: `${kind}-function`,
    escalation: {
      actionId: `${request.actionId}-outcome-escalate`,
      trigger: 'alert',
      params: { source: kind },
    },
  };
  if (outcome.status === 'failed') await raiseIncident(source, deps);
  else await resolveIncident(source, deps);
}
