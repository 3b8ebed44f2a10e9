import { randomUUID } from 'node:crypto';
import * as z from 'zod/mini';
import type { ActionResult } from '../../src/actions/run-action.ts';
import { ActionFunctionError } from '../../src/aws/invoke-action.ts';
import type { ResponderConfig } from '../../src/config/schema.ts';
import { type ActionRequest, actionRequestSchema } from '../../src/domain/actions.ts';
import { BACKUP_DATABASE_NAME, parseBackupId } from '../../src/domain/backups.ts';
import type { Incident } from '../../src/domain/incident.ts';
import { describeIssuePath } from '../../src/domain/issue-path.ts';
import { personName } from '../../src/domain/text.ts';
import '../../src/domain/validation.ts';
import type { Escalator } from '../../src/escalation/escalator.ts';
import { authenticate, type CredentialSource, UNAUTHORIZED_HEADERS } from '../../src/http/auth.ts';
import { type HttpRequest, type HttpResponse, json, problem, unavailable } from '../../src/http/types.ts';
import {
  type AuditTrail,
  type AutomationSwitch,
  type BackupCatalog,
  type Clock,
  DependencyUnavailableError,
  type EscalationStore,
  type IncidentStore,
  InvalidCursorError,
  type Log,
  type TargetHealthStore,
} from '../../src/ports.ts';
import type { ProbeReport } from '../probe/run-probes.ts';
import { handleAckLink } from './ack-pages.ts';
import { handleApproveLink } from './approve-pages.ts';
import { directFailoverCommand, type FailoverRoute, type StillRunning } from './failover-route.ts';

export interface ApiDeps {
  readonly config: ResponderConfig;
  readonly incidents: IncidentStore;
  /** Read by the acknowledgement pages. */
  readonly escalations: EscalationStore;
  readonly audit: AuditTrail;
  readonly targetHealth: TargetHealthStore;
  readonly automation: AutomationSwitch;
  readonly credentials: CredentialSource;
  readonly clock: Clock;
  readonly log: Log;
  readonly version: string;
  /** Probes now (all targets, or the named ones) and returns the report; absent where probing is not wired. */
  readonly runProbes?: (targets?: string[]) => Promise<ProbeReport | undefined>;
  /** Acknowledgements and the escalation view; absent where escalation is not wired. */
  readonly escalator?: Escalator;
  /** The backup catalog, and how an operator's backup request reaches the backup capability. */
  readonly backups?: {
    readonly catalog: BackupCatalog;
    /** Runs the request: `wait` returns its result (dry runs); otherwise it returns once the backup has started. */
    readonly run: (request: ActionRequest, wait: boolean) => Promise<ActionResult | undefined>;
  };
  /** How an operator's failover request reaches the failover capability (in the DR region in AWS). */
  readonly failover?: FailoverRoute;
  /** How an operator's rotation request reaches the rotate capability (it answers once started). */
  readonly rotations?: {
    readonly run: (request: ActionRequest) => Promise<ActionResult>;
  };
}

/** The request behind `POST /api/rotations` and `responder rotate`. */
export function operatorRotateRequest(
  body: { secret: string; dryRun?: boolean },
  clock: Clock,
  dryRun: boolean,
): ActionRequest {
  return actionRequestSchema.parse({
    actionId: `operator-rotate-${randomUUID()}`,
    kind: 'rotate',
    trigger: 'operator',
    requestedAt: clock.now().toISOString(),
    dryRun: dryRun || body.dryRun === true,
    params: { secret: body.secret },
  });
}

/** The request behind `POST /api/backups` and `responder backup`. */
export function operatorBackupRequest(
  body: { database: string; verify?: 'list' | 'restore'; dryRun?: boolean },
  clock: Clock,
  dryRun: boolean,
): ActionRequest {
  return actionRequestSchema.parse({
    actionId: `operator-backup-${randomUUID()}`,
    kind: 'backup',
    trigger: 'operator',
    requestedAt: clock.now().toISOString(),
    dryRun: dryRun || body.dryRun === true,
    params: { database: body.database, ...(body.verify ? { verify: body.verify } : {}) },
  });
}

/** The request behind `POST /api/probes` and `responder probe`: an operator's on-demand run. */
export function operatorProbeRequest(
  targets: string[] | undefined,
  clock: Clock,
  dryRun: boolean,
): ActionRequest {
  return actionRequestSchema.parse({
    actionId: `operator-probe-${randomUUID()}`,
    kind: 'probe',
    trigger: 'operator',
    requestedAt: clock.now().toISOString(),
    dryRun,
    params: targets ? { targets } : {},
  });
}

const probeBody = z.strictObject({
  targets: z.optional(
    z
      .array(z.string().check(z.minLength(1), z.maxLength(200, 'target names are at most 200 characters')))
      .check(
        z.minLength(1, 'name at least one target, or leave targets out to probe all'),
        z.maxLength(500, 'name at most 500 targets, or leave targets out to probe all'),
      ),
  ),
});

const backupBody = z.strictObject({
  database: z.string().check(z.minLength(1), z.maxLength(63)),
  verify: z.optional(z.enum(['list', 'restore'])),
  dryRun: z.optional(z.boolean()),
});

const rotateBody = z.strictObject({
  secret: z.string().check(z.minLength(1), z.maxLength(512)),
  dryRun: z.optional(z.boolean()),
});

const backupListQuery = z.object({
  database: z.optional(z.string().check(z.regex(BACKUP_DATABASE_NAME, 'name a configured database'))),
  limit: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(200)), 20),
  verified: z.optional(z.enum(['true', 'false'])),
});

const INCIDENT_ID = /^[0-9]{8}-[0-9a-f]{8}$/;
const listQuery = z.object({
  status: z.optional(z.enum(['open', 'resolved'])),
  limit: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(200)), 50),
  cursor: z.optional(z.string().check(z.regex(/^[A-Za-z0-9_-]{1,2048}$/))),
});
/** Who acknowledged or flipped the switch, as typed: kept to a plain name (it reaches every tier paged). */
const nameField = z.pipe(
  z.pipe(z.string().check(z.maxLength(80)), z.transform(personName)),
  z.string().check(z.minLength(1, "expected a name (letters, digits, spaces, . _ @ ' -)")),
);

const failoverBody = z.strictObject({
  to: z.enum(['dr', 'primary']),
  dryRun: z.optional(z.boolean()),
  force: z.optional(z.boolean()),
  reason: z.optional(z.string().check(z.minLength(3, 'say why, for the audit trail'), z.maxLength(500))),
  /** Over the database's maxLagSeconds: promote anyway, losing what the replica had not received. */
  acceptDataLoss: z.optional(z.boolean()),
  /** Failback: the operator checked that the old primary was rebuilt as a standby of the DR database. */
  primaryRebuilt: z.optional(z.boolean()),
  /** The DR database is a writer because a failover that stopped promoted it (not a stale one). */
  drPromoted: z.optional(z.boolean()),
  by: z.optional(nameField),
});

const approveBody = z.strictObject({ by: z.optional(nameField) });

const drillBody = z.strictObject({
  to: z.optional(z.literal('dr')),
  andBack: z.optional(z.boolean()),
  iKnowThisIsProduction: z.optional(z.boolean()),
  dryRun: z.optional(z.boolean()),
  by: z.optional(nameField),
});

const ackBody = z.strictObject({
  by: z.optional(nameField),
});

const automationBody = z.strictObject({
  enabled: z.boolean(),
  reason: z.string().check(z.minLength(3, 'say why, for the audit trail'), z.maxLength(500)),
  by: z.optional(nameField),
});

function isJsonRequest(req: HttpRequest): boolean {
  const media = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  return media === 'application/json';
}

/** The incident as the API shows it: stable field names an operator's scripts can rely on. */
export function incidentView(incident: Incident) {
  const firing = incident.alerts.filter((alert) => alert.status === 'firing').length;
  return {
    id: incident.id,
    status: incident.status,
    severity: incident.severity,
    title: incident.title,
    labels: incident.labels,
    annotations: incident.annotations,
    openedAt: incident.openedAt,
    updatedAt: incident.updatedAt,
    resolvedAt: incident.resolvedAt ?? null,
    alerts: { firing, resolved: incident.alerts.length - firing, truncated: incident.truncatedAlerts },
    groupKey: incident.groupKey,
    receiver: incident.receiver,
    externalURL: incident.externalURL,
    deliveries: incident.deliveries,
  };
}

interface RouteContext {
  readonly deps: ApiDeps;
  /** Who the credential names: the default `by` of an acknowledgement or a switch. */
  readonly principal: string;
  /** The path's captured segments. */
  readonly params: readonly string[];
}

type RouteHandler = (req: HttpRequest, ctx: RouteContext) => Promise<HttpResponse>;

async function listIncidents(req: HttpRequest, { deps }: RouteContext): Promise<HttpResponse> {
  const query = listQuery.safeParse(req.query);
  if (!query.success) {
    return problem(
      400,
      'invalid query',
      query.error.issues.map((issue) => `${describeIssuePath(issue.path)}: ${issue.message}`),
    );
  }
  const page = await deps.incidents.listIncidents(query.data);
  return json(200, { incidents: page.incidents.map(incidentView), nextCursor: page.nextCursor ?? null });
}

async function showIncident(_req: HttpRequest, { deps, params }: RouteContext): Promise<HttpResponse> {
  const id = incidentIdOf(params[0]);
  if (typeof id !== 'string') return id;
  const incident = await deps.incidents.getIncident(id);
  if (!incident) return problem(404, `no incident ${id}`);
  const audit = await deps.audit.listAudit(id);
  const escalation = (await deps.escalator?.view(incident)) ?? null;
  return json(200, { ...incidentView(incident), escalation, alertDetails: incident.alerts, audit });
}

async function acknowledgeIncident(req: HttpRequest, ctx: RouteContext): Promise<HttpResponse> {
  const { deps } = ctx;
  if (!deps.escalator) return problem(503, 'escalation is not available here');
  const id = incidentIdOf(ctx.params[0]);
  if (typeof id !== 'string') return id;
  const parsed = parseBody(req, ackBody, 'invalid acknowledgement', {});
  if (!parsed.ok) return parsed.response;
  const by = parsed.data.by ?? ctx.principal;
  const via = req.headers['user-agent']?.startsWith('responder-cli') ? 'cli' : 'api';
  const result = await deps.escalator.acknowledge(id, by, via);
  switch (result.outcome) {
    case 'no-incident':
      return problem(404, `no incident ${id}`);
    case 'resolved':
      return problem(409, `incident ${id} is already resolved: nothing to acknowledge`);
    default: {
      const incident = await deps.incidents.getIncident(id);
      return json(200, {
        id,
        outcome: result.outcome,
        acknowledged: result.escalation.acknowledged,
        escalation: incident ? await deps.escalator.view(incident) : null,
      });
    }
  }
}

async function listProbeHealth(_req: HttpRequest, { deps }: RouteContext): Promise<HttpResponse> {
  const health = new Map((await deps.targetHealth.listTargetHealth()).map((h) => [h.target, h]));
  return json(200, {
    targets: deps.config.probes.targets.map((target) => {
      const known = health.get(target.name);
      return {
        target: target.name,
        kind: target.kind,
        healthy: known?.healthy ?? null,
        consecutiveFailures: known?.consecutiveFailures ?? 0,
        lastResult: known?.lastResult ?? null,
        lastTransitionAt: known?.lastTransitionAt ?? null,
        incidentId: known?.incidentId ?? null,
      };
    }),
  });
}

async function probeNow(req: HttpRequest, { deps }: RouteContext): Promise<HttpResponse> {
  if (!deps.runProbes) return problem(503, 'probing is not available here');
  const parsed = parseBody(req, probeBody, 'invalid probe request', {});
  if (!parsed.ok) return parsed.response;
  const report = await deps.runProbes(parsed.data.targets);
  if (!report) return problem(409, 'the probe run was skipped; see the audit trail');
  if (report.unknownTargets.length > 0 && report.results.length === 0) {
    return problem(404, `no such probe target: ${report.unknownTargets.join(', ')}`);
  }
  return json(200, report);
}

async function showAutomation(_req: HttpRequest, { deps }: RouteContext): Promise<HttpResponse> {
  return json(200, await automationView(deps));
}

async function switchAutomation(req: HttpRequest, ctx: RouteContext): Promise<HttpResponse> {
  const { deps } = ctx;
  const parsed = parseBody(req, automationBody, 'invalid automation change');
  if (!parsed.ok) return parsed.response;
  const at = deps.clock.now().toISOString();
  const by = parsed.data.by ?? ctx.principal;
  await deps.automation.setAutomationFlag({
    enabled: parsed.data.enabled,
    changedAt: at,
    changedBy: by,
    reason: parsed.data.reason,
  });
  await deps.audit.appendAudit(
    {
      at,
      type: parsed.data.enabled ? 'automation.enabled' : 'automation.disabled',
      actor: by,
      message: `automation ${parsed.data.enabled ? 'enabled' : 'disabled'}: ${parsed.data.reason}`,
    },
    deps.config.auditRetentionDays,
  );
  deps.log.warn('automation flag changed', { enabled: parsed.data.enabled, by });
  return json(200, await automationView(deps));
}

/** Newest first: every configured database's backups, or one database's (`?database=`). */
async function listBackups(req: HttpRequest, { deps }: RouteContext): Promise<HttpResponse> {
  if (!deps.backups) return problem(503, 'backups are not available here');
  const query = backupListQuery.safeParse(req.query);
  if (!query.success) {
    return problem(
      400,
      'invalid query',
      query.error.issues.map((issue) => `${describeIssuePath(issue.path)}: ${issue.message}`),
    );
  }
  const { database, limit, verified } = query.data;
  const names = deps.config.backups.databases.map((db) => db.name);
  if (database && !names.includes(database))
    return problem(404, `no database '${database}' in backups.databases`);
  const lists = await Promise.all(
    (database ? [database] : names).map((name) =>
      deps.backups?.catalog.listBackups(name, { limit, verifiedOnly: verified === 'true' }),
    ),
  );
  const backups = lists
    .flatMap((list) => list ?? [])
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt))
    .slice(0, limit);
  return json(200, { backups });
}

/** One backup by id, or `<database>@latest` for the newest verified one. */
async function showBackup(_req: HttpRequest, { deps, params }: RouteContext): Promise<HttpResponse> {
  if (!deps.backups) return problem(503, 'backups are not available here');
  const ref = safeDecode(params[0] ?? '');
  const latest = /^([a-z0-9][a-z0-9_-]{0,62})@latest$/.exec(ref);
  if (latest) {
    const found = await deps.backups.catalog.latestVerified(latest[1] as string);
    return found ? json(200, found) : problem(404, `no verified backup of '${latest[1]}'`);
  }
  if (!parseBackupId(ref)) {
    return problem(400, 'name a backup as <database>@<yyyymmddThhmmss.mmmZ> or <database>@latest');
  }
  const found = await deps.backups.catalog.getBackup(ref);
  return found ? json(200, found) : problem(404, `no backup ${ref}`);
}

/** Starts a backup now (202), or with `dryRun` reports what it would do (200). */
async function startBackup(req: HttpRequest, { deps }: RouteContext): Promise<HttpResponse> {
  if (!deps.backups) return problem(503, 'backups are not available here');
  const parsed = parseBody(req, backupBody, 'invalid backup request');
  if (!parsed.ok) return parsed.response;
  const db = deps.config.backups.databases.find((candidate) => candidate.name === parsed.data.database);
  if (!db) {
    return problem(400, 'invalid backup request', [
      `database: no '${parsed.data.database.slice(0, 63)}' in backups.databases (configured: ${deps.config.backups.databases.map((d) => d.name).join(', ') || 'none'})`,
    ]);
  }
  if (parsed.data.verify === 'restore' && !db.scratch) {
    return problem(400, 'invalid backup request', [
      `verify: '${db.name}' has no scratch database (backups.databases[].scratch) to restore into`,
    ]);
  }
  const request = operatorBackupRequest(parsed.data, deps.clock, deps.config.safety.dryRun);
  let result: ActionResult | undefined;
  try {
    result = await deps.backups.run(request, request.dryRun);
  } catch (error) {
    if (error instanceof DependencyUnavailableError) throw error;
    deps.log.error('backup request failed', { error: (error as Error).message });
    return problem(502, `the backup could not be started: ${(error as Error).message.slice(0, 300)}`);
  }
  if (request.dryRun) {
    return json(200, { actionId: request.actionId, database: db.name, dryRun: true, result: result ?? null });
  }
  return json(202, { actionId: request.actionId, database: db.name, status: 'started' });
}

async function runFailover(
  deps: ApiDeps,
  params: Record<string, unknown>,
  dryRun: boolean,
): Promise<HttpResponse> {
  if (!deps.failover) {
    return problem(
      503,
      "failover is not wired to this API: invoke the DR region's failover function directly (responder failover --region <drRegion> --function-name <FailoverFunctionName>)",
    );
  }
  const { direct } = deps.failover;
  const request = actionRequestSchema.parse({
    actionId: `operator-failover-${randomUUID()}`,
    kind: 'failover',
    trigger: 'operator',
    requestedAt: deps.clock.now().toISOString(),
    dryRun: dryRun || deps.config.safety.dryRun,
    params,
  });
  let result: ActionResult | StillRunning;
  try {
    result = await deps.failover.run(request);
  } catch (error) {
    const message = (error as Error).message.slice(0, 300);
    deps.log.error('failover request not answered', { actionId: request.actionId, error: message });
    const where = direct ? `the failover function in ${direct.region}` : 'the failover function';
    const next = direct
      ? `: check what it did with responder failover status, then ask it directly with your AWS credentials: ${directFailoverCommand(direct, params)}`
      : '';
    // 502: it ran and failed; 503: Lambda or the region did not answer.
    return problem(
      error instanceof ActionFunctionError ? 502 : 503,
      `${where} did not answer (${message})${next}`,
    );
  }
  if (result.status === 'running') {
    return json(202, {
      actionId: request.actionId,
      status: 'running',
      summary: `no answer within ${Math.round(result.waitedMs / 1000)} s: the failover goes on in ${direct ? direct.region : 'the failover function'} (a move waits for DNS and the site's probes); follow it with responder failover status (GET /api/failover) and the audit trail before you ask again`,
      result: null,
    });
  }
  if (result.status === 'skipped') return json(409, { actionId: request.actionId, skipped: result.reason });
  const { outcome } = result;
  return json(200, {
    actionId: request.actionId,
    status: outcome.status,
    summary: outcome.summary,
    result: outcome.result ?? null,
  });
}

/** Which site is active, since when, the last move and the cooldown. */
async function failoverStatus(_req: HttpRequest, { deps }: RouteContext): Promise<HttpResponse> {
  if (!deps.config.failover) return problem(404, 'failover is not configured');
  return runFailover(deps, { status: true }, false);
}

/** Fails over now (`to: dr`) or back (`to: primary`), through every gate; 200 with each gate and step. */
async function failoverNow(req: HttpRequest, ctx: RouteContext): Promise<HttpResponse> {
  const { deps } = ctx;
  if (!deps.config.failover) return problem(404, 'failover is not configured');
  const parsed = parseBody(req, failoverBody, 'invalid failover request');
  if (!parsed.ok) return parsed.response;
  const { dryRun, ...params } = parsed.data;
  if (params.force && !params.reason) {
    return problem(400, 'invalid failover request', ['reason: force needs a reason, for the audit trail']);
  }
  return runFailover(deps, { ...params, by: params.by ?? ctx.principal }, dryRun === true);
}

/** A stored drill report (`responder drill show <id>`); `404` when there is none. */
async function showDrill(_req: HttpRequest, ctx: RouteContext): Promise<HttpResponse> {
  const { deps } = ctx;
  if (!deps.config.failover) return problem(404, 'failover is not configured');
  const id = safeDecode(ctx.params[0] ?? '');
  if (!/^drill-[A-Za-z0-9-]{1,80}$/.test(id)) return problem(400, 'name the drill by its id (drill-...)');
  const response = await runFailover(deps, { drillReport: id }, false);
  if (response.statusCode === 200 && JSON.parse(response.body).result?.report === null) {
    return problem(404, `no drill report ${id}`);
  }
  return response;
}

/**
 * Runs a failover drill (`responder drill failover`): there (and back), with marker rows; answers
 * with the report. Refused in production unless `iKnowThisIsProduction`.
 */
async function drillNow(req: HttpRequest, ctx: RouteContext): Promise<HttpResponse> {
  const { deps } = ctx;
  if (!deps.config.failover) return problem(404, 'failover is not configured');
  const parsed = parseBody(req, drillBody, 'invalid drill request', {});
  if (!parsed.ok) return parsed.response;
  const { dryRun, ...params } = parsed.data;
  return runFailover(deps, { ...params, drill: true, by: params.by ?? ctx.principal }, dryRun === true);
}

/** Approves a failover waiting for approval: every gate runs again. */
async function approveFailover(req: HttpRequest, ctx: RouteContext): Promise<HttpResponse> {
  const { deps } = ctx;
  if (!deps.config.failover) return problem(404, 'failover is not configured');
  const parsed = parseBody(req, approveBody, 'invalid approval', {});
  if (!parsed.ok) return parsed.response;
  const id = safeDecode(ctx.params[0] ?? '');
  if (!/^[A-Za-z0-9_.:-]{8,200}$/.test(id)) return problem(400, 'name the failover request by its id');
  return runFailover(deps, { approve: id, by: parsed.data.by ?? ctx.principal }, false);
}

/**
 * Rotates a configured secret now: locally the four steps run before the answer (each one listed);
 * in AWS the rotation is started and Secrets Manager runs the steps.
 */
async function rotateNow(req: HttpRequest, { deps }: RouteContext): Promise<HttpResponse> {
  if (!deps.rotations) return problem(503, 'rotation is not available here');
  const parsed = parseBody(req, rotateBody, 'invalid rotation request');
  if (!parsed.ok) return parsed.response;
  const configured = deps.config.secrets.rotations.map((r) => r.secret);
  if (!configured.includes(parsed.data.secret)) {
    return problem(400, 'invalid rotation request', [
      `secret: no rotation of '${parsed.data.secret.slice(0, 200)}' in secrets.rotations (configured: ${configured.join(', ') || 'none'})`,
    ]);
  }
  const request = operatorRotateRequest(parsed.data, deps.clock, deps.config.safety.dryRun);
  let result: ActionResult;
  try {
    result = await deps.rotations.run(request);
  } catch (error) {
    if (error instanceof DependencyUnavailableError) throw error;
    deps.log.error('rotation request failed', { error: (error as Error).message });
    return problem(502, `the rotation could not be run: ${(error as Error).message.slice(0, 300)}`);
  }
  if (result.status === 'skipped') return json(409, { actionId: request.actionId, skipped: result.reason });
  const { outcome } = result;
  // A rotation that failed was still carried out as asked: its status says so (and it opened an incident).
  return json(200, {
    actionId: request.actionId,
    secret: parsed.data.secret,
    status: outcome.status,
    summary: outcome.summary,
    result: outcome.result ?? null,
  });
}

/**
 * The authenticated routes, one function per method: the methods listed are the `Allow` of a 405 and
 * an OPTIONS answer; other paths are 404. (`/healthz` and the signed `/ack/{token}` links come first.)
 */
const ROUTES: ReadonlyArray<{
  readonly pattern: RegExp;
  readonly methods: Readonly<Record<string, RouteHandler>>;
}> = [
  { pattern: /^\/api\/incidents$/, methods: { GET: listIncidents } },
  { pattern: /^\/api\/incidents\/([^/]+)$/, methods: { GET: showIncident } },
  { pattern: /^\/api\/incidents\/([^/]+)\/ack$/, methods: { POST: acknowledgeIncident } },
  { pattern: /^\/api\/probes$/, methods: { GET: listProbeHealth, POST: probeNow } },
  { pattern: /^\/api\/automation$/, methods: { GET: showAutomation, PUT: switchAutomation } },
  { pattern: /^\/api\/backups$/, methods: { GET: listBackups, POST: startBackup } },
  { pattern: /^\/api\/backups\/([^/]+)$/, methods: { GET: showBackup } },
  { pattern: /^\/api\/rotations$/, methods: { POST: rotateNow } },
  { pattern: /^\/api\/failover$/, methods: { GET: failoverStatus, POST: failoverNow } },
  { pattern: /^\/api\/failover\/approvals\/([^/]+)$/, methods: { POST: approveFailover } },
  { pattern: /^\/api\/failover\/drills$/, methods: { POST: drillNow } },
  { pattern: /^\/api\/failover\/drills\/([^/]+)$/, methods: { GET: showDrill } },
];

/** The read side and operator controls: `/healthz`, the signed ack links, then the authenticated ROUTES. */
export async function handleApiRequest(req: HttpRequest, deps: ApiDeps): Promise<HttpResponse> {
  try {
    if (req.path === '/healthz') {
      if (req.method === 'HEAD') return { ...json(200, {}), body: '' };
      return req.method === 'GET'
        ? json(200, { status: 'ok', version: deps.version })
        : methodNotAllowed('GET, HEAD');
    }
    if (req.path === '/alertmanager') return methodNotAllowed('POST');
    if (req.path.startsWith('/ack/')) {
      // Authenticated by its signature: the link works from a phone, without the API token. A link
      // that cannot be one (empty, too long, more segments) is as invalid as an altered one: 403.
      if (!deps.escalator) return problem(503, 'escalation is not available here');
      const token = /^\/ack\/([^/]{1,200})$/.exec(req.path)?.[1];
      return await handleAckLink(req, token === undefined ? '' : safeDecode(token), {
        escalator: deps.escalator,
        incidents: deps.incidents,
        escalations: deps.escalations,
        log: deps.log,
      });
    }
    if (req.path.startsWith('/approve/') && deps.failover && deps.escalator) {
      // Authenticated by its signature, as ack links are (the ack-link key, under its own label).
      const escalator = deps.escalator;
      const token = /^\/approve\/([^/]{1,400})$/.exec(req.path)?.[1];
      const failover = deps.failover;
      return await handleApproveLink(req, token === undefined ? '' : safeDecode(token), {
        verify: (text) => escalator.verifyApproveLink(text),
        direct: failover.direct,
        approve: (requestId, by) =>
          failover.run(
            actionRequestSchema.parse({
              actionId: `link-approve-${randomUUID()}`,
              kind: 'failover',
              trigger: 'operator',
              requestedAt: deps.clock.now().toISOString(),
              dryRun: false,
              params: { approve: requestId, by },
            }),
          ),
        clock: deps.clock,
        log: deps.log,
      });
    }
    const route = ROUTES.find(({ pattern }) => pattern.test(req.path));
    if (!route) return problem(404, `no route ${req.method.slice(0, 10)} ${req.path.slice(0, 200)}`);
    const allowed = Object.keys(route.methods).join(', ');
    // No CORS: the API is for Alertmanager, the CLI and scripts, never for another site's pages.
    if (req.method === 'OPTIONS') return { statusCode: 204, headers: { allow: allowed }, body: '' };
    const auth = authenticate(req.headers.authorization, await deps.credentials.get());
    if (!auth.ok) return problem(401, 'unauthorized', undefined, UNAUTHORIZED_HEADERS);
    const handler = Object.hasOwn(route.methods, req.method) ? route.methods[req.method] : undefined;
    if (!handler) return methodNotAllowed(allowed);
    // The transport stopped reading: the body here is empty, and must not pass for an empty request.
    if (req.bodyTooLarge)
      return problem(413, `body exceeds the ${deps.config.webhook.maxBodyBytes}-byte limit`);
    if ((req.method === 'POST' || req.method === 'PUT') && !isJsonRequest(req)) {
      // A form or text/plain POST is what a cross-site page can send without a preflight.
      return problem(415, 'send the body as application/json (an empty body needs the header too)');
    }

    const params = route.pattern.exec(req.path)?.slice(1) ?? [];
    return await handler(req, { deps, principal: auth.principal, params });
  } catch (error) {
    if (error instanceof InvalidCursorError) return problem(400, 'invalid query', [error.message]);
    if (error instanceof DependencyUnavailableError) {
      return unavailable(error);
    }
    deps.log.error('api request failed', { error: (error as Error).message, stack: (error as Error).stack });
    return problem(500, 'internal error');
  }
}

async function automationView(deps: ApiDeps) {
  const flag = await deps.automation.getAutomationFlag();
  const configEnabled = deps.config.safety.automationEnabled;
  return {
    effective: configEnabled && flag.enabled,
    config: { automationEnabled: configEnabled, dryRun: deps.config.safety.dryRun },
    runtimeFlag: flag,
  };
}

/**
 * Parses and validates a JSON body; each problem in the 400 names its field. An empty body stands
 * for `whenEmpty` where the route allows one (otherwise it is not valid JSON).
 */
function parseBody<S extends z.ZodMiniType>(
  req: HttpRequest,
  schema: S,
  invalid: string,
  whenEmpty?: unknown,
): { ok: true; data: z.output<S> } | { ok: false; response: HttpResponse } {
  let body: unknown = whenEmpty;
  if (req.body.length > 0 || whenEmpty === undefined) {
    try {
      body = JSON.parse(req.body.toString('utf8'));
    } catch {
      return { ok: false, response: problem(400, 'body is not valid JSON') };
    }
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return { ok: true, data: parsed.data };
  return {
    ok: false,
    response: problem(
      400,
      invalid,
      parsed.error.issues.map((issue) => `${describeIssuePath(issue.path, '(body)')}: ${issue.message}`),
    ),
  };
}

/** The incident id of a path segment, or the 400 that names what is wrong with it. */
function incidentIdOf(segment: string | undefined): string | HttpResponse {
  const id = safeDecode(segment ?? '');
  return INCIDENT_ID.test(id) ? id : problem(400, `'${id}' is not an incident id (YYYYMMDD-xxxxxxxx)`);
}

/** A path segment decoded; a malformed %-sequence stays as it is and fails the id check (400). */
function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function methodNotAllowed(allow: string) {
  return problem(405, `method not allowed; use ${allow}`, undefined, { allow });
}
