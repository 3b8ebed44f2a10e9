import type { ResponderConfig, Severity } from '../config/schema.ts';
import { type ActionRequest, actionRequestSchema } from '../domain/actions.ts';
import { ZERO_TIME } from '../domain/alertmanager.ts';
import type { Incident } from '../domain/incident.ts';
import type { ActionDispatcher, AuditTrail, Clock, IncidentStore } from '../ports.ts';
import { type IncidentSignal, recordIncident } from './record-incident.ts';

/**
 * What a source of its own trouble (a probe target, a failing backup, rotation or failover) knows
 * about it. Each such source is one alert in one group, and pages through the escalation policy.
 */
export interface IncidentSource {
  /** One incident per group is open at a time: `probe:payments-db`, `action:backup:orders`... */
  readonly groupKey: string;
  readonly severity: Severity;
  readonly title: string;
  readonly labels: Record<string, string>;
  /** The incident's and its alert's `summary` annotation. */
  readonly summary: string;
  /** Names the one alert across raise and resolve. */
  readonly fingerprint: string;
  /** When the trouble was seen (a probe result's time); a resolved alert ends then. */
  readonly at: string;
  /** When the trouble began. @default - `at` */
  readonly startsAt?: string;
  /** Shown as the incident's receiver: `responder-probes`, `responder-backup`... */
  readonly receiver: string;
  /** Says what resolved the incident, for the audit trail. */
  readonly resolvedBecause: string;
  /** Written into each audit entry's data. */
  readonly auditData: Record<string, unknown>;
  /** Who the audit trail names: "probe-function", "backup-function"... */
  readonly actor: string;
  /** The escalate request; its id must name the change, so a retry asks once. */
  readonly escalation: {
    readonly actionId: string;
    readonly trigger: ActionRequest['trigger'];
    readonly params: Record<string, unknown>;
  };
}

export interface RaiseDeps {
  readonly config: ResponderConfig;
  readonly incidents: IncidentStore;
  readonly audit: AuditTrail;
  readonly clock: Clock;
  readonly dispatcher: ActionDispatcher;
}

function signalOf(source: IncidentSource, status: 'firing' | 'resolved'): IncidentSignal {
  return {
    groupKey: source.groupKey,
    status,
    severity: source.severity,
    title: source.title,
    labels: source.labels,
    annotations: { summary: source.summary },
    alerts: [
      {
        fingerprint: source.fingerprint,
        status,
        labels: source.labels,
        annotations: { summary: source.summary },
        startsAt: source.startsAt ?? source.at,
        endsAt: status === 'resolved' ? source.at : ZERO_TIME,
        generatorURL: '',
      },
    ],
    receiver: source.receiver,
    externalURL: '',
    truncatedAlerts: 0,
    resolvedBecause: source.resolvedBecause,
    auditData: source.auditData,
  };
}

function requestEscalation(
  source: IncidentSource,
  incidentId: string,
  severity: Severity | undefined,
  deps: RaiseDeps,
) {
  return deps.dispatcher.dispatch([
    actionRequestSchema.parse({
      actionId: source.escalation.actionId,
      kind: 'escalate',
      trigger: source.escalation.trigger,
      requestedAt: deps.clock.now().toISOString(),
      dryRun: deps.config.safety.dryRun,
      params: source.escalation.params,
      incidentId,
      severity,
    }),
  ]);
}

function record(source: IncidentSource, status: 'firing' | 'resolved', deps: RaiseDeps) {
  return recordIncident(signalOf(source, status), {
    incidents: deps.incidents,
    audit: deps.audit,
    clock: deps.clock,
    auditRetentionDays: deps.config.auditRetentionDays,
    actor: source.actor,
  });
}

/**
 * Opens the group's incident (or updates the open one) and asks the escalation to page for it.
 * Undefined when nothing was opened (the alert had already ended), and then nothing is asked.
 */
export async function raiseIncident(source: IncidentSource, deps: RaiseDeps): Promise<Incident | undefined> {
  const incident = await record(source, 'firing', deps);
  if (incident) await requestEscalation(source, incident.id, incident.severity, deps);
  return incident;
}

/**
 * Resolves the group's open incident and asks its escalation to end, so the tiers paged hear of it.
 * `incidentId` names the incident the source raised: its escalation is told even when the incident
 * itself is already gone. Without it, only an incident the group still has is told.
 */
export async function resolveIncident(
  source: IncidentSource,
  deps: RaiseDeps,
  options: { readonly incidentId?: string } = {},
): Promise<Incident | undefined> {
  const resolved = await record(source, 'resolved', deps);
  const incidentId = options.incidentId ?? resolved?.id;
  if (incidentId) await requestEscalation(source, incidentId, resolved?.severity, deps);
  return resolved;
}
