import type { ActionOutcome } from '../../src/actions/run-action.ts';
import type { FailoverConfig } from '../../src/config/failover.ts';
import type { ResponderConfig } from '../../src/config/schema.ts';
import type { ActionRequest } from '../../src/domain/actions.ts';
import type {
  AuditTrail,
  Clock,
  DrillLeg,
  DrillMarkers,
  DrillReport,
  FailoverSite,
  FailoverStore,
  Log,
} from '../../src/ports.ts';

/** What a drill needs beyond the failover's own parts. */
export interface DrillParts {
  /** The marker rows: written through the writer, read from the new writer. */
  readonly markers?: DrillMarkers;
  /**
   * Rebuilds `site`'s database as a standby of the other site's (the demo: `pg_basebackup -R`), so
   * `--and-back` can fail back and the next drill finds replication as it was. Absent in AWS.
   */
  readonly rebuildStandby?: (site: FailoverSite) => Promise<string>;
  /** Writes the rendered report where an operator finds it (the local data folder); returns where. */
  readonly writeReport?: (drillId: string, markdown: string) => Promise<string>;
}

/** What the drill uses of the failover's own parts. */
interface DrillDeps extends DrillParts {
  readonly config: ResponderConfig;
  readonly store: FailoverStore;
  readonly audit: AuditTrail;
  readonly clock: Clock;
  readonly log: Log;
}

type Leg = (request: ActionRequest) => Promise<ActionOutcome>;

interface Acked {
  readonly seq: number;
  readonly at: number;
}

/** Writes a marker row through `site` every interval until stopped; keeps what was acknowledged. */
function startMarkers(
  markers: DrillMarkers,
  site: FailoverSite,
  drillId: string,
  first: number,
  intervalMs: number,
) {
  const acked: Acked[] = [];
  let failures = 0;
  let stopped = false;
  let seq = first;
  const loop = (async () => {
    while (!stopped) {
      seq += 1;
      try {
        await markers.write(site, drillId, seq);
        acked.push({ seq, at: Date.now() });
      } catch {
        // The fence at work (read-only), or the old writer gone: the loss is what the report measures.
        failures += 1;
      }
      if (!stopped) await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    acked,
    get failures() {
      return failures;
    },
    get next() {
      return seq + 1;
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const siteName = (site: FailoverSite) => (site === 'dr' ? 'the DR site' : 'the primary site');

interface LegResult {
  readonly outcome: ActionOutcome;
  readonly leg: DrillLeg;
  readonly nextSeq: number;
}

/**
 * One leg: a marker row through the current writer before the decision, more while the failover
 * runs, then the failover itself (every gate, the fence, the promotion, DNS, verification), then the
 * markers the new writer holds. RTO: decision → verified; RPO: newest acknowledged marker − newest
 * one that made it across.
 */
async function runLeg(
  parts: DrillParts,
  failover: FailoverConfig,
  drillId: string,
  to: FailoverSite,
  firstSeq: number,
  request: ActionRequest,
  leg: Leg,
): Promise<LegResult> {
  const from: FailoverSite = to === 'dr' ? 'primary' : 'dr';
  const markers = failover.database ? parts.markers : undefined;
  let before: Acked[] = [];
  let writer: ReturnType<typeof startMarkers> | undefined;
  if (markers) {
    // The marker that must survive: written and committed before the decision.
    const written = await markers.write(from, drillId, firstSeq).then(
      () => true,
      () => false,
    );
    if (written) before = [{ seq: firstSeq, at: Date.now() }];
    writer = startMarkers(markers, from, drillId, firstSeq, failover.drill.markerIntervalMs);
  }
  const decided = performance.now();
  const outcome = await leg(request).finally(() => writer?.stop());
  const rtoMs = Math.round(performance.now() - decided);
  const result = (outcome.result ?? {}) as {
    gates?: DrillLeg['steps'];
    steps?: DrillLeg['steps'];
    fenced?: boolean;
    lagSecondsAtPromotion?: number;
  };
  let markerReport: DrillLeg['markers'];
  let readError: string | undefined;
  if (markers && writer) {
    // Only what the writer acknowledged before it was fenced counts as written.
    const acked = [...before, ...writer.acked];
    const read = await markers.read(to, drillId).then(
      (rows) => ({ rows, error: undefined }),
      (error: Error) => ({ rows: [], error: error.message }),
    );
    readError = read.error;
    const present = new Set(read.rows.map((marker) => marker.seq));
    const missing = acked.filter((marker) => !present.has(marker.seq)).map((marker) => marker.seq);
    const newestWritten = acked.at(-1);
    const newestPresent = [...acked].reverse().find((marker) => present.has(marker.seq));
    markerReport = {
      written: acked.length,
      writtenBeforeDecision: before.length,
      present: acked.length - missing.length,
      missing: missing.slice(0, 100),
      newestWrittenAt: iso(newestWritten?.at),
      newestPresentAt: iso(newestPresent?.at),
      // No marker made it across: the whole time the markers were written.
      rpoSeconds:
        newestWritten && newestPresent
          ? Math.round((newestWritten.at - newestPresent.at) / 100) / 10
          : newestWritten && acked[0]
            ? Math.round((newestWritten.at - acked[0].at) / 100) / 10
            : 0,
      keptBeforeDecision: before.every((marker) => present.has(marker.seq)),
      ...(readError ? { readError: readError.slice(0, 300) } : {}),
    };
  }
  return {
    outcome,
    nextSeq: writer?.next ?? firstSeq + 1,
    leg: {
      to,
      status: outcome.status,
      summary: outcome.summary.slice(0, 2000),
      ...(outcome.status === 'completed' ? { rtoMs } : {}),
      steps: [...(result.gates ?? []), ...(result.steps ?? [])].map((step) => ({
        gate: step.gate,
        ok: step.ok,
        detail: step.detail.slice(0, 500),
        ...(step.ms === undefined ? {} : { ms: step.ms }),
      })),
      ...(result.fenced === undefined ? {} : { fenced: result.fenced }),
      ...(result.lagSecondsAtPromotion === undefined
        ? {}
        : { lagSecondsAtPromotion: result.lagSecondsAtPromotion }),
      ...(markerReport ? { markers: markerReport } : {}),
    },
  };
}

/**
 * Every marker committed before the decision is on the new writer (else the drill failed); later
 * ones that did not make it across are the RPO, not a failure.
 */
function keptBeforeDecision(leg: DrillLeg, notes: string[]): boolean {
  const markers = leg.markers;
  if (!markers) return true;
  if (markers.readError) {
    notes.push(`the markers could not be read from ${siteName(leg.to)}: ${markers.readError}`);
    return false;
  }
  if (markers.writtenBeforeDecision === 0) {
    notes.push(`no marker could be written before the decision to fail over to ${siteName(leg.to)}`);
    return false;
  }
  if (!markers.keptBeforeDecision) {
    notes.push(`a marker committed before the decision is missing from ${siteName(leg.to)}`);
    return false;
  }
  return true;
}

/** The report as Markdown: what an operator files after the drill. */
export function renderDrillReport(report: DrillReport): string {
  const lines = [
    `# Failover drill ${report.drillId}: ${report.passed ? 'PASSED' : 'FAILED'}`,
    '',
    `- Started ${report.startedAt}, finished ${report.finishedAt}, by ${report.by}, environment ${report.environment}`,
  ];
  for (const leg of report.legs) {
    lines.push('', `## To ${siteName(leg.to)}: ${leg.status}`, '');
    lines.push(
      `- RTO (decision → ${siteName(leg.to)} answers through DNS and passes its probes): ${leg.rtoMs === undefined ? 'not reached' : `${(leg.rtoMs / 1000).toFixed(1)} s`}`,
    );
    if (leg.markers) {
      const m = leg.markers;
      lines.push(
        `- RPO: ${Number.isFinite(m.rpoSeconds) ? `${m.rpoSeconds} s` : 'every marker lost'} (newest marker written ${m.newestWrittenAt ?? '-'}, newest that made it across ${m.newestPresentAt ?? '-'})`,
        `- Markers: ${m.written} acknowledged (${m.writtenBeforeDecision} before the decision), ${m.present} on the new writer${m.missing.length ? `, missing ${m.missing.join(', ')}` : ', none missing'}`,
      );
    }
    if (leg.lagSecondsAtPromotion !== undefined)
      lines.push(`- Replica lag at promotion: ${leg.lagSecondsAtPromotion} s`);
    if (leg.fenced !== undefined) lines.push(`- Old primary fenced: ${leg.fenced ? 'yes' : 'NO'}`);
    lines.push('', '| step | result | ms | detail |', '|---|---|---|---|');
    for (const step of leg.steps) {
      const detail = step.detail.replace(/\|/g, '\\|').replace(/\n/g, ' ');
      lines.push(`| ${step.gate} | ${step.ok ? 'ok' : 'REFUSED'} | ${step.ms ?? ''} | ${detail} |`);
    }
    lines.push('', leg.summary.replace(/\n/g, ' '));
  }
  if (report.notes.length) lines.push('', '## Notes', '', ...report.notes.map((note) => `- ${note}`));
  return `${lines.join('\n')}\n`;
}

/**
 * `responder drill failover [--to dr] [--and-back]`: the whole failover against the configured
 * environment, with marker rows, and a report of every step with its duration, the RTO and the RPO.
 * Refused in production unless the request insists.
 */
export async function runDrill(
  deps: DrillDeps,
  failover: FailoverConfig,
  request: ActionRequest,
  leg: Leg,
): Promise<ActionOutcome> {
  const params = request.params;
  const andBack = params.andBack === true;
  const refuse = (why: string): ActionOutcome => ({
    status: 'recorded',
    subject: 'dns',
    summary: `drill refused: ${why}`,
    result: { drill: 'refused', moved: false },
  });
  if (params.to !== undefined && params.to !== 'dr')
    return refuse('a drill fails over to the DR site (--to dr), and back with --and-back');
  if (failover.drill.environment === 'production' && params.iKnowThisIsProduction !== true) {
    return refuse(
      'failover.drill.environment is "production": a drill moves real traffic and fences the real primary; pass --i-know-this-is-production to run it anyway',
    );
  }
  if (request.dryRun) return leg({ ...request, params: { to: 'dr', by: params.by } });
  const database = failover.database;
  if (andBack && database && database.engine !== 'aurora-global' && !deps.rebuildStandby) {
    return refuse(
      `--and-back needs the old primary rebuilt as a standby of the DR database, which ${database.engine} cannot do from here: drill one way, rebuild it, then responder failover --to primary`,
    );
  }
  const state = await deps.store.getFailoverState();
  if (state.active !== 'primary')
    return refuse(`${siteName(state.active)} is active: a drill starts from the primary site`);
  const startedAt = deps.clock.now();
  const drillId = `drill-${startedAt
    .toISOString()
    .replace(/[-:.TZ]/g, '')
    .slice(0, 14)}-${request.actionId.replace(/[^A-Za-z0-9]/g, '').slice(-6)}`;
  const by = typeof params.by === 'string' ? params.by.slice(0, 80) : 'operator';
  const notes: string[] = [];
  const legRequest = (to: FailoverSite): ActionRequest => ({
    ...request,
    actionId: `${drillId}-${to}`,
    params: { to, by, force: true, reason: `failover drill ${drillId}` },
  });
  const legs: DrillLeg[] = [];
  let passed = true;
  if (database && deps.markers) {
    // The drill proves the data path: a primary that takes no marker row has nothing to prove.
    const writable = await deps.markers.write('primary', drillId, 0).then(
      () => undefined,
      (error: Error) => error.message,
    );
    if (writable !== undefined) {
      return refuse(
        `no marker row could be written through the primary database (${writable.slice(0, 200)}): a drill starts from a primary that takes writes`,
      );
    }
  }
  const there = await runLeg(deps, failover, drillId, 'dr', 1, legRequest('dr'), leg);
  legs.push(there.leg);
  passed &&= there.outcome.status === 'completed' && keptBeforeDecision(there.leg, notes);
  // From here on traffic has moved: nothing may throw (a retry would drill again), all is noted.
  const attempt = async (what: string, step: () => Promise<string>) => {
    const started = performance.now();
    try {
      notes.push(`${what}: ${await step()} (${Math.round(performance.now() - started)} ms)`);
      return true;
    } catch (error) {
      notes.push(`${what} FAILED: ${(error as Error).message.slice(0, 300)}`);
      passed = false;
      return false;
    }
  };
  if (there.outcome.status === 'completed' && andBack) {
    const rebuild = deps.rebuildStandby;
    const rebuilt =
      !database || !rebuild
        ? true
        : await attempt('rebuilt the old primary as a standby of the DR database', () => rebuild('primary'));
    if (rebuilt) {
      const back = await runLeg(
        deps,
        failover,
        drillId,
        'primary',
        there.nextSeq,
        legRequest('primary'),
        leg,
      ).catch((error: Error) => {
        notes.push(`the failback FAILED: ${error.message.slice(0, 300)}`);
        return undefined;
      });
      if (back) legs.push(back.leg);
      passed &&= back?.outcome.status === 'completed' && keptBeforeDecision(back.leg, notes);
      if (back?.outcome.status === 'completed' && database && rebuild) {
        await attempt('rebuilt the DR database as a standby of the primary again', () => rebuild('dr'));
      }
    }
  } else if (there.outcome.status === 'completed') {
    notes.push(
      'the DR site is active now: fail back with responder failover --to primary once the old primary is rebuilt as a standby of the DR database',
    );
  }
  let report: DrillReport = {
    drillId,
    startedAt: startedAt.toISOString(),
    finishedAt: deps.clock.now().toISOString(),
    by,
    environment: failover.drill.environment,
    passed,
    legs,
    notes,
  };
  const markdown = renderDrillReport(report);
  const file = await deps.writeReport?.(drillId, markdown).catch((error: Error) => {
    deps.log.warn('drill report not written', { error: error.message });
    return undefined;
  });
  if (file) report = { ...report, file };
  await deps.store.saveDrillReport(report).catch((error: Error) => {
    deps.log.error('drill report not stored', { drillId, error: error.message });
  });
  await deps.audit
    .appendAudit(
      {
        at: deps.clock.now().toISOString(),
        type: 'failover.drill-report',
        actor: 'failover-function',
        message: `drill ${drillId} ${passed ? 'passed' : 'FAILED'}: report ${file ?? `responder drill show ${drillId}`}`,
        data: { actionId: request.actionId, drillId, passed, file },
      },
      deps.config.auditRetentionDays,
    )
    .catch((error: Error) => deps.log.warn('drill report not audited', { error: error.message }));
  const rto = legs
    .map((l) => `${l.to} ${l.rtoMs === undefined ? 'not reached' : `${(l.rtoMs / 1000).toFixed(1)} s`}`)
    .join(', ');
  const rpo = legs
    .filter((l) => l.markers)
    .map((l) => `${l.to} ${l.markers?.rpoSeconds} s${l.markers?.readError ? ' (markers not readable)' : ''}`)
    .join(', ');
  return {
    status: passed ? 'completed' : 'failed',
    subject: 'drill',
    summary: `drill ${drillId} ${passed ? 'passed' : 'FAILED'}: RTO ${rto}${rpo ? `; RPO ${rpo}` : ''}; report ${file ?? `responder drill show ${drillId}`}`,
    data: { drillId, passed },
    result: { drill: drillId, report },
  };
}
