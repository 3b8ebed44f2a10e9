import { createHash } from 'node:crypto';
import type { ResponderConfig } from '../../src/config/schema.ts';
import type { ActionRequest } from '../../src/domain/actions.ts';
import { REMEDIATION_KINDS } from '../../src/domain/actions.ts';
import {
  type Alert,
  checkPayload,
  deliveryKeyOf,
  type WebhookPayload,
} from '../../src/domain/alertmanager.ts';
import { type FloodWindow, floodWindowOf } from '../../src/domain/flood-window.ts';
import type { Incident, IncidentAlert } from '../../src/domain/incident.ts';
import { type CompiledRoute, type PlannedAction, planActions } from '../../src/domain/routing.ts';
import { mostSevere, severityOfLabels } from '../../src/domain/severity.ts';
import { cutText, labelOf, oneLine, safeHttpUrl } from '../../src/domain/text.ts';
import { authenticate, type CredentialSource, UNAUTHORIZED_HEADERS } from '../../src/http/auth.ts';
import { type HttpRequest, type HttpResponse, json, problem, unavailable } from '../../src/http/types.ts';
import { groupIdOf, type IncidentSignal, recordIncident } from '../../src/incidents/record-incident.ts';
import {
  type ActionDispatcher,
  type AuditTrail,
  type AutomationSwitch,
  type Clock,
  type DeliveryDedupe,
  DependencyUnavailableError,
  type FloodLimits,
  type IncidentStore,
  type Log,
} from '../../src/ports.ts';

export interface IngestDeps {
  readonly config: ResponderConfig;
  readonly routes: readonly CompiledRoute[];
  readonly deliveries: DeliveryDedupe;
  readonly incidents: IncidentStore;
  readonly audit: AuditTrail;
  readonly floodLimits: FloodLimits;
  readonly automation: AutomationSwitch;
  readonly dispatcher: ActionDispatcher;
  readonly credentials: CredentialSource;
  readonly clock: Clock;
  readonly log: Log;
}

/**
 * How long one delivery may stay in flight before a retry may take it over: above the ingest
 * function's 15-second timeout, so a live claim is never taken, and short, so a dead one is soon.
 */
const DELIVERY_LEASE_SECONDS = 30;
/**
 * Bounds the alerts copied into each event, so that an action request stays far below EventBridge's
 * 256 KB entry limit however big the labels are: at most 25 alerts, 64 labels each, values cut to
 * 512 characters, and at most REQUEST_ALERTS_BYTES in all.
 */
const MAX_ALERTS_PER_ACTION = 25;
const MAX_REQUEST_LABELS = 64;
const REQUEST_LABEL_MAX = 512;
const REQUEST_ALERTS_BYTES = 128 * 1024;

function requestAlerts(alerts: readonly Alert[]): ActionRequest['alerts'] {
  const kept: ActionRequest['alerts'] = [];
  let bytes = 0;
  for (const alert of alerts.slice(0, MAX_ALERTS_PER_ACTION)) {
    const copy = {
      fingerprint: alert.fingerprint,
      status: alert.status,
      labels: Object.fromEntries(
        Object.entries(alert.labels)
          .slice(0, MAX_REQUEST_LABELS)
          .map(([name, value]) => [cutText(name, REQUEST_LABEL_MAX), cutText(value, REQUEST_LABEL_MAX)]),
      ),
    };
    bytes += Buffer.byteLength(JSON.stringify(copy));
    if (bytes > REQUEST_ALERTS_BYTES) break;
    kept.push(copy);
  }
  return kept;
}
const DRY_RUN_LABEL = 'responder_dry_run';
/** Each part of an incident title (alert name, where, summary) before it is joined. */
const TITLE_FIELD_MAX = 300;
/** Receiver names and the like: shown, never used as keys, so cut rather than refused. */
const SHORT_FIELD_MAX = 256;

/** A request is a dry run for its alerts only when every one of them asks for it (a test alert). */
const allDryRun = (alerts: readonly { labels: Record<string, string> }[]) =>
  alerts.length > 0 && alerts.every((alert) => labelOf(alert.labels, DRY_RUN_LABEL) === 'true');
/** The `rule` of the escalation ingest requests by itself (escalation.escalateAlerts). */
export const ESCALATION_POLICY_RULE = 'escalation-policy';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function isJson(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const media = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return media === 'application/json' || /^application\/[\w.+-]+\+json$/.test(media);
}

/** `POST /alertmanager`: authenticate, validate, dedupe, record, route, answer 202 without waiting on actions. */
export async function handleAlertmanagerWebhook(req: HttpRequest, deps: IngestDeps): Promise<HttpResponse> {
  if (req.method !== 'POST') {
    return problem(405, 'method not allowed; Alertmanager POSTs here', undefined, { allow: 'POST' });
  }
  try {
    const credential = await deps.credentials.get();
    const auth = authenticate(req.headers.authorization, credential);
    if (!auth.ok) {
      deps.log.warn('webhook rejected', { reason: auth.reason });
      return problem(401, 'unauthorized', undefined, UNAUTHORIZED_HEADERS);
    }
    if (auth.previous) {
      deps.log.info('webhook accepted with the previous credential (grace period after a rotation)', {
        principal: auth.principal,
      });
    }
    const encoding = req.headers['content-encoding']?.trim().toLowerCase();
    if (encoding && encoding !== 'identity') {
      return problem(415, `content encoding '${encoding.slice(0, 40)}' is not supported; send plain JSON`);
    }
    if (!isJson(req.headers['content-type'])) {
      return problem(
        415,
        `content type must be application/json, got '${(req.headers['content-type'] ?? 'none').slice(0, 100)}'`,
      );
    }
    const limit = deps.config.webhook.maxBodyBytes;
    if (req.bodyTooLarge || req.body.length > limit) {
      return problem(413, `body exceeds the ${limit}-byte limit (webhook.maxBodyBytes)`);
    }
    let body: unknown;
    try {
      body = JSON.parse(req.body.toString('utf8'));
    } catch (error) {
      return problem(400, 'body is not valid JSON', [(error as Error).message]);
    }
    const checked = checkPayload(body);
    if (!checked.ok) return problem(400, 'invalid Alertmanager webhook payload', checked.errors);
    return await ingestDelivery(checked.payload, deps);
  } catch (error) {
    if (error instanceof DependencyUnavailableError) {
      deps.log.error('webhook not processed: dependency unavailable; Alertmanager will retry', {
        dependency: error.dependency,
        error: error.message,
      });
      return unavailable(error);
    }
    deps.log.error('webhook failed', { error: (error as Error).message, stack: (error as Error).stack });
    return problem(500, 'internal error');
  }
}

export async function ingestDelivery(payload: WebhookPayload, deps: IngestDeps): Promise<HttpResponse> {
  const { deliveries, clock, config } = deps;
  const deliveryKey = deliveryKeyOf(payload);
  const now = clock.now();
  // The group's pointer is read alongside the claim: a read only, and every write that follows is
  // conditional on what it read, so nothing is written before the claim is won. A duplicate wastes it.
  const pointer = deps.incidents.findGroupPointer(groupIdOf(payload.groupKey));
  pointer.catch(() => undefined);
  let claim: Awaited<ReturnType<DeliveryDedupe['claimDelivery']>> | undefined;
  try {
    claim = await deliveries.claimDelivery(deliveryKey, now, DELIVERY_LEASE_SECONDS);
  } finally {
    // Nothing left in flight when this delivery is answered without being processed.
    if (claim !== 'claimed') await Promise.allSettled([pointer]);
  }
  if (claim === 'duplicate') {
    deps.log.info('duplicate delivery ignored', { deliveryKey, status: payload.status });
    return json(200, { status: 'duplicate', deliveryKey });
  }
  if (claim !== 'claimed') {
    // Not a duplicate yet: the copy being processed may still fail or die with its container, and a
    // 200 here would make Alertmanager drop the alert. A 503 makes it try again after the lease.
    deps.log.info('delivery in progress elsewhere; asking Alertmanager to retry', { deliveryKey });
    return problem(503, 'this delivery is being processed; retry later', undefined, {
      'retry-after': String(claim.retryAfterSeconds),
    });
  }
  // Audit entries nothing waits on, written alongside the next calls. Each is awaited before the
  // delivery is finished or given back, and a failed one fails the delivery as before.
  const audits: Promise<void>[] = [];
  try {
    const signal = signalOf(payload, deliveryKey, config);
    const planned = planActions(payload, deps.routes);
    // The kill switch is read alongside the incident's calls, when a planned action needs it.
    const automation = automationOf(planned, deps);
    const limit = newIncidentLimit(deps);
    let incident = await recordIncident(signal, {
      incidents: deps.incidents,
      audit: deps.audit,
      clock,
      auditRetentionDays: config.auditRetentionDays,
      actor: 'alertmanager',
      admitNew: limit.admit,
      pendingAudits: audits,
      pointer,
    });
    if (limit.refused) incident = await recordOverLimit(signal, limit, deps, audits);
    const finish = () => deliveries.finishDelivery(deliveryKey, clock.now(), config.webhook.dedupeTtlSeconds);
    if (payload.status === 'firing' && !incident) {
      // Every firing alert in it had already been resolved here: acting on it would undo that.
      await settle([...audits.splice(0), finish()]);
      return json(202, { status: 'stale', deliveryKey, incident: null, actions: [] });
    }
    const actions = await requestActions(planned, deliveryKey, incident, deps, automation, audits);
    // The delivery is finished alongside the last audit entries (those of the actions requested).
    await settle([...audits.splice(0), finish()]);
    return json(202, {
      status: 'accepted',
      deliveryKey,
      incident: incident ? { id: incident.id, status: incident.status, severity: incident.severity } : null,
      actions,
    });
  } catch (error) {
    // Nothing still in flight when the claim is given back (or left to its lease).
    await Promise.allSettled([...audits, pointer]);
    // Give the delivery back so Alertmanager's retry is processed rather than taken for a duplicate.
    await deliveries.releaseDelivery(deliveryKey).catch((releaseError: Error) =>
      deps.log.warn('could not release delivery claim; it expires with its lease', {
        error: releaseError.message,
      }),
    );
    throw error;
  }
}

/** Adds a call to those awaited later, handled at once so a failure meanwhile is not unhandled. */
function pending(audits: Promise<void>[], call: Promise<void>): void {
  call.catch(() => undefined);
  audits.push(call);
}

/** Waits for every call, then throws the first failure: nothing is left running when it throws. */
async function settle(calls: readonly Promise<unknown>[]): Promise<void> {
  for (const outcome of await Promise.allSettled(calls)) {
    if (outcome.status === 'rejected') throw outcome.reason;
  }
}

/**
 * Whether remediations may run: the config's switch, and the stored kill switch when a planned
 * remediation needs it (read at once, so it goes out alongside the incident's calls).
 */
function automationOf(planned: readonly PlannedAction[], deps: IngestDeps): Promise<boolean> {
  const { config, automation } = deps;
  const needsFlag = planned.some((action) => REMEDIATION_KINDS.includes(action.kind));
  if (!config.safety.automationEnabled || !needsFlag) return Promise.resolve(config.safety.automationEnabled);
  const enabled = automation.getAutomationFlag().then((flag) => flag.enabled);
  // Handled here so a failure before it is awaited is not unhandled; awaiting it still throws.
  enabled.catch(() => undefined);
  return enabled;
}

/**
 * floodLimits.newIncidents: each new alert group takes one from the window's budget. `refused` tells
 * the caller the group was over the limit; `firstRefusal`, that this delivery reached it.
 */
function newIncidentLimit(deps: IngestDeps) {
  const { floodLimits } = deps.config;
  const window = floodWindowOf(floodLimits, deps.clock.now());
  const state = {
    window,
    refused: false,
    firstRefusal: false,
    admit: async () => {
      const use = await deps.floodLimits.takeFloodBudget(
        'incidents',
        window.start,
        window.seconds,
        floodLimits.newIncidents,
      );
      state.refused = !use.allowed;
      state.firstRefusal = use.firstRefusal;
      return use.allowed;
    },
  };
  return state;
}

/**
 * A group over the new-incident limit joins the window's one "incident limit reached" incident:
 * its alerts are kept there (nothing is lost), and that incident pages once, however many groups
 * arrive. Reaching the limit is audited.
 */
async function recordOverLimit(
  signal: IncidentSignal,
  limit: { window: FloodWindow; firstRefusal: boolean },
  deps: IngestDeps,
  audits: Promise<void>[],
): Promise<Incident | undefined> {
  const { config, clock } = deps;
  const { floodLimits } = config;
  const until = limit.window.end.toISOString();
  const summary = `more than ${floodLimits.newIncidents} new alert groups within ${floodLimits.windowMinutes} minutes; until ${until} new groups are collected in this incident`;
  const incident = await recordIncident(
    {
      ...signal,
      groupKey: `responder:incident-limit:${limit.window.start.toISOString()}`,
      status: 'firing',
      // A P1 that arrives in a flood raises the overflow incident (and its escalation) to P1.
      severity: mostSevere([signal.severity, floodLimits.overflowSeverity], floodLimits.overflowSeverity),
      title: `Incident limit reached: ${summary}`,
      labels: { alertname: 'ResponderIncidentLimit', service: config.service },
      annotations: { summary },
      receiver: signal.receiver,
      truncatedAlerts: signal.truncatedAlerts,
      keepEarlyResolution: false,
    },
    {
      incidents: deps.incidents,
      audit: deps.audit,
      clock,
      auditRetentionDays: config.auditRetentionDays,
      actor: 'alertmanager',
      pendingAudits: audits,
    },
  );
  if (limit.firstRefusal) {
    deps.log.warn('new-incident limit reached', { limit: floodLimits.newIncidents, until });
    await audit(deps, undefined, 'limits.incidents-reached', {
      message: `new-incident limit reached: ${summary}`,
      data: {
        limit: floodLimits.newIncidents,
        windowMinutes: floodLimits.windowMinutes,
        incidentId: incident?.id,
      },
    });
  }
  await audit(deps, incident?.id, 'incident.over-limit', {
    message: `alert group over the new-incident limit collected here: ${cutText(signal.title, 300)}`,
    data: { groupKey: cutText(signal.groupKey, 1_024), status: signal.status },
  });
  return incident;
}

function toIncidentAlerts(payload: WebhookPayload): IncidentAlert[] {
  return payload.alerts.map((alert) => ({
    fingerprint: alert.fingerprint,
    status: alert.status,
    labels: alert.labels,
    annotations: alert.annotations,
    startsAt: alert.startsAt,
    endsAt: alert.endsAt,
    generatorURL: safeHttpUrl(alert.generatorURL),
  }));
}

function severityOf(payload: WebhookPayload, config: ResponderConfig) {
  const firing = payload.alerts.filter((alert) => alert.status === 'firing');
  const considered = firing.length > 0 ? firing : payload.alerts;
  return mostSevere(
    considered.map((alert) =>
      severityOfLabels({ ...payload.commonLabels, ...alert.labels }, config.severity),
    ),
    config.severity.default,
  );
}

/** `PostgresDown (payments-db): summary`, on one line and bounded, whatever the labels hold. */
function titleOf(payload: WebhookPayload): string {
  const labels = payload.commonLabels;
  const field = (text: string | undefined) => cutText(oneLine(text ?? ''), TITLE_FIELD_MAX);
  const name =
    field(labelOf(labels, 'alertname') ?? labelOf(payload.groupLabels, 'alertname')) || 'alert group';
  const where = field(labelOf(labels, 'service') ?? labelOf(labels, 'job') ?? labelOf(labels, 'instance'));
  const summary = field(labelOf(payload.commonAnnotations, 'summary'));
  return `${name}${where ? ` (${where})` : ''}${summary ? `: ${summary}` : ''}`;
}

/** The delivery as an incident signal: the group's alerts, severity from labels, a readable title. */
function signalOf(payload: WebhookPayload, deliveryKey: string, config: ResponderConfig): IncidentSignal {
  return {
    groupKey: payload.groupKey,
    status: payload.status,
    severity: severityOf(payload, config),
    title: titleOf(payload),
    labels: payload.commonLabels,
    annotations: payload.commonAnnotations,
    alerts: toIncidentAlerts(payload),
    receiver: cutText(payload.receiver, SHORT_FIELD_MAX),
    externalURL: safeHttpUrl(payload.externalURL),
    truncatedAlerts: payload.truncatedAlerts,
    resolvedBecause: 'Alertmanager reported every alert in the group resolved',
    auditData: { deliveryKey },
    keepEarlyResolution: true,
  };
}

async function requestActions(
  planned: readonly PlannedAction[],
  deliveryKey: string,
  incident: Incident | undefined,
  deps: IngestDeps,
  automation: Promise<boolean>,
  audits: Promise<void>[],
) {
  const { config } = deps;
  const automationEnabled = await automation;
  const requestedAt = deps.clock.now().toISOString();
  const summary: Array<{ actionId: string; kind: string; rule: string; dryRun: boolean; skipped?: string }> =
    [];
  const requests: ActionRequest[] = [];
  for (const action of planned) {
    const request: ActionRequest = {
      actionId: sha256(`${deliveryKey}|${action.rule}|${action.index}`).slice(0, 40),
      kind: action.kind,
      trigger: 'alert',
      requestedAt,
      dryRun: config.safety.dryRun || action.dryRun || allDryRun(action.alerts),
      params: action.params,
      rule: action.rule,
      incidentId: incident?.id,
      severity: incident?.severity,
      alerts: requestAlerts(action.alerts),
    };
    if (!automationEnabled && REMEDIATION_KINDS.includes(action.kind)) {
      pending(
        audits,
        audit(deps, incident?.id, 'action.skipped', {
          message: `skipped: automation disabled (${action.kind} from rule ${action.rule})`,
          data: { actionId: request.actionId, kind: action.kind, rule: action.rule },
        }),
      );
      summary.push({ ...pick(request), skipped: 'automation disabled' });
      continue;
    }
    requests.push(request);
    summary.push(pick(request));
  }
  const escalation = escalationRequest(requests, deliveryKey, incident, requestedAt, deps);
  if (escalation) {
    requests.push(escalation);
    summary.push(pick(escalation));
  }
  // The dispatch goes out with the audit entries written so far (the incident's, skipped actions).
  await settle([deps.dispatcher.dispatch(requests), ...audits.splice(0)]);
  for (const request of requests) {
    // Only once the dispatch succeeded: each says its action was requested.
    pending(
      audits,
      audit(deps, incident?.id, 'action.requested', {
        message: `requested ${request.kind}${request.dryRun ? ' (dry run)' : ''} by rule ${request.rule}`,
        data: { actionId: request.actionId, kind: request.kind, rule: request.rule, dryRun: request.dryRun },
      }),
    );
  }
  return summary;
}

/**
 * Pages by the escalation policy (escalation.escalateAlerts), and always lets a resolution reach the
 * escalation so the tiers paged hear of it. Unneeded when a route already asked for an escalation.
 */
function escalationRequest(
  requests: readonly ActionRequest[],
  deliveryKey: string,
  incident: Incident | undefined,
  requestedAt: string,
  deps: IngestDeps,
): ActionRequest | undefined {
  if (!incident) return undefined;
  if (!deps.config.escalation.escalateAlerts && incident.status !== 'resolved') return undefined;
  // One test alert must not mute the pages a real alert in the same group needs.
  const dryRun =
    deps.config.safety.dryRun || allDryRun(incident.alerts.filter((alert) => alert.status === 'firing'));
  // A route's escalate stands in for this one, unless it is a dry run and this one would page.
  if (requests.some((request) => request.kind === 'escalate' && (!request.dryRun || dryRun))) {
    return undefined;
  }
  return {
    actionId: sha256(`${deliveryKey}|escalation-policy`).slice(0, 40),
    kind: 'escalate',
    trigger: 'alert',
    requestedAt,
    dryRun,
    params: {},
    rule: ESCALATION_POLICY_RULE,
    incidentId: incident.id,
    severity: incident.severity,
    alerts: [],
  };
}

function pick(request: ActionRequest) {
  return {
    actionId: request.actionId,
    kind: request.kind,
    rule: request.rule ?? '',
    dryRun: request.dryRun,
  };
}

function audit(
  deps: IngestDeps,
  incidentId: string | undefined,
  type: string,
  entry: { message: string; data?: Record<string, unknown> },
) {
  return deps.audit.appendAudit(
    { at: deps.clock.now().toISOString(), incidentId, type, actor: 'alertmanager', ...entry },
    deps.config.auditRetentionDays,
  );
}
