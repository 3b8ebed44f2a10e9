import type { ActionEnvironment } from '../../src/actions/environment.ts';
import type { ActionOutcome, ActionRun, PerformAction } from '../../src/actions/run-action.ts';
import type { ActionRequest } from '../../src/domain/actions.ts';
import type { Delivered } from '../../src/escalation/escalator.ts';

function describe(sent: readonly Delivered[]): string {
  return sent
    .map(
      (notice) =>
        `${notice.event === 'page' ? 'paged' : `${notice.event} notice to`} ${notice.tier}/${notice.topic}`,
    )
    .join(', ');
}

/**
 * Paging along the escalation matrix. A scheduled request is the sweeper: it sends every tier whose
 * delay has passed without an acknowledgement, and notices still owed. Any other request names an
 * incident, and brings its escalation in line with it: start paging, raise the severity, or end it
 * with a resolved notice.
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
    if (!request.incidentId) {
      return { status: 'failed', summary: 'escalate needs an incident: the request names none' };
    }
    const report = await escalator.reconcile(request.incidentId, {
      dryRun: request.dryRun,
      beforeWrites: received,
    });
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
  };
  return Object.assign(perform, { readsFirst: true } as const);
}
