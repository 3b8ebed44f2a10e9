import type { PerformAction } from '../../src/actions/run-action.ts';
import type { FailoverConfig } from '../../src/config/failover.ts';
import { failoverRecordSet } from '../../src/config/failover-records.ts';
import type { ResponderConfig } from '../../src/config/schema.ts';
import type { ActionOutcome, ActionRequest } from '../../src/domain/actions.ts';
import type { ProbeResult } from '../../src/domain/probes.ts';
import type {
  AuditTrail,
  Clock,
  DatabaseFailover,
  DnsRecordSet,
  DnsZone,
  FailoverApproval,
  FailoverSite,
  FailoverState,
  FailoverStore,
  FenceResult,
  Log,
} from '../../src/ports.ts';
import { type DrillParts, runDrill } from './drill.ts';

export interface GateResult {
  readonly gate: string;
  readonly ok: boolean;
  readonly detail: string;
  readonly ms: number;
  /** A refusal a human may overrule by approving (the data loss of a lagging replica). */
  readonly approvable?: boolean;
  /** The database gate: the replica's lag it judged. */
  readonly lagSeconds?: number;
}

export interface FailoverDeps {
  readonly config: ResponderConfig;
  readonly store: FailoverStore;
  /** `records` mode: the zone the UPSERT goes to (Route 53 in AWS, the state table locally). */
  readonly zone?: DnsZone;
  /** Probes the named targets now, as the probe function would (each with its own timeout). */
  readonly probe: (targets: readonly string[]) => Promise<ProbeResult[]>;
  /** What the zone's authoritative servers answer for the record now (verification after the move). */
  readonly resolve?: (name: string, type: DnsRecordSet['type']) => Promise<string[]>;
  readonly audit: AuditTrail;
  readonly clock: Clock;
  readonly log: Log;
  /**
   * Under policy `approve`: opens (or updates) the P1 incident and pages with the approve link and the
   * gate results; returns the incident id.
   */
  readonly requestApproval?: (approval: FailoverApproval) => Promise<string | undefined>;
  /**
   * The step before DNS moves (the next issue: promote the DR database, fence the old primary). A
   * gate like the others: a refusal stops the failover before anything in DNS changes.
   */
  readonly beforeMove?: (
    to: FailoverSite,
    request: ActionRequest,
  ) => Promise<{ ok: boolean; detail: string }>;
  /**
   * The database step (`failover.database`): fence the old primary, check the replica's lag, promote
   * it, before DNS moves.
   */
  readonly database?: DatabaseFailover;
  /** Pages about what humans must know although the failover went on (an old primary not fenced). */
  readonly warn?: (warning: FailoverWarning) => Promise<void>;
  /** Between verification polls and failback probes; injected in tests. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** How long verification waits for DNS and probes. @default 120 s */
  readonly verifyTimeoutMs?: number;
}

export interface FailoverWarning {
  readonly requestId: string;
  readonly to: FailoverSite;
  readonly title: string;
  readonly summary: string;
  readonly incidentId?: string;
}

const siteName = (site: FailoverSite) => (site === 'dr' ? 'the DR site' : 'the primary site');

/** The record set a site's value makes (shared with the local DNS listener). */
export const recordFor = failoverRecordSet;

function policyFor(failover: FailoverConfig, trigger: ActionRequest['trigger']) {
  return trigger === 'operator' ? failover.policy.operator : failover.policy.alert;
}

/**
 * DNS failover, gated. The gates run in order, each recorded in the audit trail, and a refusal says
 * why and what would let it pass: the kill switch (the action wrapper), the trigger's policy, one
 * failover at a time (the lock), the cooldown since the last move (an operator may force it with a
 * reason), the primary is really down (its targets fail now, probed here; for failback: healthy for
 * N consecutive probes), and the DR site is ready (its targets pass now). Then the step before DNS
 * moves, the move (`switch`: one conditional write of the switch in the DR region; `records`: an
 * UPSERT), and verification: the authoritative answer, then the new site's probes, each timed from
 * the decision. A dry run runs every gate and reports the exact change.
 */
export function createFailoverAction(deps: FailoverDeps & DrillParts): PerformAction {
  const perform = async (request: ActionRequest): Promise<ActionOutcome> => {
    const failover = deps.config.failover;
    if (!failover) {
      // Not a failed remediation to page about: there is nothing to fail over with.
      return {
        status: 'recorded',
        subject: 'dns',
        summary: 'failover is not configured: add a failover section (zone, record, sites) to the config',
      };
    }
    const params = request.params;
    if (params.status === true) return status(deps, failover);
    if (typeof params.approve === 'string') return approveAndRun(deps, failover, request, params.approve);
    if (typeof params.drillReport === 'string') {
      const report = /^drill-[A-Za-z0-9-]{1,80}$/.test(params.drillReport)
        ? await deps.store.getDrillReport(params.drillReport)
        : undefined;
      return {
        status: report ? 'completed' : 'recorded',
        subject: 'drill',
        summary: report
          ? `drill ${report.drillId} ${report.passed ? 'passed' : 'FAILED'} (${report.startedAt})`
          : `no drill report ${params.drillReport.slice(0, 100)}`,
        result: { drill: params.drillReport.slice(0, 100), report: report ?? null },
      };
    }
    if (params.drill === true) {
      if (request.trigger !== 'operator') {
        return { status: 'recorded', subject: 'drill', summary: 'refused: only an operator starts a drill' };
      }
      // Each leg is a planned failover: the primary answers, and is fenced rather than found down.
      return runDrill(deps, failover, request, (leg) => {
        PLANNED.add(leg);
        return perform(leg);
      });
    }
    const to =
      params.to === 'primary' ? 'primary' : params.to === 'dr' || params.to === undefined ? 'dr' : undefined;
    if (!to) {
      return {
        status: 'recorded',
        subject: 'dns',
        summary: `refused: params.to must be "dr" or "primary", not ${JSON.stringify(params.to).slice(0, 40)}`,
      };
    }
    const policy = policyFor(failover, request.trigger);
    const policyGate: GateResult = {
      gate: 'policy',
      ok: policy !== 'deny',
      detail:
        policy === 'deny'
          ? `policy.${request.trigger === 'operator' ? 'operator' : 'alert'} is "deny": this trigger may not fail over; change the policy or ask an operator`
          : `policy.${request.trigger === 'operator' ? 'operator' : 'alert'} is "${policy}"`,
      ms: 0,
    };
    if (!policyGate.ok) return refused(deps, request, to, [policyGate]);
    if (policy === 'approve' && !request.dryRun) {
      const state = await deps.store.getFailoverState();
      const gates = [policyGate, ...(await worldGates(deps, failover, request, to, state))];
      return askForApproval(deps, failover, request, to, gates);
    }
    return runGatesAndMove(deps, failover, request, to, [policyGate]);
  };
  return perform;
}

/** A drill's legs: planned failovers (made here, never from a request's params). */
const PLANNED = new WeakSet<ActionRequest>();

async function status(deps: FailoverDeps, failover: FailoverConfig): Promise<ActionOutcome> {
  const state = await deps.store.getFailoverState();
  const cooldownEnds = cooldownEnd(state, failover);
  return {
    status: 'completed',
    subject: 'dns',
    summary: `${siteName(state.active)} is active${state.since ? ` since ${state.since}` : ''}${state.lastChange ? ` (moved by ${state.lastChange.by})` : ''}`,
    result: {
      active: state.active,
      since: state.since ?? null,
      lastChange: state.lastChange ?? null,
      mode: failover.mode,
      record: recordFor(failover, state.active),
      cooldownEndsAt: cooldownEnds && cooldownEnds > deps.clock.now() ? cooldownEnds.toISOString() : null,
    },
  };
}

function cooldownEnd(state: FailoverState, failover: FailoverConfig): Date | undefined {
  if (!state.lastChange) return undefined;
  return new Date(Date.parse(state.lastChange.at) + failover.cooldownMinutes * 60_000);
}

async function recordGate(deps: FailoverDeps, request: ActionRequest, gate: GateResult, to: FailoverSite) {
  await deps.audit
    .appendAudit(
      {
        at: deps.clock.now().toISOString(),
        incidentId: request.incidentId,
        type: gate.ok ? 'failover.gate-passed' : 'failover.gate-refused',
        actor: 'failover-function',
        message: `${gate.gate}: ${gate.detail}`,
        data: {
          actionId: request.actionId,
          to,
          gate: gate.gate,
          ok: gate.ok,
          ms: gate.ms,
          dryRun: request.dryRun,
        },
      },
      deps.config.auditRetentionDays,
    )
    .catch((error: Error) => deps.log.warn('failover gate not audited', { error: error.message }));
}

async function refused(
  deps: FailoverDeps,
  request: ActionRequest,
  to: FailoverSite,
  gates: GateResult[],
): Promise<ActionOutcome> {
  for (const gate of gates) await recordGate(deps, request, gate, to);
  const failed = gates.find((gate) => !gate.ok);
  return {
    // A refusal is the failover doing its job: recorded, not a failed remediation that pages.
    status: 'recorded',
    subject: 'dns',
    summary: `failover to ${siteName(to)} refused at ${failed?.gate}: ${failed?.detail}`,
    data: { to, refusedAt: failed?.gate },
    result: { to, moved: false, gates },
  };
}

/** Times one gate. */
async function timed(
  gate: string,
  check: () => Promise<{ ok: boolean; detail: string; approvable?: boolean; lagSeconds?: number }>,
): Promise<GateResult> {
  const started = performance.now();
  try {
    const { ok, detail, approvable, lagSeconds } = await check();
    return {
      gate,
      ok,
      detail,
      ms: Math.round(performance.now() - started),
      ...(approvable ? { approvable } : {}),
      ...(lagSeconds === undefined ? {} : { lagSeconds }),
    };
  } catch (error) {
    return {
      gate,
      ok: false,
      detail: `could not check: ${(error as Error).message}`,
      ms: Math.round(performance.now() - started),
    };
  }
}

const describeResults = (results: readonly ProbeResult[]) =>
  results.map((r) => `${r.target} ${r.ok ? 'ok' : 'FAILING'} (${r.detail})`).join('; ');

/** The gates that look at the world: cooldown, the primary is down (or healthy, for failback), the DR site is ready. */
async function worldGates(
  deps: FailoverDeps,
  failover: FailoverConfig,
  request: ActionRequest,
  to: FailoverSite,
  state: FailoverState,
): Promise<GateResult[]> {
  const gates: GateResult[] = [];
  const now = deps.clock.now();
  const forced = request.trigger === 'operator' && request.params.force === true;
  const reason = typeof request.params.reason === 'string' ? request.params.reason.trim() : '';
  gates.push(
    await timed('cooldown', async () => {
      const ends = cooldownEnd(state, failover);
      if (!ends || ends <= now)
        return { ok: true, detail: `no move within the last ${failover.cooldownMinutes} minutes` };
      if (forced && reason.length >= 3) {
        return {
          ok: true,
          detail: `cooldown until ${ends.toISOString()} overridden by an operator: ${reason.slice(0, 200)}`,
        };
      }
      return {
        ok: false,
        detail: `the last move was at ${state.lastChange?.at}; the cooldown lasts until ${ends.toISOString()}: wait, or as an operator pass --force with --reason`,
      };
    }),
  );
  if (!gates.at(-1)?.ok) return gates;
  if (to === 'dr' && isDrill(request)) {
    gates.push({
      gate: 'planned',
      ok: true,
      detail:
        'drill: a planned failover while the primary answers (its targets are not asked to fail); the old primary is fenced before anything is promoted',
      ms: 0,
    });
  } else if (to === 'dr') {
    gates.push(
      await timed('primary-down', async () => {
        const results = await deps.probe(failover.primary.targets);
        const failing = results.filter((r) => !r.ok).length;
        const needed = failover.primaryDownMinFailing ?? failover.primary.targets.length;
        return failing >= needed
          ? {
              ok: true,
              detail: `${failing} of ${results.length} primary targets fail now: ${describeResults(results)}`,
            }
          : {
              ok: false,
              detail: `the primary answers (${failing} of ${results.length} targets fail, ${needed} needed): ${describeResults(results)}; failing over now would split the traffic`,
            };
      }),
    );
    if (!gates.at(-1)?.ok) return gates;
  } else {
    gates.push(
      await timed('primary-healthy', async () => {
        const rounds = failover.failbackConsecutiveHealthy;
        for (let round = 1; round <= rounds; round += 1) {
          const results = await deps.probe(failover.primary.targets);
          if (results.some((r) => !r.ok)) {
            return {
              ok: false,
              detail: `probe ${round} of ${rounds}: ${describeResults(results)}; fail back once the primary passes ${rounds} probes in a row`,
            };
          }
          if (round < rounds) await (deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))))(1000);
        }
        return { ok: true, detail: `the primary passed ${rounds} consecutive probes` };
      }),
    );
    if (!gates.at(-1)?.ok) return gates;
  }
  const target = to === 'dr' ? failover.dr : failover.primary;
  if (to === 'dr') {
    gates.push(
      await timed('dr-ready', async () => {
        const results = await deps.probe(target.targets);
        return results.every((r) => r.ok)
          ? { ok: true, detail: `every DR target passes now: ${describeResults(results)}` }
          : {
              ok: false,
              detail: `the DR site is not ready: ${describeResults(results)}; fix it before failing over to it`,
            };
      }),
    );
    if (!gates.at(-1)?.ok) return gates;
  }
  const database = deps.database;
  if (failover.database && !database) {
    gates.push({
      gate: 'database',
      ok: false,
      detail: `failover.database (${failover.database.engine}) is configured but there is no engine for it here (RDS and Aurora have no local stand-in): DNS alone would move while the database stays`,
      ms: 0,
    });
  } else if (database && failover.database) {
    const limit = failover.database.maxLagSeconds;
    gates.push(await timed('database', () => databaseGate(database, limit, request, to)));
  }
  return gates;
}

const isDrill = (request: ActionRequest) => PLANNED.has(request);

/** Pages that the old primary was not fenced: it may come back and take writes. */
async function warnNotFenced(
  deps: FailoverDeps,
  request: ActionRequest,
  to: FailoverSite,
  fence: FenceResult,
  moved: boolean,
) {
  await deps
    .warn?.({
      requestId: request.actionId,
      to,
      title: moved
        ? `Failed over to ${siteName(to)}, but the old primary database is NOT FENCED`
        : `A failover to ${siteName(to)} stopped, and the old primary database is NOT FENCED`,
      summary: `${fence.detail}. Make sure it cannot take writes (stop it, or ALTER SYSTEM SET default_transaction_read_only = on) before it comes back.`,
      incidentId: request.incidentId,
    })
    .catch((error: Error) => deps.log.error('not-fenced page not sent', { error: error.message }));
}
const otherSite = (site: FailoverSite): FailoverSite => (site === 'dr' ? 'primary' : 'dr');

/**
 * The database gate: the site's database can become the writer without losing more than the limit.
 * Failing over, the DR replica's lag is the data a promotion would lose. Failing back, the old
 * primary must have been rebuilt as a standby of the DR database: promoting it as it was would throw
 * away every write the DR site took.
 */
async function databaseGate(
  database: DatabaseFailover,
  maxLagSeconds: number,
  request: ActionRequest,
  to: FailoverSite,
): Promise<{ ok: boolean; detail: string; approvable?: boolean; lagSeconds?: number }> {
  const accepted = request.params.acceptDataLoss === true;
  const target = await database.inspect(to);
  const name = to === 'dr' ? 'the DR database' : 'the primary database';
  if (target.role === 'writer') {
    if (to === 'dr') {
      // A failover that promoted it and then stopped, or a DR database left a writer by an earlier
      // failback and never rebuilt: stale. Only an operator can tell.
      if (request.params.drPromoted === true) {
        return {
          ok: true,
          detail: `${target.detail}: promoted by an earlier attempt, as the operator confirmed`,
        };
      }
      return {
        ok: false,
        detail: `${target.detail} although the primary site is active: it may be stale (left a writer by an earlier failback and never rebuilt as a standby); rebuild it as a standby of the primary, or if a failover that stopped promoted it, pass --dr-promoted as an operator`,
      };
    }
    const dr = await database.inspect('dr').catch(() => undefined);
    if (dr?.role === 'replica') {
      return {
        ok: true,
        detail: `${target.detail} and the DR database is still its replica: nothing to promote`,
      };
    }
    return {
      ok: false,
      detail: `${target.detail}, not a standby of the DR database${dr ? '' : ' (the DR database does not answer)'}: failing back now would throw away the writes the DR site took; rebuild the old primary as a standby of the DR database (pg_basebackup -R, or a new read replica), then fail back`,
    };
  }
  if (to === 'primary' && target.streaming === false && request.params.primaryRebuilt !== true) {
    return {
      ok: false,
      detail: `${target.detail}: it does not replicate from the DR database now; check that it was rebuilt as a standby of the DR database and catches up, then fail back (an operator who has checked may pass --primary-rebuilt)`,
    };
  }
  if (target.lagSeconds === undefined) {
    return {
      ok: true,
      detail: `${target.detail}; the engine reports no lag figure: the data loss is not known`,
    };
  }
  if (target.lagSeconds <= maxLagSeconds) {
    return { ok: true, detail: `${target.detail}; within maxLagSeconds ${maxLagSeconds}` };
  }
  const bound = request.params.maxAcceptedLagSeconds;
  if (accepted && typeof bound === 'number' && target.lagSeconds > bound) {
    return {
      ok: false,
      approvable: true,
      lagSeconds: target.lagSeconds,
      detail: `${target.detail}: the loss grew beyond what was approved (up to ${bound} s): ask for approval again`,
    };
  }
  if (accepted) {
    return {
      ok: true,
      detail: `${target.detail}; over maxLagSeconds ${maxLagSeconds}: the loss of up to about ${target.lagSeconds} s of writes was accepted`,
    };
  }
  return {
    ok: false,
    approvable: true,
    lagSeconds: target.lagSeconds,
    detail: `${target.detail}; over maxLagSeconds ${maxLagSeconds}: promoting ${name} now would lose about ${target.lagSeconds} s of writes; wait for it to catch up, or accept the loss (approval, or --accept-data-loss as an operator)`,
  };
}

async function askForApproval(
  deps: FailoverDeps,
  failover: FailoverConfig,
  request: ActionRequest,
  to: FailoverSite,
  gates: GateResult[],
): Promise<ActionOutcome> {
  const now = deps.clock.now();
  const approval: FailoverApproval = {
    requestId: request.actionId,
    to,
    trigger: request.trigger,
    requestedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + failover.approvalTtlMinutes * 60_000).toISOString(),
    status: 'pending',
    // Bounded: the item stays far below DynamoDB's 400 KB whatever the probes said.
    gates: gates.slice(0, 20).map(({ gate, ok, detail, approvable, lagSeconds }) => ({
      gate,
      ok,
      detail: detail.slice(0, 1000),
      ...(approvable ? { approvable } : {}),
      ...(lagSeconds === undefined ? {} : { lagSeconds }),
    })),
    incidentId: request.incidentId,
  };
  await deps.store.saveApproval(approval);
  const incidentId = await deps.requestApproval?.(approval).catch((error: Error) => {
    deps.log.error('approval page not sent', { error: error.message });
    return undefined;
  });
  if (incidentId && incidentId !== approval.incidentId)
    await deps.store.saveApproval({ ...approval, incidentId });
  for (const gate of gates) await recordGate(deps, request, gate, to);
  return {
    status: 'recorded',
    subject: 'dns',
    summary: `failover to ${siteName(to)} waits for approval until ${approval.expiresAt}: responder failover approve ${request.actionId} (gates now: ${gates.map((g) => `${g.gate} ${g.ok ? 'ok' : 'refused'}`).join(', ')})`,
    data: { to, approval: request.actionId },
    result: {
      to,
      moved: false,
      approval: { requestId: request.actionId, expiresAt: approval.expiresAt },
      gates,
    },
  };
}

async function approveAndRun(
  deps: FailoverDeps,
  failover: FailoverConfig,
  request: ActionRequest,
  requestId: string,
): Promise<ActionOutcome> {
  const approval = await deps.store.getApproval(requestId);
  const by = typeof request.params.by === 'string' ? request.params.by.slice(0, 80) : 'operator';
  if (!approval) {
    return {
      status: 'recorded',
      subject: 'dns',
      summary: `no failover request ${requestId.slice(0, 100)} waits for approval`,
      result: { moved: false, approval: 'unknown' },
    };
  }
  const now = deps.clock.now();
  if (!(await deps.store.approve(requestId, by, now))) {
    const why =
      approval.status !== 'pending' ? `it is ${approval.status}` : `it expired at ${approval.expiresAt}`;
    return {
      status: 'recorded',
      subject: 'dns',
      summary: `failover ${requestId} cannot be approved: ${why}; request a new one`,
      result: { moved: false, approval: approval.status },
    };
  }
  // The world may have changed since the request: every gate runs again.
  // The page stated a lagging replica's data loss: approving accepts it.
  // Only a loss the page stated as such (an approvable refusal), and not much more than it stated.
  const stated = approval.gates.find((gate) => gate.gate === 'database' && !gate.ok && gate.approvable);
  const acceptDataLoss = stated !== undefined;
  const maxAcceptedLagSeconds =
    stated?.lagSeconds === undefined ? undefined : stated.lagSeconds + Math.max(30, stated.lagSeconds);
  const approvedGate: GateResult = {
    gate: 'approval',
    ok: true,
    detail: `approved by ${by}${acceptDataLoss ? ', accepting the data loss the request stated' : ''}`,
    ms: 0,
  };
  return runGatesAndMove(
    deps,
    failover,
    {
      ...request,
      incidentId: request.incidentId ?? approval.incidentId,
      params: {
        ...request.params,
        ...(acceptDataLoss ? { acceptDataLoss: true } : {}),
        ...(maxAcceptedLagSeconds === undefined ? {} : { maxAcceptedLagSeconds }),
      },
    },
    approval.to,
    [approvedGate],
  );
}

async function runGatesAndMove(
  deps: FailoverDeps,
  failover: FailoverConfig,
  request: ActionRequest,
  to: FailoverSite,
  gates: GateResult[],
): Promise<ActionOutcome> {
  const decided = performance.now();
  const holder = request.actionId;
  const now = deps.clock.now();
  const lockGate = await timed('lock', async () => {
    if (request.dryRun) return { ok: true, detail: 'dry run: the lock is not taken' };
    // As long as the function may run (15 minutes): a lease that ends mid-promotion lets a second in.
    const taken = await deps.store.lockFailover(holder, now, new Date(now.getTime() + 15 * 60_000));
    return taken
      ? { ok: true, detail: 'no other failover is running' }
      : {
          ok: false,
          detail: 'another failover is running: wait for it to finish (responder failover status)',
        };
  });
  gates.push(lockGate);
  if (!lockGate.ok) return refused(deps, request, to, gates);
  try {
    const state = await deps.store.getFailoverState();
    if (state.active === to) {
      gates.push({
        gate: 'already-there',
        ok: false,
        detail: `${siteName(to)} is already active${state.since ? ` since ${state.since}` : ''}: nothing to do`,
        ms: 0,
      });
      return refused(deps, request, to, gates);
    }
    gates.push(...(await worldGates(deps, failover, request, to, state)));
    const refusal = gates.find((gate) => !gate.ok);
    // A lagging replica under overLag "approve": a human accepts the stated loss, or it waits.
    if (refusal?.approvable && failover.database?.overLag === 'approve' && !request.dryRun) {
      return askForApproval(deps, failover, request, to, gates);
    }
    if (refusal) return refused(deps, request, to, gates);
    const record = recordFor(failover, to);
    const change =
      failover.mode === 'switch'
        ? `switch: the DR region's switch moves to "${to}" (Route 53 then answers ${record.values.join(', ')} for ${record.name} ${record.type})`
        : `records: UPSERT ${record.name} ${record.type} TTL ${record.ttl} → ${record.values.join(', ')} in ${failover.hostedZoneId}`;
    if (request.dryRun) {
      for (const gate of gates) await recordGate(deps, request, gate, to);
      return {
        status: 'completed',
        subject: 'dns',
        summary: `dry run: every gate passes; would change ${change}`,
        result: { to, moved: false, dryRun: true, change, gates },
      };
    }
    const steps: GateResult[] = [];
    let fence: FenceResult | undefined;
    let lagSeconds: number | undefined;
    if (deps.database && failover.database) {
      const database = deps.database;
      const from = otherSite(to);
      // Stops the failover before DNS moves: the steps so far and why, a page, and the old primary
      // made writable again when nothing was promoted (a drill must not leave production read-only).
      const stop = async () => {
        if (fence?.reachable && fence.fenced && database.unfence) {
          const target = await database.inspect(to).catch(() => undefined);
          steps.push(
            await timed('unfence', async () => {
              if (target?.role !== 'replica') {
                return {
                  ok: false,
                  detail: `${from === 'primary' ? 'the primary' : 'the DR'} database stays fenced (read-only): ${to === 'dr' ? 'the DR' : 'the primary'} database may have been promoted; check both before undoing the fence`,
                };
              }
              return {
                ok: true,
                detail: await (database.unfence as (s: FailoverSite) => Promise<string>)(from),
              };
            }),
          );
        }
        for (const gate of gates) await recordGate(deps, request, gate, to);
        return failedAfter(deps, request, to, gates, steps, fence);
      };
      // Fence first: once the DR database takes writes, the old primary must not. A reachable primary
      // that could not be fenced stops the failover, whoever asks: fence it or stop it by hand.
      steps.push(
        await timed('fence', async () => {
          fence = await database.fence(from);
          if (fence.reachable && !fence.fenced) {
            return {
              ok: false,
              detail: `${fence.detail}: promoting now would leave two writers (split brain); make it read-only or stop it by hand, then retry`,
            };
          }
          if (isDrill(request) && !fence.fenced) {
            return {
              ok: false,
              detail: `${fence.detail}: a drill needs the primary to answer and be fenced`,
            };
          }
          return { ok: true, detail: fence.detail };
        }),
      );
      if (!steps.at(-1)?.ok) return stop();
      // Aurora without the old writer's region can only fail over (FailoverGlobalCluster), losing what
      // was not replicated: a human accepts that first, as for a lagging replica. Nothing changed yet.
      if (
        database.engine === 'aurora-global' &&
        !fence?.reachable &&
        request.params.acceptDataLoss !== true
      ) {
        const gate: GateResult = {
          gate: 'database',
          ok: false,
          approvable: true,
          detail: `the ${from === 'primary' ? 'primary' : 'DR'} region's cluster does not answer, so no switchover: only FailoverGlobalCluster can promote, losing the writes it had not replicated; accept the loss (approval, or --accept-data-loss as an operator)`,
          ms: steps.reduce((sum, step) => sum + step.ms, 0),
        };
        if (failover.database.overLag === 'approve')
          return askForApproval(deps, failover, request, to, [...gates, gate]);
        return refused(deps, request, to, [...gates, ...steps, gate]);
      }
      const promoteTimeoutMs = failover.database.promoteTimeoutSeconds * 1000;
      // A fenced writer that answers: the replica replays all it wrote first, so nothing is lost.
      const replica = (await database.inspect(to).catch(() => undefined))?.role === 'replica';
      if (fence?.reachable && fence.fenced && replica && database.awaitCatchUp) {
        const catchUp = database.awaitCatchUp;
        steps.push(
          await timed('catch-up', async () => ({
            ok: true,
            detail: await catchUp.call(database, from, to, Math.min(promoteTimeoutMs, 120_000)),
          })),
        );
        if (!steps.at(-1)?.ok) return stop();
      }
      steps.push(
        await timed('promote', async () => {
          const before = await database.inspect(to).catch(() => undefined);
          lagSeconds = before?.lagSeconds;
          try {
            const promoted = await database.promote(to, {
              timeoutMs: promoteTimeoutMs,
              sourceAnswers: fence?.reachable === true,
              allowDataLoss: request.params.acceptDataLoss === true,
            });
            return {
              ok: true,
              detail: `${promoted.detail}${lagSeconds === undefined ? '' : ` (replay lag at promotion ${lagSeconds} s)`}`,
            };
          } catch (error) {
            return {
              ok: false,
              detail: `${(error as Error).message}: the failover stopped before DNS moved`,
            };
          }
        }),
      );
      if (!steps.at(-1)?.ok) return stop();
    }
    if (deps.beforeMove) {
      gates.push(
        await timed('before-dns', () =>
          (deps.beforeMove as NonNullable<FailoverDeps['beforeMove']>)(to, request),
        ),
      );
      if (!gates.at(-1)?.ok) return refused(deps, request, to, gates);
    }
    for (const gate of gates) await recordGate(deps, request, gate, to);
    const by = typeof request.params.by === 'string' ? request.params.by.slice(0, 80) : `${request.trigger}`;
    const moved = await timed('move', async () => {
      if (failover.mode === 'records') {
        if (!deps.zone) throw new Error('records mode needs the zone');
        // What it answered before, for the audit trail (and a failback by hand if it comes to that).
        const before = await deps.zone.getRecord(record.name, record.type).catch(() => undefined);
        const applied = await deps.zone.upsertRecord(record);
        return {
          ok: true,
          detail: `UPSERT ${record.name} ${before ? before.values.join(', ') : '(none)'} → ${record.values.join(', ')} (change ${applied.changeId}, INSYNC after ${applied.insyncAfterMs} ms)`,
        };
      }
      return { ok: true, detail: `switch set to ${to}` };
    });
    const next: FailoverState = {
      active: to,
      since: deps.clock.now().toISOString(),
      lastChange: {
        from: state.active,
        to,
        at: deps.clock.now().toISOString(),
        by,
        requestId: request.actionId,
        ...(typeof request.params.reason === 'string' ? { reason: request.params.reason.slice(0, 500) } : {}),
        ...(request.params.force === true ? { forced: true } : {}),
      },
      version: state.version + 1,
    };
    if (moved.ok && !(await deps.store.saveFailoverState(next, state.version))) {
      steps.push({
        gate: 'move',
        ok: false,
        detail: 'the switch changed under this failover (someone else moved it): nothing more was done',
        ms: moved.ms,
      });
      return failedAfter(deps, request, to, gates, steps, fence);
    }
    steps.push(moved);
    if (!moved.ok) return failedAfter(deps, request, to, gates, steps, fence);
    // Verification: the authoritative answer, then the new site's probes, timed from the decision.
    const sleep = deps.sleep ?? ((ms: number) => new Promise((resolve) => setTimeout(resolve, ms)));
    const deadline = Date.now() + (deps.verifyTimeoutMs ?? 120_000);
    if (deps.resolve) {
      const resolve = deps.resolve;
      steps.push(
        await timed('dns-answers', async () => {
          for (;;) {
            const answer = await resolve(record.name, record.type).catch((error: Error) => [
              `error: ${error.message}`,
            ]);
            if (record.values.every((v) => answer.includes(v))) {
              return {
                ok: true,
                detail: `${record.name} answers ${answer.join(', ')} ${Math.round(performance.now() - decided)} ms after the decision`,
              };
            }
            if (Date.now() > deadline)
              return { ok: false, detail: `${record.name} still answers ${answer.join(', ')}` };
            await sleep(500);
          }
        }),
      );
    }
    const site = to === 'dr' ? failover.dr : failover.primary;
    steps.push(
      await timed('site-passes', async () => {
        for (;;) {
          const results = await deps.probe(site.targets);
          if (results.every((r) => r.ok)) {
            return {
              ok: true,
              detail: `${siteName(to)} passes its probes ${Math.round(performance.now() - decided)} ms after the decision`,
            };
          }
          if (Date.now() > deadline)
            return { ok: false, detail: `${siteName(to)} fails: ${describeResults(results)}` };
          await sleep(1000);
        }
      }),
    );
    for (const step of steps) await recordGate(deps, request, { ...step, gate: `step:${step.gate}` }, to);
    const verified = steps.every((step) => step.ok);
    const database =
      fence === undefined
        ? {}
        : {
            fenced: fence.fenced,
            ...(lagSeconds === undefined ? {} : { lagSecondsAtPromotion: lagSeconds }),
          };
    if (fence && !fence.fenced) await warnNotFenced(deps, request, to, fence, true);
    return {
      status: verified ? 'completed' : 'failed',
      subject: 'dns',
      summary: verified
        ? `failed over to ${siteName(to)}: ${change}; ${steps.map((s) => s.detail).join('; ')}`
        : `moved to ${siteName(to)} but not verified: ${steps
            .filter((s) => !s.ok)
            .map((s) => s.detail)
            .join('; ')}`,
      data: { to, decisionToVerifiedMs: Math.round(performance.now() - decided), ...database },
      result: { to, moved: true, change, gates, steps, ...database },
    };
  } finally {
    if (!request.dryRun) await deps.store.unlockFailover(holder).catch(() => undefined);
  }
}

async function failedAfter(
  deps: FailoverDeps,
  request: ActionRequest,
  to: FailoverSite,
  gates: GateResult[],
  steps: GateResult[],
  fence?: FenceResult,
): Promise<ActionOutcome> {
  if (fence && !fence.reachable) await warnNotFenced(deps, request, to, fence, false);
  for (const step of steps) await recordGate(deps, request, { ...step, gate: `step:${step.gate}` }, to);
  const failed = steps.find((step) => !step.ok);
  return {
    status: 'failed',
    subject: 'dns',
    summary: `failover to ${siteName(to)} failed at ${failed?.gate}: ${failed?.detail}`,
    result: { to, moved: false, gates, steps },
  };
}
