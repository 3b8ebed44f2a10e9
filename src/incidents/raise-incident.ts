import type { ResponderConfig, Severity } from '../config/schema.ts';
import { type ActionRequest, actionRequestSchema } from '../domain/actions.ts';
import { ZERO_TIME } from '../domain/alertmanager.ts';
import type { Incident } from '../domain/incident.ts';
import { cutText } from '../domain/text.ts';
import type { ActionDispatcher, AuditTrail, Clock, IncidentStore } from '../ports.ts';
import { CARRIED_LIMITS, type CarriedIncident } from './carried-incident.ts';
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

/** What a source's incident is recorded with: the store, its audit trail and the clock. */
export interface RecordDeps {
  readonly config: ResponderConfig;
  readonly incidents: IncidentStore;
  readonly audit: AuditTrail;
  readonly clock: Clock;
}

export interface RaiseDeps extends RecordDeps {
  /**
   * Where the escalate request goes. With `carriesIncidents` (the DR failover function, paging through
   * the primary region's bus) the request carries the incident itself, not just its id.
   */
  readonly dispatcher: ActionDispatcher;
}

/** What a source says, without its escalation request: what an escalate request carries. */
export type SourceReport = Omit<IncidentSource, 'escalation'>;

function signalOf(source: SourceReport, status: 'firing' | 'resolved'): IncidentSignal {
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

/**
 * The source as JSON for an escalate request, cut to what the escalate function accepts
 * (`CARRIED_LIMITS`). `originIncidentId` (the incident in the sender's own table) goes into the audit
 * data, so the two regions' trails can be matched.
 */
function carry(
  source: IncidentSource,
  status: 'firing' | 'resolved',
  originIncidentId: string,
): CarriedIncident {
  const L = CARRIED_LIMITS;
  const auditData = Object.entries<unknown>({ originIncidentId, ...source.auditData })
    .filter(
      (entry): entry is [string, string | number | boolean | null] =>
        entry[0].length <= L.auditName &&
        (entry[1] === null || ['string', 'number', 'boolean'].includes(typeof entry[1])),
    )
    .slice(0, L.auditEntries)
    .map(([name, value]) => [name, typeof value === 'string' ? cutText(value, L.auditValue) : value]);
  return {
    status,
    groupKey: cutText(source.groupKey, L.groupKey),
    severity: source.severity,
    title: cutText(source.title, L.title),
    labels: Object.fromEntries(
      Object.entries(source.labels)
        .slice(0, L.labels)
        .map(([name, value]) => [name, cutText(value, L.labelValue)]),
    ),
    summary: cutText(source.summary, L.summary),
    fingerprint: cutText(source.fingerprint, L.fingerprint),
    at: source.at,
    startsAt: source.startsAt,
    receiver: cutText(source.receiver, L.receiver),
    resolvedBecause: cutText(source.resolvedBecause, L.resolvedBecause),
    auditData: Object.fromEntries(auditData),
    actor: cutText(source.actor, L.actor),
  };
}

function requestEscalation(
  source: IncidentSource,
  incident: { readonly id: string; readonly severity?: Severity },
  status: 'firing' | 'resolved',
  deps: RaiseDeps,
) {
  const carried = deps.dispatcher.carriesIncidents === true;
  return deps.dispatcher.dispatch([
    actionRequestSchema.parse({
      actionId: source.escalation.actionId,
      kind: 'escalate',
      trigger: source.escalation.trigger,
      requestedAt: deps.clock.now().toISOString(),
      dryRun: deps.config.safety.dryRun,
      // Carried: the escalate function records the incident in its own table and pages for that one;
      // this table's id names nothing there.
      params: carried
        ? { ...source.escalation.params, incident: carry(source, status, incident.id) }
        : source.escalation.params,
      incidentId: carried ? undefined : incident.id,
      severity: incident.severity,
    }),
  ]);
}

/**
 * Records what a source says (firing or resolved) as its group's incident, and asks for no page: the
 * escalate function's part for an incident carried from another region's table.
 */
export function recordSourceIncident(
  source: SourceReport,
  status: 'firing' | 'resolved',
  deps: RecordDeps,
): Promise<Incident | undefined> {
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
  const incident = await recordSourceIncident(source, 'firing', deps);
  if (incident) await requestEscalation(source, incident, 'firing', deps);
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
  const resolved = await recordSourceIncident(source, 'resolved', deps);
  const incidentId = options.incidentId ?? resolved?.id;
  if (incidentId)
    await requestEscalation(source, { id: incidentId, severity: resolved?.severity }, 'resolved', deps);
  return resolved;
}
