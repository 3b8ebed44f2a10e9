import type { IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import type { ActionRequest } from './domain/actions.ts';
import type { BackupManifest } from './domain/backups.ts';
import type { Escalation } from './domain/escalation.ts';
import type { AuditEntry, Incident, IncidentStatus } from './domain/incident.ts';
import type { ProbeResult, TargetHealth } from './domain/probes.ts';

/** Thrown by adapters when a dependency is unreachable or throttling: the caller may retry later. */
export class DependencyUnavailableError extends Error {
  constructor(
    readonly dependency: string,
    cause: unknown,
  ) {
    super(`${dependency} is unavailable: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'DependencyUnavailableError';
  }
}

/** A list cursor that this store did not hand out (garbled, forged or from another listing). */
export class InvalidCursorError extends Error {
  constructor() {
    super('cursor: not a cursor this listing returned; start again without one');
    this.name = 'InvalidCursorError';
  }
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export interface Log {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * `duplicate`: the delivery was processed. `in-progress`: another worker holds a live lease on it and
 * has not finished: a delivery retried now may still be lost.
 */
export type ClaimResult = 'claimed' | 'duplicate';
export type DeliveryClaim = ClaimResult | { readonly inProgress: true; readonly retryAfterSeconds: number };

export interface AutomationFlag {
  readonly enabled: boolean;
  readonly changedAt?: string;
  readonly changedBy?: string;
  readonly reason?: string;
}

export type FloodBudget = 'incidents' | 'pages';

export interface FloodBudgetUse {
  readonly allowed: boolean;
  readonly firstRefusal: boolean;
}

export interface IncidentPage {
  readonly incidents: Incident[];
  readonly nextCursor?: string;
}

/** Webhook delivery dedupe keys. */
export interface DeliveryDedupe {
  /**
   * Claims a webhook delivery. A claim not finished within its lease may be taken over by a retry;
   * one still within its lease is in progress, not yet a duplicate.
   *
   * Not the Powertools idempotency utility (which action requests use, `ActionIdempotency`): its
   * duplicate returns the first call's stored result, where Alertmanager's contract here is a
   * distinct `200 duplicate` answer after the first `202 accepted`; its "in progress" is an error
   * without the time left on the lease, which the `503` needs for its `Retry-After`; and a delivery's
   * key is the hash ingest computes over the normalized payload, not a JMESPath selection of the event.
   */
  claimDelivery(key: string, now: Date, leaseSeconds: number): Promise<DeliveryClaim>;
  finishDelivery(key: string, now: Date, ttlSeconds: number): Promise<void>;
  releaseDelivery(key: string): Promise<void>;
}

/** An alert group's pointer: the incident it names (absent: none yet), and since when. */
export interface GroupPointer {
  readonly incidentId?: string;
  readonly pointedAt?: string;
}

/** What opening an incident came to (`IncidentStore.openIncident`). */
export type OpenResult = 'opened' | 'conflict' | 'refused';

/** Incidents and the pointer from each alert group to its current incident. */
export interface IncidentStore {
  /** The group's pointer alone: one read, which a caller may send alongside its own calls. */
  findGroupPointer(groupId: string): Promise<GroupPointer>;
  /**
   * The incident an alert group's pointer names (open or resolved). `incidentId` without `incident`
   * means a crash left the pointer written and the incident not (the next open reuses that id when
   * `pointedAt` is recent), or the incident expired. Given `pointer` (read by findGroupPointer), only
   * the incident is read.
   */
  findCurrentIncident(
    groupId: string,
    pointer?: GroupPointer,
  ): Promise<{ incidentId?: string; incident?: Incident; pointedAt?: string }>;
  /**
   * Points the group at a new incident and writes it. The pointer moves only if it still names
   * `previous.incidentId` (or names none when that is undefined), so two concurrent opens cannot both
   * win: `conflict`. `admit`, when given, is asked alongside the pointer write (floodLimits); when it
   * says no, the pointer is moved back to `previous` (unless someone moved it since), nothing is
   * written and the answer is `refused`. A caller whose open ends in `conflict` keeps what `admit`
   * took for its next attempt.
   */
  openIncident(
    incident: Incident,
    previous: GroupPointer,
    admit?: () => Promise<boolean>,
  ): Promise<OpenResult>;
  /** Writes a new version of an incident; false when someone else wrote `expectedVersion` first. */
  saveIncident(incident: Incident, expectedVersion: number): Promise<boolean>;
  getIncident(id: string): Promise<Incident | undefined>;
  listIncidents(options: { limit: number; status?: IncidentStatus; cursor?: string }): Promise<IncidentPage>;
}

/** The audit trail: per incident, and per UTC day for entries not tied to one. */
export interface AuditTrail {
  appendAudit(entry: AuditEntry, retentionDays: number): Promise<void>;
  listAudit(incidentId: string, limit?: number): Promise<AuditEntry[]>;
  /** Audit entries not tied to an incident, for one UTC day (YYYY-MM-DD). */
  listSystemAudit(day: string, limit?: number): Promise<AuditEntry[]>;
}

/** Probe targets' health, one item each; saved with the version read (0 for a new target). */
export interface TargetHealthStore {
  getTargetHealth(target: string): Promise<TargetHealth | undefined>;
  saveTargetHealth(health: TargetHealth, expectedVersion: number): Promise<boolean>;
  listTargetHealth(): Promise<TargetHealth[]>;
}

/** Incidents' escalations, saved with the version read (0 for a new one), and those with work due. */
export interface EscalationStore {
  getEscalation(incidentId: string): Promise<Escalation | undefined>;
  saveEscalation(escalation: Escalation, expectedVersion: number): Promise<boolean>;
  /** Ids of escalations whose `dueAt` has passed (eventually consistent: read each before acting). */
  listDueEscalations(now: Date, limit?: number): Promise<string[]>;
}

/** Flood-limit counters (`floodLimits`), one per budget and window. */
export interface FloodLimits {
  /**
   * Counts one use of a flood budget (`floodLimits`) in the window that starts at `windowStart`.
   * `allowed` while no more than `limit` were counted; `firstRefusal` once per window, for the one
   * summary page.
   */
  takeFloodBudget(
    budget: FloodBudget,
    windowStart: Date,
    windowSeconds: number,
    limit: number,
  ): Promise<FloodBudgetUse>;
  /** Gives back one unit taken (`used`) or one refusal counted (`refused`) when what it was for failed. */
  returnFloodBudget(budget: FloodBudget, windowStart: Date, counter: 'used' | 'refused'): Promise<void>;
}

/** The automation switch: whether automatic actions run. */
export interface AutomationSwitch {
  getAutomationFlag(): Promise<AutomationFlag>;
  setAutomationFlag(flag: AutomationFlag): Promise<void>;
}

/**
 * The backup catalog: each backup's manifest by database, the latest verified one in one query, and
 * the per-database lock that lets one backup run at a time.
 */
export interface BackupCatalog {
  /** Takes the database's backup lock until `until`; false while another holder's lock is live. */
  lockDatabase(database: string, holder: string, now: Date, until: Date): Promise<boolean>;
  /** Lets the lock go if `holder` still holds it. */
  unlockDatabase(database: string, holder: string): Promise<void>;
  saveBackup(manifest: BackupManifest): Promise<void>;
  getBackup(id: string): Promise<BackupManifest | undefined>;
  /** The newest verified backup of a database. */
  latestVerified(database: string): Promise<BackupManifest | undefined>;
  /** Newest first. `verifiedOnly` lists only backups proven restorable. */
  listBackups(
    database: string,
    options?: { limit?: number; verifiedOnly?: boolean },
  ): Promise<BackupManifest[]>;
}

export type FailoverSite = 'primary' | 'dr';

/** Which site the record points at, and the last move: the switch, kept in the DR region. */
export interface FailoverState {
  readonly active: FailoverSite;
  /** When the active site became active (the deployment's first read: never moved). */
  readonly since?: string;
  readonly lastChange?: {
    readonly from: FailoverSite;
    readonly to: FailoverSite;
    readonly at: string;
    readonly by: string;
    readonly requestId: string;
    readonly reason?: string;
    readonly forced?: boolean;
  };
  /** Optimistic-concurrency counter; 0 for a switch never written (the primary is active). */
  readonly version: number;
}

/** A failover waiting for a human (policy `approve`), its gate results, and how it ended. */
export interface FailoverApproval {
  readonly requestId: string;
  readonly to: FailoverSite;
  readonly trigger: string;
  readonly requestedAt: string;
  readonly expiresAt: string;
  readonly status: 'pending' | 'approved' | 'expired' | 'refused';
  readonly gates: readonly {
    readonly gate: string;
    readonly ok: boolean;
    readonly detail: string;
    /** A refusal approving overrules: the stated data loss of a lagging replica. */
    readonly approvable?: boolean;
    readonly lagSeconds?: number;
  }[];
  readonly incidentId?: string;
  readonly decidedBy?: string;
  readonly decidedAt?: string;
}

/**
 * The failover's state in the DR region: the switch (one conditional write moves it), the lock that
 * lets one failover run at a time, and approvals.
 */
export interface FailoverStore {
  getFailoverState(): Promise<FailoverState>;
  /** Writes the switch if nobody wrote `expectedVersion` first (0: never written). */
  saveFailoverState(state: FailoverState, expectedVersion: number): Promise<boolean>;
  lockFailover(holder: string, now: Date, until: Date): Promise<boolean>;
  unlockFailover(holder: string): Promise<void>;
  saveApproval(approval: FailoverApproval): Promise<void>;
  getApproval(requestId: string): Promise<FailoverApproval | undefined>;
  /** Moves a pending approval to `approved` once: false when it was no longer pending. */
  approve(requestId: string, by: string, at: Date): Promise<boolean>;
  /** A failover drill's report (`responder drill failover`), kept for a year. */
  saveDrillReport(report: DrillReport): Promise<void>;
  getDrillReport(drillId: string): Promise<DrillReport | undefined>;
}

/** One leg of a drill: a failover and what it kept of the marker rows. */
export interface DrillLeg {
  readonly to: FailoverSite;
  readonly status: 'completed' | 'recorded' | 'failed';
  readonly summary: string;
  /** Decision → the site answering through DNS and passing its probes. */
  readonly rtoMs?: number;
  readonly steps: readonly {
    readonly gate: string;
    readonly ok: boolean;
    readonly detail: string;
    readonly ms?: number;
  }[];
  readonly fenced?: boolean;
  readonly lagSecondsAtPromotion?: number;
  readonly markers?: {
    /** Marker rows the writer acknowledged (committed) through the old writer. */
    readonly written: number;
    readonly writtenBeforeDecision: number;
    /** Of those, how many the new writer holds. */
    readonly present: number;
    /** Acknowledged but not on the new writer: lost. */
    readonly missing: readonly number[];
    readonly newestWrittenAt?: string;
    readonly newestPresentAt?: string;
    /** Newest acknowledged marker − newest marker that made it across, in seconds. */
    readonly rpoSeconds: number;
    /** Every marker committed before the decision is on the new writer. */
    readonly keptBeforeDecision: boolean;
    /** The new writer could not be read: the markers' fate is unknown. */
    readonly readError?: string;
  };
}

/** What `responder drill failover` proved: each leg, RTO and RPO. */
export interface DrillReport {
  readonly drillId: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly by: string;
  readonly environment: string;
  readonly passed: boolean;
  readonly legs: readonly DrillLeg[];
  /** Steps of the drill itself (markers, rebuilding a standby). */
  readonly notes: readonly string[];
  /** Where the rendered report was written (the local data folder). */
  readonly file?: string;
}

/** What one site's database is now: the writer, or a replica and how far behind it is. */
export interface DatabaseRole {
  readonly role: 'writer' | 'replica';
  /** A replica's replay lag in seconds: what promoting it now would lose of what it received. */
  readonly lagSeconds?: number;
  /** A replica that receives from its source right now (streaming). */
  readonly streaming?: boolean;
  readonly detail: string;
}

/** How fencing a site's database went: it answered, and it takes no more writes. */
export interface FenceResult {
  readonly reachable: boolean;
  readonly fenced: boolean;
  readonly detail: string;
}

/**
 * The database step of a failover (`failover.database`): the engine's view of each site's database.
 * A self-managed standby speaks SQL; RDS and Aurora speak their control-plane APIs.
 */
export interface DatabaseFailover {
  readonly engine: 'postgres-standby' | 'rds-replica' | 'aurora-global';
  /** Where `site`'s database stands; throws when it cannot be told. */
  inspect(site: FailoverSite): Promise<DatabaseRole>;
  /** Makes `site`'s database stop taking writes, when it answers. Never throws: says what happened. */
  fence(site: FailoverSite): Promise<FenceResult>;
  /**
   * Promotes `site`'s database and resolves once it takes writes; throws once `timeoutMs` passes.
   * `sourceAnswers`: the other site's database answered (Aurora switches over without data loss
   * then); `allowDataLoss`: the request accepted losing what the replica had not received.
   */
  promote(
    site: FailoverSite,
    options: { readonly timeoutMs: number; readonly sourceAnswers: boolean; readonly allowDataLoss: boolean },
  ): Promise<{ readonly detail: string }>;
  /**
   * After `from` was fenced: waits (bounded) until `to` has replayed all `from` wrote, so a planned
   * failover loses nothing. Throws when it does not catch up in time.
   */
  awaitCatchUp?(from: FailoverSite, to: FailoverSite, timeoutMs: number): Promise<string>;
  /** Undoes a fence of `site` (a failover that stopped before DNS moved); says what it did. */
  unfence?(site: FailoverSite): Promise<string>;
}

/** The drill's marker rows: written through the writer, read from either site's database. */
export interface DrillMarkers {
  /** Writes marker `seq` of drill `drillId` through `site`'s database; throws when it takes no writes. */
  write(site: FailoverSite, drillId: string, seq: number): Promise<void>;
  /** The markers of drill `drillId` that `site`'s database holds, in order. */
  read(site: FailoverSite, drillId: string): Promise<readonly { seq: number; writtenAt: string }[]>;
}

/** One DNS record set as the zone holds it. */
export interface DnsRecordSet {
  readonly name: string;
  readonly type: 'A' | 'AAAA' | 'CNAME';
  readonly ttl: number;
  readonly values: readonly string[];
}

/**
 * A DNS zone's record sets (`records` mode): Route 53's ChangeResourceRecordSets and GetChange in
 * AWS, the state table locally (served by the local DNS listener).
 */
export interface DnsZone {
  getRecord(name: string, type: DnsRecordSet['type']): Promise<DnsRecordSet | undefined>;
  /** UPSERTs the record set; resolves once the change is applied (INSYNC), or throws after the bound. */
  upsertRecord(record: DnsRecordSet): Promise<{ readonly changeId: string; readonly insyncAfterMs: number }>;
}

/** Every state port at once: what the local runtime and tests hand around. */
export type StateStore = DeliveryDedupe &
  IncidentStore &
  AuditTrail &
  TargetHealthStore &
  EscalationStore &
  FloodLimits &
  AutomationSwitch;

/**
 * Where action requests' idempotency records are kept (`makeIdempotent`, keyed by `actionId`): the
 * first delivery of an id runs, later ones get its stored result. `config` carries the Lambda context
 * (`registerLambdaContext`), so an action in progress holds its id only for its invocation's time left.
 */
export interface ActionIdempotency {
  readonly persistenceStore: BasePersistenceLayer;
  readonly config: IdempotencyConfig;
}

/** Reads secret values by Secrets Manager name or ARN (the AWSCURRENT version). */
export interface SecretStore {
  getSecretString(secretId: string): Promise<string>;
}

/** One version of a secret: its value and when the version was created (absent: not known). */
export interface SecretGeneration {
  readonly value: string;
  readonly createdAt?: Date;
}

/**
 * Reads a secret's AWSCURRENT and AWSPREVIOUS versions with their creation dates: what consumers read
 * that accept the previous value for a while after a rotation (Responder's webhook credential for
 * `secrets.own.graceMinutes` after AWSCURRENT was created, the ack-link key for its links' lifetime).
 * `previous` is absent when no version holds AWSPREVIOUS.
 */
export interface RotatedSecretReader {
  getCurrentAndPrevious(
    secretId: string,
  ): Promise<{ readonly current: SecretGeneration; readonly previous?: SecretGeneration }>;
}

/** The staging labels Secrets Manager's rotation contract moves. */
export const STAGES = { current: 'AWSCURRENT', pending: 'AWSPENDING', previous: 'AWSPREVIOUS' } as const;

export interface SecretVersionInfo {
  readonly versionId: string;
  readonly stages: readonly string[];
}

export interface SecretDescription {
  readonly arn: string;
  readonly name: string;
  readonly rotationEnabled: boolean;
  /** Every version that carries a staging label. */
  readonly versions: readonly SecretVersionInfo[];
}

export interface SecretVersionValue extends SecretVersionInfo {
  readonly value: string;
}

/** Thrown when a version or stage asked for does not exist (Secrets Manager's ResourceNotFoundException). */
export class SecretVersionNotFoundError extends Error {
  constructor(secretId: string, which: string) {
    super(`secret ${secretId} has no version ${which}`);
    this.name = 'SecretVersionNotFoundError';
  }
}

/**
 * Secret versions and their staging labels, with Secrets Manager's rules (one version per label;
 * moving AWSCURRENT labels the version it leaves AWSPREVIOUS). What a rotation reads and moves: the
 * rotate function over Secrets Manager, the local runtime over the state table.
 */
export interface SecretVersions {
  describeSecret(secretId: string): Promise<SecretDescription>;
  /** A version by id or by stage (AWSCURRENT when neither); SecretVersionNotFoundError when absent. */
  getSecretVersion(
    secretId: string,
    which?: { readonly versionId?: string; readonly stage?: string },
  ): Promise<SecretVersionValue>;
  /**
   * PutSecretValue with `token` as the version id and AWSPENDING as its stage. Repeating it with the
   * same token and value changes nothing; the same token with another value is an error.
   */
  putPendingValue(secretId: string, token: string, value: string): Promise<void>;
  /**
   * UpdateSecretVersionStage: `stage` moves to `toVersionId` (from `fromVersionId`, which must hold it),
   * or, without `toVersionId`, is removed from `fromVersionId`.
   */
  updateStage(
    secretId: string,
    stage: string,
    move: { readonly toVersionId?: string; readonly fromVersionId?: string },
  ): Promise<void>;
}

/** Publishes per-target probe latency and up/down: CloudWatch embedded metrics in Lambda. */
export interface ProbeMetrics {
  publish(results: readonly ProbeResult[]): void;
}

export const noProbeMetrics: ProbeMetrics = { publish() {} };

/** Hands action requests to the action functions without waiting for them to run. */
export interface ActionDispatcher {
  dispatch(requests: readonly ActionRequest[]): Promise<void>;
  /**
   * True when the functions these requests reach keep a state table of their own: the DR failover
   * function's pages go to the primary region's bus, whose escalate function has never seen the DR
   * region's incidents. An escalate request then carries the incident itself (`params.incident`),
   * which the escalate function records in its own table before it pages.
   * @default false - the requests name an incident in the same table
   */
  readonly carriesIncidents?: boolean;
}

/** The messages of one page or notice, one per SNS protocol; `json` goes to https, http, sqs and lambda. */
export interface PageMessages {
  readonly default: string;
  readonly email: string;
  readonly sms: string;
  readonly json: string;
}

/** One publish to one escalation topic (an SNS topic in AWS, the console and outbox locally). */
export interface Page {
  /** The topic's name in the config (`escalation.topics`). */
  readonly topic: string;
  /** At most 100 printable ASCII characters, as SNS requires. */
  readonly subject: string;
  readonly messages: PageMessages;
  /** SNS message attributes for subscription filter policies: severity, tier, incident_id, service, event. */
  readonly attributes: Readonly<Record<string, string>>;
}

export interface Pager {
  publish(page: Page): Promise<{ messageId: string }>;
}
