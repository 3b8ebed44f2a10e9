import type { ActionEnvironment } from '../../src/actions/environment.ts';
import type { ActionOutcome, ActionRun, PerformAction } from '../../src/actions/run-action.ts';
import type { ActionRequest } from '../../src/domain/actions.ts';
import type { Delivered, Escalator } from '../../src/escalation/escalator.ts';
import { readApproveLinkRequest, readCarriedIncident } from '../../src/incidents/carried-incident.ts';
import { recordSourceIncident } from '../../src/incidents/raise-incident.ts';

function describe(sent: readonly Delivered[]): string {
  return sent
    .map(
      (notice) =>
        `${notice.event === 'page' ? 'paged' : `${notice.event} notice to`} ${notice.tier}/${notice.topic}`,
    )
    .join(', ');
}

/** Brings one incident's escalation in line with it, and says what was sent. */
async function reconcile(
  escalator: Escalator,
  incidentId: string,
  request: ActionRequest,
  received: Promise<void>,
): Promise<ActionOutcome> {
  const report = await escalator.reconcile(incidentId, { dryRun: request.dryRun, beforeWrites: received });
  if (request.dryRun) {
    const would = (report.wouldSend ?? []).map((w) => `${w.event} ${w.tier}/${w.topic}`).join(', ');
    return { status: 'completed', summary: `dry run: would send ${would || 'nothing'}`, result: report };
  }
  const summary =
    report.status === 'none'
      ? 'nothing to escalate: no such incident, or it resolved before anyone was paged'
      : report.busy
        ? `escalation ${report.status}: another sender is paging right now`
        : `escalation ${report.status}: ${report.sent.length ? describe(report.sent) : 'nothing due now'}`;
  return { status: 'completed', summary, data: { sent: report.sent.length }, result: report };
}

/** Approve links are signed for at most this long ahead (approvals last `approvalTtlMinutes`). */
const APPROVE_LINK_MAX_MS = 24 * 3_600_000;

/**
 * The line with a signed approve link for a carried approval (`params.approve`), signed here with the
 * ack-link key; nothing when none is asked for, or none can be made (the page goes out without it).
 */
async function approveLinkLine(
  env: ActionEnvironment,
  escalator: Escalator,
  raw: unknown,
): Promise<string | undefined> {
  if (raw === undefined) return undefined;
  const approval = readApproveLinkRequest(raw);
  const expiresAt = approval ? new Date(approval.expiresAt) : undefined;
  const now = env.clock.now().getTime();
  if (
    !approval ||
    !expiresAt ||
    expiresAt.getTime() <= now ||
    expiresAt.getTime() > now + APPROVE_LINK_MAX_MS
  ) {
    env.log.warn('approve link not made: params.approve is not a pending approval', {});
    return undefined;
  }
  const link = await escalator.approveLink(approval.requestId, expiresAt).catch((error: Error) => {
    env.log.error('approve link not made', { error: error.message });
    return undefined;
  });
  return link && `Or approve in a browser: ${link} (until ${approval.expiresAt}; every gate runs again)`;
}

/**
 * An escalate request that carries its incident (`params.incident`: the DR failover function's
 * approval and failure pages, whose incidents live in the DR region's table): the incident is
 * recorded here first, into its group's incident, then that one is reconciled. A redelivery updates
 * the same incident and pages no tier twice. What the bus brought is checked before anything is
 * written: a request out of shape is refused, recorded as failed, and never retried.
 */
async function recordCarriedAndReconcile(
  env: ActionEnvironment,
  escalator: Escalator,
  request: ActionRequest,
  received: Promise<void>,
): Promise<ActionOutcome> {
  // The caller has awaited `received`: nothing is written before the action's own entry.
  const carried = readCarriedIncident(request.params.incident);
  // Only the failover's own incidents travel this way (its approval, failure and not-fenced pages):
  // a carried incident may not resolve or page over any other group, such as a probe's.
  if (carried.ok && !carried.incident.groupKey.startsWith('action:failover:')) {
    return {
      status: 'failed',
      summary: `refused: a carried incident must be one of the failover's (action:failover:...), not ${carried.incident.groupKey.slice(0, 100)}; nothing was recorded or paged`,
    };
  }
  if (!carried.ok) {
    return {
      status: 'failed',
      summary: `refused: the incident this request carries is not valid (${carried.problems.join('; ')}); nothing was recorded or paged`,
      data: { problems: carried.problems },
    };
  }
  const link = await approveLinkLine(env, escalator, request.params.approve);
  const source = link
    ? { ...carried.incident, summary: `${carried.incident.summary}\n${link}` }
    : carried.incident;
  const incident = await recordSourceIncident(source, source.status, env);
  if (!incident) {
    return {
      status: 'completed',
      summary: `nothing to escalate: the carried ${source.status} incident of ${source.groupKey.slice(0, 200)} opened nothing here`,
    };
  }
  const outcome = await reconcile(escalator, incident.id, request, received);
  return {
    ...outcome,
    summary: `incident ${incident.id} recorded from the carried ${source.status} source; ${outcome.summary}`,
    data: { ...outcome.data, incidentId: incident.id },
  };
}

/**
 * Paging along the escalation matrix. A scheduled request is the sweeper: it sends every tier whose
 * delay has passed without an acknowledgement, and notices still owed. Any other request names an
 * incident, or carries one from another region's table, and brings its escalation in line with it:
 * start paging, raise the severity, or end it with a resolved notice.
 */
export function createEscalateAction(env: ActionEnvironment): PerformAction {
  const { escalator } = env;
  if (!escalator)
    throw new Error(
      'the escalate capability needs an escalator: pass { escalator: escalatorFromEnv } to createActionHandler',
    );
  const perform = async (
    request: ActionRequest,
    { received }: ActionRun = { received: Promise.resolve() },
  ): Promise<ActionOutcome> => {
    // Only the incident's reconcile reads alongside the `action.received` write; the rest waits for it.
    if (request.trigger === 'schedule' || !request.incidentId) await received;
    if (request.trigger === 'schedule') {
      if (request.dryRun) return { status: 'completed', summary: 'sweep skipped (dry run): nothing paged' };
      const swept = await escalator.sweep();
      const summary = `swept ${swept.checked} due escalation${swept.checked === 1 ? '' : 's'}: ${swept.sent.length} sent${swept.sent.length ? ` (${describe(swept.sent)})` : ''}${swept.failed.length ? `; ${swept.failed.length} failed, retried next sweep` : ''}`;
      return {
        status: swept.failed.length > 0 ? 'failed' : 'completed',
        summary,
        data: { sent: swept.sent.length, failed: swept.failed },
        result: swept,
      };
    }
    if (request.params.incident !== undefined) {
      return recordCarriedAndReconcile(env, escalator, request, received);
    }
    if (!request.incidentId) {
      return { status: 'failed', summary: 'escalate needs an incident: the request names none' };
    }
    return reconcile(escalator, request.incidentId, request, received);
  };
  return Object.assign(perform, { readsFirst: true } as const);
}
