import { createHash, randomBytes } from 'node:crypto';
import type { Severity } from '../config/schema.ts';
import { expiryOf, type Incident, type IncidentAlert } from '../domain/incident.ts';
import { severityRank } from '../domain/severity.ts';
import { cutText, oneLine } from '../domain/text.ts';
import type { AuditTrail, Clock, GroupPointer, IncidentStore } from '../ports.ts';
import { CONFLICT, retryOnConflict } from '../state/retry-on-conflict.ts';

/**
 * Something that opens, updates or resolves an incident: an Alertmanager delivery, or a probe target
 * turning unhealthy or recovering. One incident per `groupKey` is open at a time.
 */
export interface IncidentSignal {
  readonly groupKey: string;
  readonly status: 'firing' | 'resolved';
  readonly severity: Severity;
  readonly title: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly alerts: IncidentAlert[];
  readonly receiver: string;
  readonly externalURL: string;
  readonly truncatedAlerts: number;
  /** Says what resolved the incident, for the audit trail. */
  readonly resolvedBecause: string;
  /** Written into each audit entry's data (delivery key, probe result...). */
  readonly auditData: Record<string, unknown>;
  /**
   * Alertmanager's deliveries can arrive out of order: when a resolution comes before any firing,
   * record the group as resolved so the late firing is recognised. Sources that never reorder leave
   * it out.
   */
  readonly keepEarlyResolution?: boolean;
}

export interface IncidentDeps {
  readonly incidents: IncidentStore;
  readonly audit: AuditTrail;
  readonly clock: Clock;
  readonly auditRetentionDays: number;
  /** Who the audit trail names: "alertmanager", "probe-function"... */
  readonly actor: string;
  /**
   * Asked once per signal, alongside the group pointer's write, before a new incident is written
   * (floodLimits.newIncidents); false opens nothing (the pointer is moved back) and `recordIncident`
   * returns undefined. Absent: every new incident is admitted.
   */
  readonly admitNew?: () => Promise<boolean>;
  /**
   * When given, the audit entry of what was recorded is added here instead of awaited, so the caller
   * writes it alongside its next calls; the caller must await it (and fail on its failure) before it
   * reports success. Absent: `recordIncident` awaits it.
   */
  readonly pendingAudits?: Promise<void>[];
  /**
   * The group's pointer (`IncidentStore.findGroupPointer`), read by the caller alongside its own calls;
   * the first attempt uses it rather than reading it again. Every write is conditional on what was
   * read, so a pointer that went stale meanwhile costs one more attempt, nothing else.
   */
  readonly pointer?: Promise<GroupPointer>;
}

/**
 * A DynamoDB item holds 400 KB, and a 1 MiB webhook can carry more. Incidents are kept under this
 * budget: long label and annotation values are cut, then resolved and the oldest firing alerts are
 * left out (counted with Alertmanager's own truncatedAlerts), so a huge group still opens an incident.
 */
const INCIDENT_BUDGET_BYTES = 300_000;
const FIELD_CAP = 1_024;
const GROUP_KEY_SHOWN_MAX = 1_024;
/** Titles are built by their source (ingest, probes, actions); this bounds any of them. */
const TITLE_MAX = 1_024;

function capValues(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(record).map(([k, v]) => [k, v.length > FIELD_CAP ? `${v.slice(0, FIELD_CAP - 1)}…` : v]),
  );
}

export function fitIncident<T extends Incident>(incident: T): T {
  const size = (value: unknown) => Buffer.byteLength(JSON.stringify(value));
  if (size(incident) <= INCIDENT_BUDGET_BYTES) return incident;
  const capped = incident.alerts.map((alert) => ({
    ...alert,
    labels: capValues(alert.labels),
    annotations: capValues(alert.annotations),
  }));
  // Firing alerts first, newest first: the ones an on-call engineer needs to see.
  const ordered = [...capped].sort(
    (a, b) =>
      Number(b.status === 'firing') - Number(a.status === 'firing') || b.startsAt.localeCompare(a.startsAt),
  );
  const cut = (text: string) => (text.length > FIELD_CAP ? `${text.slice(0, FIELD_CAP - 1)}…` : text);
  let base = {
    ...incident,
    title: cut(incident.title),
    externalURL: cut(incident.externalURL),
    labels: capValues(incident.labels),
    annotations: capValues(incident.annotations),
    alerts: [] as IncidentAlert[],
  };
  if (size(base) > INCIDENT_BUDGET_BYTES / 2) {
    // Thousands of labels: keep the first hundred of each.
    const first = (record: Record<string, string>) =>
      Object.fromEntries(Object.entries(record).slice(0, 100));
    base = { ...base, labels: first(base.labels), annotations: first(base.annotations) };
  }
  let budget = INCIDENT_BUDGET_BYTES - size(base);
  const kept: IncidentAlert[] = [];
  for (const alert of ordered) {
    const cost = size(alert) + 1;
    if (cost > budget) break;
    budget -= cost;
    kept.push(alert);
  }
  return {
    ...base,
    alerts: kept,
    truncatedAlerts: incident.truncatedAlerts + (incident.alerts.length - kept.length),
  };
}

/**
 * True when `known` makes `incoming` old news: a later instance of the alert (a newer startsAt), or
 * the same instance already resolved while `incoming` still says firing.
 */
function supersedes(known: IncidentAlert, incoming: IncidentAlert): boolean {
  if (known.startsAt !== incoming.startsAt) return known.startsAt > incoming.startsAt;
  return known.status === 'resolved' && incoming.status === 'firing';
}

/** Whether a (resolved) incident already holds these alert instances as resolved. */
function knowsEnded(incident: Incident | undefined, alerts: readonly IncidentAlert[]): boolean {
  if (!incident) return false;
  return alerts.every((alert) =>
    incident.alerts.some(
      (known) =>
        known.fingerprint === alert.fingerprint &&
        known.status === 'resolved' &&
        known.startsAt >= alert.startsAt,
    ),
  );
}

function newIncidentFields(
  signal: IncidentSignal,
  groupId: string,
  groupKey: string,
  now: string,
): Omit<Incident, 'id' | 'status'> {
  return {
    groupId,
    groupKey,
    severity: signal.severity,
    title: cutText(oneLine(signal.title), TITLE_MAX),
    labels: signal.labels,
    annotations: signal.annotations,
    receiver: signal.receiver,
    externalURL: signal.externalURL,
    alerts: signal.alerts,
    truncatedAlerts: signal.truncatedAlerts,
    openedAt: now,
    updatedAt: now,
    deliveries: 1,
    version: 1,
  };
}

/**
 * The id a group pointer names when its incident is missing: a crash between the two writes of an
 * open, whose retry reuses it. A pointer older than an hour names an incident that expired: its id
 * (and its escalation, which may not have expired yet) must not be reused.
 */
function reusableId(
  current: { incidentId?: string; incident?: Incident; pointedAt?: string },
  now: Date,
): string | undefined {
  if (!current.incidentId || current.incident || !current.pointedAt) return undefined;
  return now.getTime() - Date.parse(current.pointedAt) < 3_600_000 ? current.incidentId : undefined;
}

/** Concurrent writers to one group retry a few times before the caller answers 503. */
const MAX_WRITE_ATTEMPTS = 6;

export function newIncidentId(now: Date): string {
  return `${now.toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(4).toString('hex')}`;
}

/** Identifies an alert group across deliveries. */
export function groupIdOf(groupKey: string): string {
  return createHash('sha256').update(groupKey).digest('hex').slice(0, 32);
}

/**
 * Opens the group's incident, updates the open one (alerts merged by fingerprint, severity raised but
 * never lowered), or resolves it. Safe under concurrent writers: the group pointer moves only by a
 * conditional write and every incident write names the version it read.
 */
export async function recordIncident(
  signal: IncidentSignal,
  deps: IncidentDeps,
): Promise<Incident | undefined> {
  const { incidents } = deps;
  // The group's identity is the hash of the whole key; what is stored and shown is cut to fit an item.
  const groupId = groupIdOf(signal.groupKey);
  const groupKey = cutText(signal.groupKey, GROUP_KEY_SHOWN_MAX);
  const audit = (
    incidentId: string | undefined,
    type: string,
    message: string,
    data: Record<string, unknown>,
  ) => {
    const written = deps.audit.appendAudit(
      {
        at: deps.clock.now().toISOString(),
        incidentId,
        type,
        actor: deps.actor,
        message,
        data: { ...signal.auditData, ...data },
      },
      deps.auditRetentionDays,
    );
    if (!deps.pendingAudits) return written;
    // Handled here so an early failure is not unhandled; the caller awaits it and sees the failure.
    written.catch(() => undefined);
    deps.pendingAudits.push(written);
    return Promise.resolve();
  };
  let admitted: boolean | undefined;
  const { admitNew } = deps;
  // Asked at most once per signal, however many times a race sends the loop round again; asked
  // alongside the group pointer's write, which is moved back when the answer is no.
  const admit = admitNew
    ? async () => {
        admitted ??= await admitNew();
        return admitted;
      }
    : undefined;
  return retryOnConflict<Incident | undefined>(
    async (attempt) => {
      const now = deps.clock.now().toISOString();
      const current = await incidents.findCurrentIncident(
        groupId,
        attempt === 0 && deps.pointer ? await deps.pointer : undefined,
      );
      const existing = current.incident;
      if (existing?.status === 'open') {
        const merged = new Map(existing.alerts.map((alert) => [alert.fingerprint, alert]));
        let staleResolution = false;
        for (const alert of signal.alerts) {
          const known = merged.get(alert.fingerprint);
          if (!known || !supersedes(known, alert)) merged.set(alert.fingerprint, alert);
          // A late copy of an older instance's resolution, while a newer instance of it fires.
          else if (alert.status === 'resolved' && known.status === 'firing') staleResolution = true;
        }
        const resolving = signal.status === 'resolved' && !staleResolution;
        const next: Incident = fitIncident({
          ...existing,
          status: resolving ? 'resolved' : 'open',
          severity:
            severityRank(signal.severity) < severityRank(existing.severity)
              ? signal.severity
              : existing.severity,
          labels: signal.labels,
          annotations: signal.annotations,
          alerts: [...merged.values()],
          truncatedAlerts: signal.truncatedAlerts,
          updatedAt: now,
          resolvedAt: resolving ? now : undefined,
          expiresAt: resolving ? expiryOf(now, deps.auditRetentionDays) : undefined,
          deliveries: existing.deliveries + 1,
          version: existing.version + 1,
        });
        if (!(await incidents.saveIncident(next, existing.version))) return CONFLICT;
        const firing = next.alerts.filter((alert) => alert.status === 'firing').length;
        const truncated = signal.truncatedAlerts
          ? `, ${signal.truncatedAlerts} truncated by Alertmanager`
          : '';
        await audit(
          next.id,
          resolving ? 'incident.resolved' : staleResolution ? 'signal.stale-resolution' : 'incident.updated',
          resolving
            ? `resolved: ${signal.resolvedBecause}`
            : `updated: ${firing} firing, ${next.alerts.length - firing} resolved${truncated}`,
          { status: signal.status, severity: next.severity },
        );
        return next;
      }
      if (
        signal.status === 'resolved' &&
        signal.keepEarlyResolution &&
        !knowsEnded(existing, signal.alerts)
      ) {
        // A resolution that overtook its firing (Alertmanager retries and HA peers reorder): record the
        // group as resolved, so the late firing finds it and opens nothing that would page for ever.
        if (admitted === false) return undefined;
        const incident: Incident = fitIncident({
          ...newIncidentFields(signal, groupId, groupKey, now),
          id: reusableId(current, deps.clock.now()) ?? newIncidentId(deps.clock.now()),
          status: 'resolved',
          resolvedAt: now,
          expiresAt: expiryOf(now, deps.auditRetentionDays),
        });
        const opened = await incidents.openIncident(incident, current, admit);
        if (opened === 'refused') return undefined;
        if (opened === 'conflict') return CONFLICT;
        await audit(
          incident.id,
          'incident.resolved-before-firing',
          `resolved before its firing arrived: ${incident.title}`,
          { groupKey, alerts: signal.alerts.length },
        );
        return incident;
      }
      if (signal.status === 'resolved') {
        // Nothing open to resolve: a late duplicate, or something that failed before Responder was watching.
        await audit(
          existing?.id,
          'signal.resolved-without-incident',
          `resolved ${groupKey}, but no incident was open`,
          { groupKey },
        );
        return existing;
      }
      const live = signal.alerts.filter(
        (alert) => alert.status !== 'firing' || !existing?.alerts.some((known) => supersedes(known, alert)),
      );
      if (live.length < signal.alerts.length && !live.some((alert) => alert.status === 'firing')) {
        // Every firing alert here already ended (its resolution came first): a late copy, not news.
        await audit(existing?.id, 'signal.stale-firing', 'firing arrived after its resolution: ignored', {
          groupKey,
        });
        return undefined;
      }
      if (admitted === false) return undefined;
      const incident: Incident = fitIncident({
        ...newIncidentFields({ ...signal, alerts: live }, groupId, groupKey, now),
        id: reusableId(current, deps.clock.now()) ?? newIncidentId(deps.clock.now()),
        status: 'open',
      });
      const opened = await incidents.openIncident(incident, current, admit);
      if (opened === 'refused') return undefined;
      if (opened === 'conflict') return CONFLICT;
      await audit(incident.id, 'incident.opened', `opened ${incident.severity}: ${incident.title}`, {
        groupKey,
        alerts: signal.alerts.length,
      });
      return incident;
    },
    { attempts: MAX_WRITE_ATTEMPTS },
  );
}
