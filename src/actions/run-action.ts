import { makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { ResponderConfig } from '../config/schema.ts';
import type { ActionOutcome, ActionRequest } from '../domain/actions.ts';
import { type ActionKind, REMEDIATION_KINDS } from '../domain/actions.ts';
import type {
  ActionDispatcher,
  ActionIdempotency,
  AuditTrail,
  AutomationSwitch,
  Clock,
  IncidentStore,
  Log,
} from '../ports.ts';
import { recordActionOutcome } from './action-outcomes.ts';

/** What a capability reports back; `summary` goes into the audit trail as the operator will read it. */
export type { ActionOutcome };

/** What the wrapper hands a body besides its request. */
export interface ActionRun {
  /**
   * Settles once the `action.received` audit entry is written, and rejects when it could not be. A
   * body that says so (`readsFirst`) is started alongside that write and awaits this before its first
   * write or other effect; any other body starts only once it is written.
   */
  readonly received: Promise<void>;
}

/** The body of one capability (probe, backup, ...). It must honour `request.dryRun`. */
export interface PerformAction {
  /** `run` is absent when a body is called by itself, not by `runActionRequest` (tests). */
  (request: ActionRequest, run?: ActionRun): Promise<ActionOutcome>;
  /**
   * True when the body only reads until it has awaited `run.received`: its reads then go out
   * alongside the `action.received` write instead of after it. An action never acts before that
   * entry is written, so a failed audit write still gives the request back for the retry.
   */
  readonly readsFirst?: boolean;
}

export interface ActionDeps {
  readonly config: ResponderConfig;
  readonly incidents: IncidentStore;
  readonly audit: AuditTrail;
  readonly automation: AutomationSwitch;
  /** Where action ids are remembered, so that each request runs at most once. */
  readonly idempotency: ActionIdempotency;
  readonly clock: Clock;
  readonly log: Log;
  /** Where a failed remediation asks for a page; without one, failures are only audited. */
  readonly dispatcher?: ActionDispatcher;
}

/** What a request came to; a duplicate delivery gets the result stored by the run it duplicates. */
export type ActionResult =
  | { readonly status: 'skipped'; readonly reason: string }
  | { readonly status: 'done'; readonly outcome: ActionOutcome };

/**
 * Idempotency keys are `action#<hash of the action id>` whatever the kind: one persistence layer
 * serves every kind in the local runtime, and its key prefix must not change between calls.
 */
const IDEMPOTENCY_KEY_PREFIX = 'action';

/**
 * Runs one action request at most once, with Powertools idempotency keyed by its `actionId`
 * (EventBridge and Lambda async delivery are at-least-once): a duplicate gets the first run's stored
 * result, or an `IdempotencyAlreadyInProgressError` while that run has time left, which the
 * platform retries. It honours the kill switch, records each step in the audit trail, and lets the
 * record go when the body throws, so the platform's retry runs it again.
 */
export async function runActionRequest(
  kind: ActionKind,
  request: ActionRequest,
  perform: PerformAction,
  deps: ActionDeps,
): Promise<ActionResult> {
  const { clock, config } = deps;
  if (request.kind !== kind) {
    throw new Error(
      `the ${kind} function received a ${request.kind} request (${request.actionId}); check the bus rules`,
    );
  }
  const audit = (type: string, message: string, data: Record<string, unknown> = {}) =>
    deps.audit.appendAudit(
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

  let ran = false;
  let returned: ActionResult | undefined;
  /** The outcome's audit entry, written while the persistence layer stores the result. */
  let outcomeAudit: Promise<void> = Promise.resolve();
  const runOnce = makeIdempotent(
    async (_request: ActionRequest): Promise<ActionResult> => {
      ran = true;
      const body = await runBody(kind, request, perform, deps, audit);
      outcomeAudit = body.audited;
      // Stored as DynamoDB attributes by the persistence layer: plain JSON only (no undefined).
      returned = JSON.parse(JSON.stringify(body.result));
      return returned as ActionResult;
    },
    { ...deps.idempotency, keyPrefix: IDEMPOTENCY_KEY_PREFIX },
  );
  try {
    const result = await runOnce(request);
    await outcomeAudit;
    if (!ran) {
      deps.log.info('duplicate action request: returning the stored result of its first run', {
        actionId: request.actionId,
        kind,
      });
    }
    return result;
  } catch (error) {
    // Never rejects: its failure is logged where it is written.
    await outcomeAudit;
    if (returned === undefined) throw error;
    // The action has acted and its result could not be stored. Rethrowing would have the platform
    // retry it and, once the record's in-progress time ran out, run it a second time: report instead.
    deps.log.error(
      'action result not stored: a duplicate delivery after its in-progress time may run it again',
      {
        actionId: request.actionId,
        kind,
        error: (error as Error).message,
      },
    );
    await audit(
      'action.outcome-unrecorded',
      `${kind} ${returned.status}, but its result could not be stored for duplicates: ${(error as Error).message}`,
    ).catch(() => undefined);
    return returned;
  }
}

/**
 * The kill switch, the body and the audit trail, run once per action id (`runActionRequest`).
 * `audited` is the outcome's audit entry, still being written when this returns (it never rejects):
 * the caller awaits it alongside storing the result.
 */
async function runBody(
  kind: ActionKind,
  request: ActionRequest,
  perform: PerformAction,
  deps: ActionDeps,
  audit: (type: string, message: string, data?: Record<string, unknown>) => Promise<void>,
): Promise<{ result: ActionResult; audited: Promise<void> }> {
  const { clock, config } = deps;
  let outcome: ActionOutcome;
  let received: Promise<void> | undefined;
  try {
    if (REMEDIATION_KINDS.includes(kind)) {
      const flag = config.safety.automationEnabled
        ? await deps.automation.getAutomationFlag()
        : { enabled: false };
      if (!flag.enabled) {
        const reason = 'automation disabled';
        await audit('action.skipped', `skipped: ${reason} (${kind})`);
        return { result: { status: 'skipped', reason }, audited: Promise.resolve() };
      }
    }
    received = audit('action.received', `${kind} received${request.dryRun ? ' (dry run)' : ''}`);
    // Handled here so a failure while the body reads is not unhandled; awaiting it still throws.
    received.catch(() => undefined);
    // A body that only reads until it awaits `received` starts now; any other once it is written.
    if (!perform.readsFirst) await received;
    outcome = await perform(request, { received });
  } catch (error) {
    // Nothing still in flight when the failure is audited and the record deleted.
    await received?.catch(() => undefined);
    deps.log.error('action failed; its idempotency record is deleted for a retry', {
      actionId: request.actionId,
      kind,
      error: (error as Error).message,
    });
    await audit('action.failed', `${kind} failed: ${(error as Error).message}`).catch(() => undefined);
    throw error;
  }
  // The action has acted: from here on nothing may throw, or the record would be deleted and the
  // platform's retry would run it a second time (a second failover). Bookkeeping that fails is
  // reported, not retried. (The body awaited `received` before acting; this leaves nothing in flight.)
  await received.catch((error: Error) =>
    deps.log.error('action received not audited', { actionId: request.actionId, error: error.message }),
  );
  // The outcome's entry is written alongside what follows (the outcome's incident or page, and
  // storing the result); it is created first, so it lists before their entries.
  const audited = audit(`action.${outcome.status}`, outcome.summary, outcome.data).catch((error: Error) =>
    deps.log.error('action outcome not audited', { actionId: request.actionId, error: error.message }),
  );
  if (deps.dispatcher) {
    try {
      await recordActionOutcome(kind, request, outcome, {
        config,
        incidents: deps.incidents,
        audit: deps.audit,
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
  return { result: { status: 'done', outcome }, audited };
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
