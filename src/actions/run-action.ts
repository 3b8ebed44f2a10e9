import { type ActionKind, REMEDIATION_KINDS, type ResponderConfig } from '../config/schema.ts';
import type { ActionOutcome, ActionRequest } from '../domain/actions.ts';
import type { ActionDispatcher, Clock, Log, StateStore } from '../ports.ts';
import { recordActionOutcome } from './action-outcomes.ts';

/** What a capability reports back; `summary` goes into the audit trail as the operator will read it. */
export type { ActionOutcome };

/** The body of one capability (probe, backup, ...). It must honour `request.dryRun`. */
export type PerformAction = (request: ActionRequest) => Promise<ActionOutcome>;

export interface ActionDeps {
  readonly config: ResponderConfig;
  readonly store: StateStore;
  readonly clock: Clock;
  readonly log: Log;
  /** Where a failed remediation asks for a page; without one, failures are only audited. */
  readonly dispatcher?: ActionDispatcher;
}

export type ActionResult =
  | { readonly status: 'duplicate' }
  | { readonly status: 'skipped'; readonly reason: string }
  | { readonly status: 'done'; readonly outcome: ActionOutcome };

/** Longest time an action may hold its claim: Lambda's own 15-minute limit. */
const ACTION_LEASE_SECONDS = 900;
/** How long an action id is remembered, covering EventBridge and Lambda async retries (up to 24 h). */
const ACTION_MEMORY_SECONDS = 2 * 86400;

/**
 * Runs one action request at most once: claims its id (EventBridge and Lambda async delivery are
 * at-least-once), honours the kill switch, records each step in the audit trail, and gives the claim
 * back on failure so the platform's retry runs it again.
 */
export async function runActionRequest(
  kind: ActionKind,
  request: ActionRequest,
  perform: PerformAction,
  deps: ActionDeps,
): Promise<ActionResult> {
  const { store, clock, config } = deps;
  if (request.kind !== kind) {
    throw new Error(
      `the ${kind} function received a ${request.kind} request (${request.actionId}); check the bus rules`,
    );
  }
  const audit = (type: string, message: string, data: Record<string, unknown> = {}) =>
    store.appendAudit(
      {
        at: clock.now().toISOString(),
        incidentId: request.incidentId,
        type,
        actor: `${kind}-function`,
        message,
        data: { actionId: request.actionId, kind, trigger: request.trigger, dryRun: request.dryRun, ...data },
      },
      config.auditRetentionDays,
    );

  if ((await store.claimAction(request.actionId, clock.now(), ACTION_LEASE_SECONDS)) === 'duplicate') {
    deps.log.info('duplicate action request ignored', { actionId: request.actionId, kind });
    return { status: 'duplicate' };
  }
  let outcome: ActionOutcome;
  try {
    if (REMEDIATION_KINDS.includes(kind)) {
      const flag = config.safety.automationEnabled ? await store.getAutomationFlag() : { enabled: false };
      if (!flag.enabled) {
        const reason = 'automation disabled';
        await audit('action.skipped', `skipped: ${reason} (${kind})`);
        await store.finishAction(request.actionId, clock.now(), ACTION_MEMORY_SECONDS, 'skipped');
        return { status: 'skipped', reason };
      }
    }
    await audit('action.received', `${kind} received${request.dryRun ? ' (dry run)' : ''}`);
    outcome = await perform(request);
  } catch (error) {
    deps.log.error('action failed; giving the claim back for a retry', {
      actionId: request.actionId,
      kind,
      error: (error as Error).message,
    });
    await audit('action.failed', `${kind} failed: ${(error as Error).message}`).catch(() => undefined);
    await store.releaseAction(request.actionId).catch(() => undefined);
    throw error;
  }
  // The action has acted: from here on nothing may give the claim back, or the platform's retry
  // would run it a second time (a second failover). Bookkeeping that fails is reported, not retried.
  await audit(`action.${outcome.status}`, outcome.summary, outcome.data).catch((error: Error) =>
    deps.log.error('action outcome not audited', { actionId: request.actionId, error: error.message }),
  );
  if (deps.dispatcher) {
    try {
      await recordActionOutcome(kind, request, outcome, {
        config,
        store,
        clock,
        dispatcher: deps.dispatcher,
      });
    } catch (error) {
      deps.log.error('action outcome not recorded: its incident or page may be missing', {
        actionId: request.actionId,
        kind,
        outcome: outcome.status,
        error: (error as Error).message,
      });
      await audit(
        'action.outcome-unrecorded',
        `${kind} ${outcome.status}, but its incident and page could not be requested: ${(error as Error).message}`,
      ).catch(() => undefined);
    }
  }
  await store.finishAction(request.actionId, clock.now(), ACTION_MEMORY_SECONDS, outcome.status);
  return { status: 'done', outcome };
}

/**
 * The body each capability has until its own issue gives it one: the request is accepted and audited,
 * and nothing in production is touched.
 */
export function recordRequestOnly(kind: ActionKind): PerformAction {
  return async (request) => ({
    status: 'recorded',
    summary: `${kind} request recorded${request.dryRun ? ' (dry run)' : ''}; this release does not carry out ${kind} actions yet`,
    data: { params: request.params },
  });
}
