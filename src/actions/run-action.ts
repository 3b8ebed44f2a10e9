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

/** The body of one capability (probe, backup, ...). It must honour `request.dryRun`. */
export type PerformAction = (request: ActionRequest) => Promise<ActionOutcome>;

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
  const runOnce = makeIdempotent(
    async (_request: ActionRequest): Promise<ActionResult> => {
      ran = true;
      // Stored as DynamoDB attributes by the persistence layer: plain JSON only (no undefined).
      returned = JSON.parse(JSON.stringify(await runBody(kind, request, perform, deps, audit)));
      return returned as ActionResult;
    },
    { ...deps.idempotency, keyPrefix: IDEMPOTENCY_KEY_PREFIX },
  );
  try {
    const result = await runOnce(request);
    if (!ran) {
      deps.log.info('duplicate action request: returning the stored result of its first run', {
        actionId: request.actionId,
        kind,
      });
    }
    return result;
  } catch (error) {
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

/** The kill switch, the body and the audit trail, run once per action id (`runActionRequest`). */
async function runBody(
  kind: ActionKind,
  request: ActionRequest,
  perform: PerformAction,
  deps: ActionDeps,
  audit: (type: string, message: string, data?: Record<string, unknown>) => Promise<void>,
): Promise<ActionResult> {
  const { clock, config } = deps;
  let outcome: ActionOutcome;
  try {
    if (REMEDIATION_KINDS.includes(kind)) {
      const flag = config.safety.automationEnabled
        ? await deps.automation.getAutomationFlag()
        : { enabled: false };
      if (!flag.enabled) {
        const reason = 'automation disabled';
        await audit('action.skipped', `skipped: ${reason} (${kind})`);
        return { status: 'skipped', reason };
      }
    }
    await audit('action.received', `${kind} received${request.dryRun ? ' (dry run)' : ''}`);
    outcome = await perform(request);
  } catch (error) {
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
  // reported, not retried.
  await audit(`action.${outcome.status}`, outcome.summary, outcome.data).catch((error: Error) =>
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
