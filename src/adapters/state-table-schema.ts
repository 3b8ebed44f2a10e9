/**
 * The state table's schema: item kinds and their keys, the index, and how items are marshalled.
 * The CDK construct (lib/constructs/state-table.ts), the local table bootstrap and every state
 * adapter import it, so a key exists in one place.
 */

/**
 * How items are marshalled. Every document client over one DynamoDBClient must use these same
 * options: `DynamoDBDocumentClient.from()` writes them into the client's shared config, so the last
 * one created decides for all. convertClassInstanceToMap: the marshaller tells a plain object by
 * `value.constructor.name`, so a label set with a label named `constructor` would fail to marshal.
 */
export const DOCUMENT_TRANSLATION = {
  marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true },
} as const;

/**
 * The partition key prefix of each kind of item. IAM limits each function to the kinds it uses
 * (`dynamodb:LeadingKeys`, see lib/constructs/state-table.ts), so every kind has a prefix of its own;
 * a prefix without a trailing `#` is the whole partition key.
 */
export const STATE_KEY_PREFIXES = {
  incident: 'INC#',
  incidentGroup: 'GROUP#',
  delivery: 'DELIVERY#',
  /** Powertools idempotency records of action requests, all in this one partition (see dynamodb-action-idempotency.ts). */
  actionIdempotency: 'IDEMPOTENCY#ACTION',
  flag: 'FLAG#',
  targetHealth: 'PROBES',
  escalation: 'ESC#',
  /** Per incident (`AUDIT#INC#<id>`) and per UTC day for the rest (`AUDIT#<YYYY-MM-DD>`). */
  audit: 'AUDIT#',
  /** Flood-limit counters. */
  limit: 'LIMIT#',
  /** The backup catalog and each database's backup lock (`BACKUP#<database>`). */
  backup: 'BACKUP#',
  /** The failover switch, its lock and approvals (`FAILOVER#...`). */
  failover: 'FAILOVER#',
  /** The local DNS zone's record sets (local runtime only: Route 53 in AWS). */
  dnsZone: 'ZONE#',
} as const;
export type StateItemKind = keyof typeof STATE_KEY_PREFIXES;

/** Partitions of the index (`gsi1pk`): the incident list, and escalations with work due. */
export const STATE_INDEX_PARTITIONS = {
  incidents: 'INCIDENT',
  dueEscalations: 'ESCALATION-DUE',
} as const;

/** The one index: incidents by `openedAt`, escalations by `dueAt` (see STATE_INDEX_PARTITIONS). */
export const STATE_INDEX = 'gsi1';

export const STATE_TABLE_KEYS = {
  partitionKey: 'pk',
  sortKey: 'sk',
  index: STATE_INDEX,
  ttl: 'expiresAt',
};

const P = STATE_KEY_PREFIXES;
/** Partition and sort keys of the single table; see the README's "State table" section. */
export const stateKeys = {
  incident: (id: string) => ({ pk: `${P.incident}${id}`, sk: 'META' }),
  group: (groupId: string) => ({ pk: `${P.incidentGroup}${groupId}`, sk: 'CURRENT' }),
  delivery: (hash: string) => ({ pk: `${P.delivery}${hash}`, sk: 'DELIVERY' }),
  automation: () => ({ pk: `${P.flag}automation`, sk: 'FLAG' }),
  targetHealth: (target: string) => ({ pk: P.targetHealth, sk: `TARGET#${target}` }),
  escalation: (incidentId: string) => ({ pk: `${P.escalation}${incidentId}`, sk: 'ESCALATION' }),
  incidentAudit: (incidentId: string) => `${P.audit}INC#${incidentId}`,
  systemAudit: (day: string) => `${P.audit}${day}`,
  floodWindow: (budget: string, windowStart: string) => ({ pk: `${P.limit}${budget}`, sk: windowStart }),
  /** Every backup (`RUN#<stamp>`), each verified one again (`VERIFIED#<stamp>`), and the lock. */
  backupRun: (database: string, stamp: string) => ({ pk: `${P.backup}${database}`, sk: `RUN#${stamp}` }),
  backupVerified: (database: string, stamp: string) => ({
    pk: `${P.backup}${database}`,
    sk: `VERIFIED#${stamp}`,
  }),
  backupLock: (database: string) => ({ pk: `${P.backup}${database}`, sk: 'LOCK' }),
  failoverSwitch: () => ({ pk: `${P.failover}switch`, sk: 'STATE' }),
  failoverLock: () => ({ pk: `${P.failover}lock`, sk: 'LOCK' }),
  failoverApproval: (requestId: string) => ({ pk: `${P.failover}approval#${requestId}`, sk: 'APPROVAL' }),
  failoverDrill: (drillId: string) => ({ pk: `${P.failover}drill#${drillId}`, sk: 'REPORT' }),
  dnsRecord: (name: string, type: string) => ({
    pk: `${P.dnsZone}${name.toLowerCase().replace(/\.$/, '')}`,
    sk: type,
  }),
};
