import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { ResponderConfig } from '../config/schema.ts';
import type { Acknowledgement, Escalation, NoticeEvent, SentNotice } from '../domain/escalation.ts';
import { type FloodWindow, floodWindowOf } from '../domain/flood-window.ts';
import { expiryOf, type Incident } from '../domain/incident.ts';
import { severityRank } from '../domain/severity.ts';
import {
  type AuditTrail,
  type Clock,
  DependencyUnavailableError,
  type EscalationStore,
  type FloodLimits,
  type IncidentStore,
  type Log,
  type Page,
  type Pager,
} from '../ports.ts';
import { CONFLICT, retryOnConflict } from '../state/retry-on-conflict.ts';
import {
  type AckKeys,
  type AckVerification,
  signAckToken,
  verifyAckToken,
  verifyAckTokenWithKeys,
} from './ack-link.ts';
import {
  type ApproveVerification,
  signApproveToken,
  verifyApproveToken,
  verifyApproveTokenWithKeys,
} from './approve-link.ts';
import { buildPage } from './pages.ts';
import { type PlannedTier, planTiers } from './policy.ts';

/** Where pages link to, and the ack-link key (read from Secrets Manager, cached by the secret store). */
export interface EscalationLinks {
  /** The API's base URL, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com */
  readonly publicUrl: string;
  /** The key new links are signed with. */
  ackKey(): Promise<string>;
  /**
   * The keys links are checked against: the current one and the one before the last rotation, whose
   * links keep working until they expire. @default the current key alone
   */
  ackKeys?(): Promise<AckKeys>;
}

export interface EscalatorDeps {
  readonly config: ResponderConfig;
  readonly incidents: IncidentStore;
  readonly escalations: EscalationStore;
  readonly audit: AuditTrail;
  readonly floodLimits: FloodLimits;
  readonly pager: Pager;
  readonly clock: Clock;
  readonly log: Log;
  readonly links: EscalationLinks;
  /** Multiplies tier delays; below 1 only for trying escalation out locally. @default 1 */
  readonly delayScale?: number;
}

/** The messageId recorded for a page held back by the page limit. */
export const SUPPRESSED = 'suppressed: page limit';
/** A sender holds an escalation this long while it publishes; a crashed sender's lease runs out. */
const LEASE_MS = 60_000;
const MAX_WRITES = 8;
/** Escalations one sweep takes on (the rest wait for the next), and how many it works on at once. */
const SWEEP_LIMIT = 500;
const SWEEP_CONCURRENCY = 8;
/** An open escalation with nothing due is still looked at this often, in case its resolution was lost. */
const RECHECK_MS = 3_600_000;

/**
 * The escalation as this invocation last wrote or read it, so the next step need not read it again;
 * `token` when that write also took the send lease. Every write still names the version it saw, so a
 * copy gone stale only costs a conflict and a fresh read.
 */
interface Known {
  readonly escalation: Escalation | undefined;
  readonly token?: string;
  /** The ack-link key, asked for alongside the write that took the lease when a page is due. */
  readonly ackKey?: Promise<string>;
}

interface Work {
  readonly key: string;
  readonly event: NoticeEvent;
  readonly tier: PlannedTier;
  readonly topic: string;
}

export interface Delivered extends SentNotice {
  readonly incidentId: string;
}

export interface EscalationReport {
  readonly incidentId: string;
  readonly status: Escalation['status'] | 'none';
  readonly sent: readonly Delivered[];
  /** Dry runs: what would be sent now. */
  readonly wouldSend?: readonly { event: NoticeEvent; tier: string; topic: string }[];
  /** Set when another sender held the escalation, so this one sent nothing. */
  readonly busy?: boolean;
}

export type AckResult =
  | { readonly outcome: 'acknowledged' | 'already-acknowledged'; readonly escalation: Escalation }
  | { readonly outcome: 'resolved' | 'no-incident' };

/** Rewrites `dueAt` only when it must move: gone, stale, or later than the next thing due. */
function needsNewDue(current: string | undefined, wanted: string | undefined, now: Date): boolean {
  if (current === undefined || wanted === undefined) return current !== wanted;
  return Date.parse(current) <= now.getTime() || Date.parse(wanted) < Date.parse(current);
}

/**
 * Pages along the escalation matrix without timers: everything lives in one record per incident,
 * written with optimistic versions, and a sender takes a lease before it publishes. A tier is paged at
 * most once per incident however many sweepers, retries and Alertmanager re-sends arrive; a page whose
 * publish failed stays due and the next sweep sends it. A sender that dies between SNS accepting a
 * message and its own write lets the lease run out, and that message may go out a second time:
 * SNS standard topics offer no idempotency key, and a duplicate page beats a lost one.
 */
export class Escalator {
  private readonly owner = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;

  constructor(private readonly deps: EscalatorDeps) {}

  private get scale() {
    return this.deps.delayScale ?? 1;
  }

  /**
   * Brings the escalation in line with its incident (start, raise severity, resolve) and sends what is
   * due. `beforeWrites`: something the caller writes alongside the first reads (the action's
   * `action.received` entry); nothing is written or sent, and nothing is reported, until it is done,
   * and its failure is thrown.
   */
  async reconcile(
    incidentId: string,
    options: { dryRun?: boolean; beforeWrites?: Promise<void> } = {},
  ): Promise<EscalationReport> {
    const { incidents, escalations } = this.deps;
    // Both reads at once: the escalation read is only wasted when there is no incident.
    const [incident, first] = await Promise.all([
      incidents.getIncident(incidentId),
      escalations.getEscalation(incidentId),
      options.beforeWrites,
    ]);
    if (!incident) return { incidentId, status: 'none', sent: [] };
    let known: Known | undefined;
    // Audit entries nothing waits on: written while the pages go out, awaited before returning.
    const audits: Promise<void>[] = [];
    // A dry run only looks. Every write lost to other writers is no error: what is due is still sent,
    // and the next reconcile brings the escalation in line.
    const dryRunView = await retryOnConflict<EscalationReport | undefined>(
      async (attempt) => {
        const current = attempt === 0 ? first : await escalations.getEscalation(incidentId);
        const next = this.updated(current, incident);
        if (options.dryRun) {
          const view = next ?? current;
          return {
            incidentId,
            status: view?.status ?? 'none',
            sent: [],
            wouldSend: view
              ? this.workOf(view, incident, this.deps.clock.now()).map(({ event, tier, topic }) => ({
                  event,
                  tier: tier.name,
                  topic,
                }))
              : [],
          };
        }
        if (!next || next === current) {
          known = { escalation: current };
          return undefined;
        }
        // When something is due at once, the same write takes the send lease: one write where the
        // start (or raise, or resolution) and the lease took two, with nothing between them to see.
        const now = this.deps.clock.now();
        const token = this.leaseToken();
        const work = this.workOf(next, incident, now);
        const leased =
          work.length > 0 && !this.leaseHeld(next, now)
            ? { ...next, lease: this.leaseFor(token, now) }
            : next;
        const ackKey = leased === next ? undefined : this.ackKeyFor(work);
        if (!(await escalations.saveEscalation(leased, current?.version ?? 0))) return CONFLICT;
        known = { escalation: leased, token: leased === next ? undefined : token, ackKey };
        const audit = (type: string, message: string) => {
          const written = this.audit(incidentId, type, message);
          // Handled here so a failure waits for the sends; it is still thrown once they are done.
          written.catch(() => undefined);
          audits.push(written);
        };
        if (!current) audit('escalation.started', `escalation started at ${next.severity}`);
        else if (next.status === 'resolved' && current.status !== 'resolved') {
          audit('escalation.ended', 'incident resolved: escalation ended');
        } else if (next.severity !== current.severity) {
          audit('escalation.raised', `severity raised from ${current.severity} to ${next.severity}`);
        }
        return undefined;
      },
      { attempts: MAX_WRITES, exhausted: () => undefined },
    );
    if (dryRunView) return dryRunView;
    // The lease taken above is held until advance records what it sent, even if an audit failed.
    const settled = await Promise.allSettled([this.advance(incident, known), ...audits]);
    for (const outcome of settled) if (outcome.status === 'rejected') throw outcome.reason;
    return (settled[0] as PromiseFulfilledResult<EscalationReport>).value;
  }

  /** Sends what is due on every escalation the index lists as due. Failures are reported, not thrown. */
  async sweep(): Promise<{
    checked: number;
    sent: Delivered[];
    failed: { incidentId: string; error: string }[];
  }> {
    const ids = await this.deps.escalations.listDueEscalations(this.deps.clock.now(), SWEEP_LIMIT);
    const sent: Delivered[] = [];
    const failed: { incidentId: string; error: string }[] = [];
    let next = 0;
    // A few escalations at once: a storm of incidents must not make the last tier wait on the first.
    const worker = async () => {
      while (next < ids.length) {
        const incidentId = ids[next++] as string;
        try {
          sent.push(...(await this.reconcile(incidentId)).sent);
        } catch (error) {
          failed.push({ incidentId, error: (error as Error).message });
          this.deps.log.error('escalation sweep: sending failed; the next sweep retries', {
            incidentId,
            error: (error as Error).message,
          });
        }
      }
    };
    await Promise.all(Array.from({ length: SWEEP_CONCURRENCY }, worker));
    return { checked: ids.length, sent, failed };
  }

  /**
   * Stops further tiers at once and tells the tiers already paged who acknowledged. Acknowledging an
   * incident nobody was paged for still records it, so no tier is paged later.
   */
  async acknowledge(incidentId: string, by: string, via: string): Promise<AckResult> {
    const { incidents, escalations, clock } = this.deps;
    const incident = await incidents.getIncident(incidentId);
    if (!incident) return { outcome: 'no-incident' };
    if (incident.status === 'resolved') return { outcome: 'resolved' };
    return retryOnConflict<AckResult>(
      async () => {
        const current = await escalations.getEscalation(incidentId);
        if (current?.acknowledged) return { outcome: 'already-acknowledged', escalation: current };
        if (current?.status === 'resolved') return { outcome: 'resolved' };
        const now = clock.now().toISOString();
        const acknowledged: Acknowledgement = { by, at: now, via };
        const next: Escalation = current
          ? { ...current, status: 'acknowledged', acknowledged, dueAt: now, version: current.version + 1 }
          : {
              incidentId,
              severity: incident.severity,
              startedAt: now,
              status: 'acknowledged',
              sent: [],
              acknowledged,
              version: 1,
            };
        if (!(await escalations.saveEscalation(next, current?.version ?? 0))) return CONFLICT;
        await this.audit(incidentId, 'escalation.acknowledged', `acknowledged by ${by} (via ${via})`, {
          by,
          via,
        });
        try {
          await this.advance(incident, { escalation: next });
        } catch (error) {
          // The acknowledgement stands; the notices stay due and the sweeper sends them.
          this.deps.log.warn('acknowledged, but the notices could not be sent yet; the sweeper retries', {
            incidentId,
            error: (error as Error).message,
          });
        }
        return { outcome: 'acknowledged', escalation: (await escalations.getEscalation(incidentId)) ?? next };
      },
      { attempts: MAX_WRITES },
    );
  }

  /**
   * Checks a signed ack link's token against the clock and the current key, then the key before the
   * last rotation: links signed before it keep working until they expire. Such a link was signed at
   * most `ackLinkTtlHours` before its expiry, and by a signer whose cached key may lag the rotation by
   * `credentialCacheSeconds` (and a few minutes between the version's creation and finishSecret).
   */
  async verifyLink(token: string): Promise<AckVerification> {
    const { links, config, clock } = this.deps;
    if (!links.ackKeys) return verifyAckToken(await links.ackKey(), token, clock.now());
    const lifetimeMs =
      (config.escalation.ackLinkTtlHours * 3600 + config.webhook.credentialCacheSeconds + 600) * 1000;
    return verifyAckTokenWithKeys(await links.ackKeys(), token, clock.now(), lifetimeMs);
  }

  /**
   * A signed approve link for a failover waiting for approval (`/approve/{token}` under the API's
   * URL), made where the ack-link key is; undefined without a URL to link to.
   */
  async approveLink(requestId: string, expiresAt: Date): Promise<string | undefined> {
    const base = this.deps.links.publicUrl.replace(/\/$/, '');
    if (!base) return undefined;
    return `${base}/approve/${signApproveToken(await this.deps.links.ackKey(), { requestId, expiresAt })}`;
  }

  /**
   * Checks an approve link's token as `verifyLink` checks an ack link's: the current key, then the
   * key before the last rotation for links signed at most `approvalTtlMinutes` before their expiry.
   */
  async verifyApproveLink(token: string): Promise<ApproveVerification> {
    const { links, config, clock } = this.deps;
    if (!links.ackKeys) return verifyApproveToken(await links.ackKey(), token, clock.now());
    const lifetimeMs =
      ((config.failover?.approvalTtlMinutes ?? 0) * 60 + config.webhook.credentialCacheSeconds + 600) * 1000;
    return verifyApproveTokenWithKeys(await links.ackKeys(), token, clock.now(), lifetimeMs);
  }

  /** The escalation as the API shows it, with the next tier and when it is due. */
  async view(incident: Incident) {
    const escalation = await this.deps.escalations.getEscalation(incident.id);
    if (!escalation) return null;
    const next =
      escalation.status === 'paging'
        ? this.schedule(escalation, incident).find((entry) => !entry.tier.route && !entry.paged)
        : undefined;
    return {
      status: escalation.status,
      severity: escalation.severity,
      startedAt: escalation.startedAt,
      acknowledged: escalation.acknowledged ?? null,
      resolvedAt: escalation.resolvedAt ?? null,
      sent: escalation.sent,
      nextTier: next ? { name: next.tier.name, dueAt: next.dueAt?.toISOString() ?? null } : null,
    };
  }

  /**
   * Each tier and route with when it is due: the first tier and the routes when the escalation
   * starts, every later tier its delay after the tier before it was first paged (not yet, while that
   * one is unpaged). So a tier's delay always gives the tier before it that long to acknowledge, also
   * after a raised severity or a late page.
   */
  private schedule(escalation: Escalation, incident: Incident) {
    const sent = escalation.sent.filter((notice) => notice.event === 'page');
    const firstPaged = (tier: PlannedTier) =>
      sent
        .filter((notice) => notice.tier === tier.name)
        .map((notice) => Date.parse(notice.at))
        .sort((a, b) => a - b)[0];
    const sentKeys = new Set(sent.map((notice) => notice.key));
    const entries: { tier: PlannedTier; dueAt?: Date; paged: boolean }[] = [];
    let previousPagedAt: number | undefined = Date.parse(escalation.startedAt);
    for (const tier of planTiers(
      this.deps.config.escalation,
      escalation.severity,
      incident.labels,
      this.scale,
    )) {
      const base = tier.route || tier.level === 0 ? Date.parse(escalation.startedAt) : previousPagedAt;
      const paged = tier.topics.every((topic) => sentKeys.has(`page:${tier.name}:${topic}`));
      entries.push({ tier, dueAt: base === undefined ? undefined : new Date(base + tier.delayMs), paged });
      if (!tier.route) previousPagedAt = firstPaged(tier);
    }
    return entries;
  }

  private updated(current: Escalation | undefined, incident: Incident): Escalation | undefined {
    const now = this.deps.clock.now().toISOString();
    if (!current) {
      if (incident.status === 'resolved') return undefined;
      return {
        incidentId: incident.id,
        severity: incident.severity,
        startedAt: now,
        status: 'paging',
        sent: [],
        dueAt: now,
        version: 1,
      };
    }
    if (incident.status === 'resolved' && current.status !== 'resolved') {
      return {
        ...current,
        status: 'resolved',
        resolvedAt: incident.resolvedAt ?? now,
        expiresAt: expiryOf(incident.resolvedAt ?? now, this.deps.config.auditRetentionDays),
        dueAt: now,
        version: current.version + 1,
      };
    }
    if (current.status === 'paging' && severityRank(incident.severity) < severityRank(current.severity)) {
      return { ...current, severity: incident.severity, dueAt: now, version: current.version + 1 };
    }
    return current;
  }

  private workOf(escalation: Escalation, incident: Incident, now: Date): Work[] {
    const sentKeys = new Set(escalation.sent.map((notice) => notice.key));
    const work: Work[] = [];
    if (escalation.status === 'paging') {
      for (const { tier, dueAt } of this.schedule(escalation, incident)) {
        if (!dueAt || dueAt > now) continue;
        for (const topic of tier.topics) {
          const key = `page:${tier.name}:${topic}`;
          if (!sentKeys.has(key)) work.push({ key, event: 'page', tier, topic });
        }
      }
      return work;
    }
    // Acknowledged or resolved: one notice to every topic that was paged.
    const event: NoticeEvent = escalation.status;
    const paged = new Map<string, SentNotice>();
    for (const notice of escalation.sent) {
      // A page held back by the page limit reached no one: there is no one to tell.
      if (notice.event === 'page' && notice.messageId !== SUPPRESSED && !paged.has(notice.topic)) {
        paged.set(notice.topic, notice);
      }
    }
    for (const [topic, page] of paged) {
      const key = `${event}:${topic}`;
      if (sentKeys.has(key)) continue;
      work.push({
        key,
        event,
        topic,
        tier: { name: page.tier, level: 0, topics: [topic], delayMs: 0, reason: event, route: false },
      });
    }
    return work;
  }

  /**
   * When the sweeper next has work here: the next tier, a notice owed, or, while the incident is
   * not resolved, an hourly re-check that catches a resolution whose request was lost. Undefined
   * (out of the sweep index) once the escalation has ended and everyone was told.
   */
  private dueOf(escalation: Escalation, incident: Incident, now: Date): string | undefined {
    if (this.workOf(escalation, incident, now).length > 0) return now.toISOString();
    if (escalation.status === 'resolved') return undefined;
    let due = new Date(now.getTime() + RECHECK_MS);
    if (escalation.status === 'paging') {
      for (const { dueAt, paged } of this.schedule(escalation, incident)) {
        if (!paged && dueAt && dueAt < due) due = dueAt;
      }
    }
    return due.toISOString();
  }

  /**
   * Sends what is due under a lease, then records it; repeats while more became due meanwhile. The
   * incident is the one the caller just read: reconcile turns a change in it into the escalation's.
   */
  private async advance(incident: Incident, seen?: Known): Promise<EscalationReport> {
    const incidentId = incident.id;
    const { escalations, clock } = this.deps;
    const delivered: Delivered[] = [];
    let status: EscalationReport['status'] = 'none';
    let known = seen;
    for (let round = 0; round < 3; round++) {
      const cached = known;
      known = undefined;
      const escalation = cached ? cached.escalation : await escalations.getEscalation(incidentId);
      if (!escalation) return { incidentId, status, sent: delivered };
      status = escalation.status;
      const now = clock.now();
      const work = this.workOf(escalation, incident, now);
      if (work.length === 0) {
        const dueAt = this.dueOf(escalation, incident, now);
        // A lease taken with the write before is given back here (not expected: that write found work).
        const held = cached?.token !== undefined && escalation.lease?.owner === cached.token;
        if (held || needsNewDue(escalation.dueAt, dueAt, now)) {
          await escalations.saveEscalation(
            {
              ...escalation,
              dueAt,
              lease: held ? undefined : escalation.lease,
              version: escalation.version + 1,
            },
            escalation.version,
          );
        }
        return { incidentId, status, sent: delivered };
      }
      let token: string;
      let leased: Escalation;
      let ackKey: Promise<string> | undefined;
      if (cached?.token !== undefined && escalation.lease?.owner === cached.token) {
        // The write that gave us this copy took the lease already.
        token = cached.token;
        leased = escalation;
        ackKey = cached.ackKey;
      } else {
        // Every send takes its own lease, so two calls in one process (the local runtime shares one
        // escalator between ingest, the API and the sweeper timer) exclude each other too.
        token = this.leaseToken();
        if (this.leaseHeld(escalation, now)) {
          return { incidentId, status, sent: delivered, busy: true };
        }
        leased = { ...escalation, lease: this.leaseFor(token, now), version: escalation.version + 1 };
        ackKey = this.ackKeyFor(work);
        if (!(await escalations.saveEscalation(leased, escalation.version))) {
          // A copy this invocation kept went stale: read it afresh, without using up a round.
          if (cached) round--;
          continue;
        }
      }

      const { sent, failures, audits } = await this.send(work, escalation, incident, token, ackKey);
      // The record write goes out with the audit entries of what was sent (which never reject).
      const [recorded] = await Promise.allSettled([
        this.record(incidentId, incident, sent, token, leased),
        ...audits,
      ]);
      if (recorded.status === 'rejected') throw recorded.reason;
      const after = recorded.value;
      status = after?.status ?? status;
      // What record wrote is the escalation now, unless someone writes after it: their write then
      // makes ours conflict and we read again.
      if (after) known = { escalation: after };
      delivered.push(...sent.map((notice) => ({ ...notice, incidentId })));
      if (failures.length > 0) {
        const first = failures[0];
        throw new DependencyUnavailableError(
          'pager (SNS)',
          new Error(
            `${failures.length} of ${work.length} messages not sent (${first?.topic}: ${first?.error}); they stay due`,
          ),
        );
      }
    }
    return { incidentId, status, sent: delivered };
  }

  private async send(
    work: readonly Work[],
    escalation: Escalation,
    incident: Incident,
    token: string,
    ackKey?: Promise<string>,
  ) {
    const { config, clock, links } = this.deps;
    const policy = config.escalation.policy[escalation.severity];
    const service = incident.labels.service ?? config.service;
    const base = links.publicUrl.replace(/\/$/, '');
    if (!base)
      throw new Error('no public URL for the links in pages: PUBLIC_URL is not set; redeploy the stack');
    const needsKey = work.some((item) => item.event === 'page');
    const key = needsKey ? await (ackKey ?? links.ackKey()) : '';
    const tiersOf = policy.tiers.length;
    const sent: SentNotice[] = [];
    /** Audit entries of what was sent: they never fail the send, and nothing waits on them. */
    const audits: Promise<unknown>[] = [];
    /** The page-limit window the current page was counted in, until it is sent. */
    let counted: FloodWindow | undefined;
    const failures: { topic: string; error: string }[] = [];
    for (const [index, item] of work.entries()) {
      if (index > 0) {
        // Between publishes: stop if the lease ran out and another sender took over, and send no more
        // pages once someone acknowledged (the notices follow in the next round).
        const current = await this.deps.escalations.getEscalation(incident.id);
        if (current?.lease?.owner !== token) break;
        if (item.event === 'page' && current.status !== 'paging') continue;
      }
      const expiresAt = new Date(clock.now().getTime() + config.escalation.ackLinkTtlHours * 3_600_000);
      const ack =
        item.event === 'page'
          ? `${base}/ack/${signAckToken(key, { incidentId: incident.id, tier: item.tier.name, expiresAt })}`
          : undefined;
      const page = buildPage({
        event: item.event,
        incident,
        service,
        topic: item.topic,
        tier: { name: item.tier.name, level: item.tier.level, of: tiersOf },
        respondWithin: policy.respondWithin,
        reason: item.tier.reason,
        links: {
          incident: `${base}/api/incidents/${incident.id}`,
          ack,
          ackExpiresAt: ack ? expiresAt.toISOString() : undefined,
        },
        acknowledged: escalation.acknowledged,
        resolvedAt: escalation.resolvedAt,
      });
      try {
        counted = undefined;
        if (item.event === 'page') {
          counted = floodWindowOf(config.floodLimits, clock.now());
          if (!(await this.withinPageLimit(incident, item, page, counted))) counted = undefined;
        }
        if (item.event === 'page' && !counted) {
          // Held back by floodLimits.pages: recorded as sent, so it is not retried into the flood.
          sent.push({
            key: item.key,
            event: item.event,
            tier: item.tier.name,
            topic: item.topic,
            at: clock.now().toISOString(),
            messageId: SUPPRESSED,
          });
          continue;
        }
        const { messageId } = await this.deps.pager.publish(page);
        const notice: SentNotice = {
          key: item.key,
          event: item.event,
          tier: item.tier.name,
          topic: item.topic,
          at: clock.now().toISOString(),
          messageId,
        };
        sent.push(notice);
        const audited = this.audit(
          incident.id,
          item.event === 'page' ? 'escalation.paged' : `escalation.notified`,
          item.event === 'page'
            ? `paged ${item.tier.name} (topic ${item.topic}): ${item.tier.reason}`
            : `told ${item.topic} the incident was ${item.event}`,
          { topic: item.topic, tier: item.tier.name, event: item.event, messageId, subject: page.subject },
        ).catch(() => undefined);
        audits.push(audited);
      } catch (error) {
        // A page that was counted and not sent gives its unit back, or an SNS outage would use up
        // the page limit with retries and the page would then be held back for good.
        if (counted) {
          await this.deps.floodLimits
            .returnFloodBudget('pages', counted.start, 'used')
            .catch(() => undefined);
        }
        failures.push({ topic: item.topic, error: (error as Error).message });
        this.deps.log.error('page not sent; it stays due', {
          incidentId: incident.id,
          topic: item.topic,
          event: item.event,
          error: (error as Error).message,
        });
      }
    }
    return { sent, failures, audits };
  }

  /**
   * floodLimits.pages: each page takes one from the window's budget. Over it, the page is held back
   * and audited; the first page held back in a window sends one summary page in its place, to the
   * same topic, so on-call knows to look at the incident list.
   */
  private async withinPageLimit(
    incident: Incident,
    item: Work,
    page: Page,
    window: FloodWindow,
  ): Promise<boolean> {
    const { config, clock, floodLimits, pager } = this.deps;
    const limits = config.floodLimits;
    const use = await floodLimits.takeFloodBudget('pages', window.start, window.seconds, limits.pages);
    if (use.allowed) return true;
    await this.audit(
      incident.id,
      'escalation.suppressed',
      `page to ${item.tier.name} (topic ${item.topic}) held back: page limit reached`,
      { topic: item.topic, tier: item.tier.name, subject: page.subject },
    ).catch(() => undefined);
    if (use.firstRefusal) {
      const until = window.end.toISOString();
      const text = `Responder page limit reached: ${limits.pages} pages within ${limits.windowMinutes} minutes. Until ${until} further pages are held back (not sent); each is in its incident's audit trail.`;
      const list = `${this.deps.links.publicUrl.replace(/\/$/, '')}/api/incidents?status=open`;
      await pager
        .publish({
          topic: item.topic,
          subject: `[Responder] page limit reached: pages held back until ${until.slice(11, 16)} UTC`,
          messages: {
            default: `${text}\nOpen incidents: ${list}`,
            email: `${text}\n\nOpen incidents: ${list}\nThe limit is floodLimits.pages in responder.config.ts.`,
            sms: `Responder page limit reached (${limits.pages}/${limits.windowMinutes}m): pages held back until ${until.slice(11, 16)} UTC. Check open incidents.`,
            json: JSON.stringify({
              schema: 'responder.page/v1',
              event: 'page-limit',
              text,
              until,
              incidents: list,
            }),
          },
          attributes: {
            severity: 'P1',
            tier: item.tier.name,
            incident_id: incident.id,
            service: config.service,
            event: 'page',
          },
        })
        .catch(async (error: unknown) => {
          // Not sent: the next page held back in this window is the "first" again and retries it.
          await floodLimits.returnFloodBudget('pages', window.start, 'refused').catch(() => undefined);
          throw error;
        });
      await this.deps.audit
        .appendAudit(
          {
            at: clock.now().toISOString(),
            type: 'limits.pages-reached',
            actor: 'escalation',
            message: `page limit reached (${limits.pages} per ${limits.windowMinutes} minutes): summary page sent to ${item.topic}; pages held back until ${until}`,
            data: { limit: limits.pages, windowMinutes: limits.windowMinutes, topic: item.topic },
          },
          config.auditRetentionDays,
        )
        .catch(() => undefined);
    }
    return false;
  }

  /** Adds what was sent to the record and gives the lease back; merges with anyone who wrote meanwhile. */
  private async record(
    incidentId: string,
    incident: Incident,
    sent: readonly SentNotice[],
    token: string,
    leased: Escalation,
  ) {
    const { escalations, clock } = this.deps;
    return retryOnConflict<Escalation | undefined>(
      async (attempt) => {
        // First the copy our lease wrote: unless someone wrote since, it is the current one.
        const current = attempt === 0 ? leased : await escalations.getEscalation(incidentId);
        if (!current) return undefined;
        const known = new Set(current.sent.map((notice) => notice.key));
        const merged: Escalation = {
          ...current,
          sent: [...current.sent, ...sent.filter((notice) => !known.has(notice.key))],
          lease: current.lease?.owner === token ? undefined : current.lease,
          version: current.version + 1,
        };
        const next = { ...merged, dueAt: this.dueOf(merged, incident, clock.now()) };
        return (await escalations.saveEscalation(next, current.version)) ? next : CONFLICT;
      },
      // The first attempt's copy may be stale at no cost to the retries that read.
      { attempts: MAX_WRITES + 1 },
    );
  }

  /**
   * Asks for the ack-link key while the lease is written, when a page is due (from the secret
   * store's cache once warm). A failure is seen where send awaits it, as when it asked itself.
   */
  private ackKeyFor(work: readonly Work[]): Promise<string> | undefined {
    if (!work.some((item) => item.event === 'page')) return undefined;
    // Called from a promise, so even a key source that throws at once fails only where send awaits it.
    const key = Promise.resolve().then(() => this.deps.links.ackKey());
    key.catch(() => undefined);
    return key;
  }

  private leaseToken() {
    return `${this.owner}-${randomBytes(4).toString('hex')}`;
  }

  private leaseFor(token: string, now: Date): NonNullable<Escalation['lease']> {
    return { owner: token, until: new Date(now.getTime() + LEASE_MS).toISOString() };
  }

  private leaseHeld(escalation: Escalation, now: Date): boolean {
    return escalation.lease !== undefined && Date.parse(escalation.lease.until) > now.getTime();
  }

  private audit(incidentId: string, type: string, message: string, data?: Record<string, unknown>) {
    return this.deps.audit.appendAudit(
      { at: this.deps.clock.now().toISOString(), incidentId, type, actor: 'escalation', message, data },
      this.deps.config.auditRetentionDays,
    );
  }
}
