import type { ActionOutcome } from '../actions/run-action.ts';
import type { ActionKind, ResponderConfig } from '../config/schema.ts';
import { type ActionRequest, actionRequestSchema } from '../domain/actions.ts';
import { ZERO_TIME } from '../domain/alertmanager.ts';
import type { ActionDispatcher, Clock, StateStore } from '../ports.ts';
import { groupIdOf, recordIncident } from './record-incident.ts';

export interface OutcomeDeps {
  readonly config: ResponderConfig;
  readonly store: StateStore;
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
    const current = await deps.store.findCurrentIncident(groupIdOf(groupKey));
    if (current.incident?.status !== 'open') return;
  }
  const status = outcome.status === 'failed' ? 'firing' : 'resolved';
  const labels = { alertname, kind, subject, service: deps.config.service };
  const now = deps.clock.now().toISOString();
  const incident = await recordIncident(
    {
      groupKey,
      status,
      severity: deps.config.severity.actionFailures[kind as 'backup' | 'rotate' | 'failover'],
      title: `${kind} of ${subject} failed: ${outcome.summary}`,
      labels,
      annotations: { summary: outcome.summary },
      alerts: [
        {
          fingerprint: `${kind}-${subject}`,
          status,
          labels,
          annotations: { summary: outcome.summary },
          startsAt: now,
          endsAt: status === 'resolved' ? now : ZERO_TIME,
          generatorURL: '',
        },
      ],
      receiver: `responder-${kind}`,
      externalURL: '',
      truncatedAlerts: 0,
      resolvedBecause: `the next ${kind} of ${subject} succeeded: ${outcome.summary}`,
      auditData: { actionId: request.actionId },
    },
    {
      store: deps.store,
      clock: deps.clock,
      auditRetentionDays: deps.config.auditRetentionDays,
      actor: `${kind}-function`,
    },
  );
  if (!incident) return;
  await deps.dispatcher.dispatch([
    actionRequestSchema.parse({
      actionId: `${request.actionId}-outcome-escalate`,
      kind: 'escalate',
      trigger: 'alert',
      requestedAt: now,
      dryRun: deps.config.safety.dryRun,
      params: { source: kind },
      incidentId: incident.id,
      severity: incident.severity,
    }),
  ]);
}
