import { randomBytes } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Escalation } from '../domain/escalation.ts';
import type { AuditEntry, Incident } from '../domain/incident.ts';
import type { TargetHealth } from '../domain/probes.ts';
import {
  type AutomationFlag,
  type ClaimResult,
  type DeliveryClaim,
  DependencyUnavailableError,
  type FloodBudget,
  type FloodBudgetUse,
  type IncidentPage,
  InvalidCursorError,
  type StateStore,
} from '../ports.ts';

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
} as const;
export type StateItemKind = keyof typeof STATE_KEY_PREFIXES;

/** Partitions of the index (`gsi1pk`): the incident list, and escalations with work due. */
export const STATE_INDEX_PARTITIONS = {
  incidents: 'INCIDENT',
  dueEscalations: 'ESCALATION-DUE',
} as const;

const P = STATE_KEY_PREFIXES;
/** Partition and sort keys of the single table; see the README's "State table" section. */
const key = {
  incident: (id: string) => ({ pk: `${P.incident}${id}`, sk: 'META' }),
  group: (groupId: string) => ({ pk: `${P.incidentGroup}${groupId}`, sk: 'CURRENT' }),
  delivery: (hash: string) => ({ pk: `${P.delivery}${hash}`, sk: 'DELIVERY' }),
  automation: () => ({ pk: `${P.flag}automation`, sk: 'FLAG' }),
  targetHealth: (target: string) => ({ pk: P.targetHealth, sk: `TARGET#${target}` }),
  escalation: (incidentId: string) => ({ pk: `${P.escalation}${incidentId}`, sk: 'ESCALATION' }),
  incidentAudit: (incidentId: string) => `${P.audit}INC#${incidentId}`,
  systemAudit: (day: string) => `${P.audit}${day}`,
  floodWindow: (budget: string, windowStart: string) => ({ pk: `${P.limit}${budget}`, sk: windowStart }),
};
/** Escalations with work due are in the index under this partition, sorted by `dueAt`; others are not. */
const ESCALATION_DUE_PARTITION = STATE_INDEX_PARTITIONS.dueEscalations;
const INCIDENT_INDEX = 'gsi1';
const INCIDENT_PARTITION = STATE_INDEX_PARTITIONS.incidents;

const epochSeconds = (date: Date) => Math.floor(date.getTime() / 1000);

/** Errors a retry cannot fix; everything else from DynamoDB means "unavailable for now". */
const PERMANENT_ERRORS = new Set(['ValidationException', 'SerializationException']);

function isConditionFailure(error: unknown): boolean {
  return (
    error instanceof ConditionalCheckFailedException ||
    (error as { name?: string })?.name === 'ConditionalCheckFailedException'
  );
}

/**
 * The index key a listing cursor encodes, checked to be one this store hands out: anything else
 * would reach DynamoDB as a malformed ExclusiveStartKey and fail as a server error.
 */
function incidentCursorKey(cursor: string): Record<string, string> {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError();
  }
  if (typeof key !== 'object' || key === null || Array.isArray(key)) throw new InvalidCursorError();
  const entries = Object.entries(key);
  const names = entries.map(([name]) => name).sort();
  const valid =
    names.join(',') === 'gsi1pk,gsi1sk,pk,sk' &&
    entries.every(([, value]) => typeof value === 'string' && value.length > 0 && value.length <= 512) &&
    (key as Record<string, string>).gsi1pk === INCIDENT_PARTITION;
  if (!valid) throw new InvalidCursorError();
  return key as Record<string, string>;
}

export interface DynamoDbStateStoreProps {
  readonly client: DynamoDBClient;
  readonly tableName: string;
}

/** Orders the audit entries this process appends within one timestamp (see appendAudit). */
let auditSequence = 0;

export class DynamoDbStateStore implements StateStore {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;

  constructor(props: DynamoDbStateStoreProps) {
    this.doc = DynamoDBDocumentClient.from(props.client, DOCUMENT_TRANSLATION);
    this.table = props.tableName;
  }

  private async call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (isConditionFailure(error)) throw error;
      if (PERMANENT_ERRORS.has((error as { name?: string })?.name ?? '')) throw error;
      // Only what came back from DynamoDB or the network (the SDK marks both with $metadata) is an
      // outage worth a retry; an error raised here, such as marshalling a value, is not, and a 503
      // for it would have Alertmanager retry a bad delivery for ever.
      if (typeof error !== 'object' || error === null || !('$metadata' in error)) throw error;
      throw new DependencyUnavailableError('state store (DynamoDB)', error);
    }
  }

  /** Runs a conditional write; false when its condition did not hold. */
  private async conditional(operation: () => Promise<unknown>): Promise<boolean> {
    try {
      await this.call(operation);
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  private claim(itemKey: Record<string, string>, now: Date, leaseSeconds: number): Promise<ClaimResult> {
    return this.conditional(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...itemKey,
            state: 'pending',
            leaseUntil: now.getTime() + leaseSeconds * 1000,
            claimedAt: now.toISOString(),
            expiresAt: epochSeconds(now) + leaseSeconds + 3600,
          },
          // Expired items may linger until DynamoDB's TTL sweep, so expiry is checked here too.
          ConditionExpression:
            'attribute_not_exists(pk) OR (#state = :pending AND leaseUntil < :nowMs) OR expiresAt < :now',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':pending': 'pending',
            ':nowMs': now.getTime(),
            ':now': epochSeconds(now),
          },
        }),
      ),
    ).then((claimed) => (claimed ? 'claimed' : 'duplicate'));
  }

  private async finish(itemKey: Record<string, string>, now: Date, ttlSeconds: number, outcome: string) {
    await this.call(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: itemKey,
          UpdateExpression: 'SET #state = :done, finishedAt = :at, expiresAt = :exp, outcome = :outcome',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':done': 'done',
            ':at': now.toISOString(),
            ':exp': epochSeconds(now) + ttlSeconds,
            ':outcome': outcome,
          },
        }),
      ),
    );
  }

  private async release(itemKey: Record<string, string>) {
    await this.conditional(() =>
      this.doc.send(
        new DeleteCommand({
          TableName: this.table,
          Key: itemKey,
          ConditionExpression: '#state = :pending',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':pending': 'pending' },
        }),
      ),
    );
  }

  async claimDelivery(hash: string, now: Date, leaseSeconds: number): Promise<DeliveryClaim> {
    const itemKey = key.delivery(hash);
    for (let attempt = 0; attempt < 3; attempt++) {
      if ((await this.claim(itemKey, now, leaseSeconds)) === 'claimed') return 'claimed';
      // Someone has it: finished (a duplicate), or still processing, which may yet fail or die.
      const found = await this.call(() =>
        this.doc.send(new GetCommand({ TableName: this.table, Key: itemKey, ConsistentRead: true })),
      );
      const item = found.Item;
      // Gone between the two calls: its holder failed and gave it back. Claim it again.
      if (!item) continue;
      if (item.state !== 'pending') return 'duplicate';
      const left = Math.ceil((Number(item.leaseUntil) - now.getTime()) / 1000);
      return { inProgress: true, retryAfterSeconds: Math.min(Math.max(left, 1), leaseSeconds) };
    }
    return { inProgress: true, retryAfterSeconds: 1 };
  }
  finishDelivery(hash: string, now: Date, ttlSeconds: number) {
    return this.finish(key.delivery(hash), now, ttlSeconds, 'processed');
  }
  releaseDelivery(hash: string) {
    return this.release(key.delivery(hash));
  }

  async findCurrentIncident(groupId: string) {
    const pointer = await this.call(() =>
      this.doc.send(new GetCommand({ TableName: this.table, Key: key.group(groupId), ConsistentRead: true })),
    );
    const incidentId = pointer.Item?.incidentId as string | undefined;
    if (!incidentId) return {};
    const pointedAt = pointer.Item?.pointedAt as string | undefined;
    return { incidentId, incident: await this.getIncident(incidentId), pointedAt };
  }

  async openIncident(incident: Incident, previousIncidentId: string | undefined) {
    const pointed = await this.conditional(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...key.group(incident.groupId),
            incidentId: incident.id,
            groupKey: incident.groupKey,
            pointedAt: incident.openedAt,
          },
          ConditionExpression: previousIncidentId ? 'incidentId = :previous' : 'attribute_not_exists(pk)',
          ExpressionAttributeValues: previousIncidentId ? { ':previous': previousIncidentId } : undefined,
        }),
      ),
    );
    if (!pointed) return false;
    return this.conditional(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: this.incidentItem(incident),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
  }

  async saveIncident(incident: Incident, expectedVersion: number) {
    return this.conditional(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: this.incidentItem(incident),
          ConditionExpression: '#version = :expected',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: { ':expected': expectedVersion },
        }),
      ),
    );
  }

  private incidentItem(incident: Incident) {
    return {
      ...key.incident(incident.id),
      gsi1pk: INCIDENT_PARTITION,
      gsi1sk: `${incident.openedAt}#${incident.id}`,
      entity: 'incident',
      ...incident,
    };
  }

  private toIncident(item: Record<string, unknown>): Incident {
    const { pk: _pk, sk: _sk, gsi1pk: _g1, gsi1sk: _g2, entity: _e, ...incident } = item;
    return incident as unknown as Incident;
  }

  async getIncident(id: string) {
    const found = await this.call(() =>
      this.doc.send(new GetCommand({ TableName: this.table, Key: key.incident(id), ConsistentRead: true })),
    );
    return found.Item ? this.toIncident(found.Item) : undefined;
  }

  async listIncidents(options: { limit: number; status?: Incident['status']; cursor?: string }) {
    const startKey = options.cursor === undefined ? undefined : incidentCursorKey(options.cursor);
    const page = await this.call(() =>
      this.doc.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: INCIDENT_INDEX,
          KeyConditionExpression: 'gsi1pk = :incident',
          FilterExpression: options.status ? '#status = :status' : undefined,
          ExpressionAttributeNames: options.status ? { '#status': 'status' } : undefined,
          ExpressionAttributeValues: {
            ':incident': INCIDENT_PARTITION,
            ...(options.status ? { ':status': options.status } : {}),
          },
          ScanIndexForward: false,
          Limit: options.limit,
          ExclusiveStartKey: startKey,
        }),
      ),
    );
    const result: IncidentPage = {
      incidents: (page.Items ?? []).map((item) => this.toIncident(item)),
      nextCursor: page.LastEvaluatedKey
        ? Buffer.from(JSON.stringify(page.LastEvaluatedKey)).toString('base64url')
        : undefined,
    };
    return result;
  }

  async appendAudit(entry: AuditEntry, retentionDays: number) {
    const at = new Date(entry.at);
    const pk = entry.incidentId
      ? key.incidentAudit(entry.incidentId)
      : key.systemAudit(entry.at.slice(0, 10));
    // Entries with the same timestamp list in the order this process appended them, also when their
    // writes go out at once; the random part keeps other writers' entries apart.
    const sequence = (auditSequence++ % 0x1000000).toString(16).padStart(6, '0');
    const sk = `AUDIT#${entry.at}#${sequence}${randomBytes(4).toString('hex')}`;
    await this.call(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk,
            sk,
            entity: 'audit',
            ...entry,
            expiresAt: epochSeconds(at) + retentionDays * 86400,
          },
        }),
      ),
    );
  }

  async listAudit(incidentId: string, limit = 200) {
    const page = await this.call(() =>
      this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :audit)',
          ExpressionAttributeValues: { ':pk': key.incidentAudit(incidentId), ':audit': 'AUDIT#' },
          Limit: limit,
        }),
      ),
    );
    return (page.Items ?? []).map(
      ({ pk: _pk, sk: _sk, entity: _e, expiresAt: _x, ...entry }) => entry as AuditEntry,
    );
  }

  /** Audit entries not tied to an incident (schedules, flag changes), by UTC day (YYYY-MM-DD). */
  async listSystemAudit(day: string, limit = 500) {
    const page = await this.call(() =>
      this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': key.systemAudit(day) },
          Limit: limit,
        }),
      ),
    );
    return (page.Items ?? []).map(
      ({ pk: _pk, sk: _sk, entity: _e, expiresAt: _x, ...entry }) => entry as AuditEntry,
    );
  }

  async getTargetHealth(target: string) {
    const found = await this.call(() =>
      this.doc.send(
        new GetCommand({ TableName: this.table, Key: key.targetHealth(target), ConsistentRead: true }),
      ),
    );
    return found.Item ? this.toTargetHealth(found.Item) : undefined;
  }

  saveTargetHealth(health: TargetHealth, expectedVersion: number) {
    return this.putVersioned(
      { ...key.targetHealth(health.target), entity: 'target-health', ...health },
      expectedVersion,
    );
  }

  async listTargetHealth() {
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :probes AND begins_with(sk, :target)',
      ExpressionAttributeValues: { ':probes': P.targetHealth, ':target': 'TARGET#' },
      ConsistentRead: true,
    });
    return items.map((item) => this.toTargetHealth(item));
  }

  /** Every item a query matches, page by page, up to `limit`. */
  private async queryAll(
    input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey' | 'Limit'>,
    limit = Number.POSITIVE_INFINITY,
  ) {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.call(() =>
        this.doc.send(
          new QueryCommand({
            ...input,
            TableName: this.table,
            Limit: Number.isFinite(limit) ? limit - items.length : undefined,
            ExclusiveStartKey: startKey,
          }),
        ),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey && items.length < limit);
    return items;
  }

  /** Writes an item that carries `version`: new when `expectedVersion` is 0, else only over that version. */
  private putVersioned(item: Record<string, unknown>, expectedVersion: number) {
    return this.conditional(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: item,
          ConditionExpression: expectedVersion === 0 ? 'attribute_not_exists(pk)' : '#version = :expected',
          ExpressionAttributeNames: expectedVersion === 0 ? undefined : { '#version': 'version' },
          ExpressionAttributeValues: expectedVersion === 0 ? undefined : { ':expected': expectedVersion },
        }),
      ),
    );
  }

  private toTargetHealth(item: Record<string, unknown>): TargetHealth {
    const { pk: _pk, sk: _sk, entity: _e, ...health } = item;
    return health as unknown as TargetHealth;
  }

  async getEscalation(incidentId: string) {
    const found = await this.call(() =>
      this.doc.send(
        new GetCommand({ TableName: this.table, Key: key.escalation(incidentId), ConsistentRead: true }),
      ),
    );
    if (!found.Item) return undefined;
    const { pk: _pk, sk: _sk, entity: _e, gsi1pk: _g1, gsi1sk: _g2, ...escalation } = found.Item;
    return escalation as unknown as Escalation;
  }

  saveEscalation(escalation: Escalation, expectedVersion: number) {
    const due = escalation.dueAt
      ? { gsi1pk: ESCALATION_DUE_PARTITION, gsi1sk: `${escalation.dueAt}#${escalation.incidentId}` }
      : {};
    return this.putVersioned(
      { ...key.escalation(escalation.incidentId), entity: 'escalation', ...escalation, ...due },
      expectedVersion,
    );
  }

  async listDueEscalations(now: Date, limit = 100) {
    const items = await this.queryAll(
      {
        IndexName: INCIDENT_INDEX,
        KeyConditionExpression: 'gsi1pk = :due AND gsi1sk <= :now',
        // Escalation items written before the ESC# key scheme would be re-read under their new key,
        // not found, and started again from the first tier: the sweep leaves them alone.
        FilterExpression: 'begins_with(pk, :escalation)',
        // '~' sorts after every character of an incident id, so everything due by `now` is in.
        ExpressionAttributeValues: {
          ':due': ESCALATION_DUE_PARTITION,
          ':now': `${now.toISOString()}#~`,
          ':escalation': P.escalation,
        },
      },
      limit,
    );
    return items.map((item) => item.incidentId as string);
  }

  async takeFloodBudget(
    budget: FloodBudget,
    windowStart: Date,
    windowSeconds: number,
    limit: number,
  ): Promise<FloodBudgetUse> {
    const itemKey = key.floodWindow(budget, windowStart.toISOString());
    // Kept a day past its window, then DynamoDB's TTL removes it.
    const expiresAt = epochSeconds(windowStart) + windowSeconds + 86400;
    const counted = await this.conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: itemKey,
          UpdateExpression: 'ADD used :one SET expiresAt = :exp',
          ConditionExpression: 'attribute_not_exists(used) OR used < :limit',
          ExpressionAttributeValues: { ':one': 1, ':exp': expiresAt, ':limit': limit },
        }),
      ),
    );
    if (counted) return { allowed: true, firstRefusal: false };
    const refused = await this.call(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: itemKey,
          UpdateExpression: 'ADD refused :one',
          ExpressionAttributeValues: { ':one': 1 },
          ReturnValues: 'UPDATED_NEW',
        }),
      ),
    );
    return { allowed: false, firstRefusal: refused.Attributes?.refused === 1 };
  }

  async returnFloodBudget(budget: FloodBudget, windowStart: Date, counter: 'used' | 'refused') {
    await this.conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key.floodWindow(budget, windowStart.toISOString()),
          UpdateExpression: 'ADD #counter :minusOne',
          ConditionExpression: '#counter > :zero',
          ExpressionAttributeNames: { '#counter': counter },
          ExpressionAttributeValues: { ':minusOne': -1, ':zero': 0 },
        }),
      ),
    );
  }

  async getAutomationFlag(): Promise<AutomationFlag> {
    const found = await this.call(() =>
      this.doc.send(new GetCommand({ TableName: this.table, Key: key.automation(), ConsistentRead: true })),
    );
    if (!found.Item) return { enabled: true };
    const { enabled, changedAt, changedBy, reason } = found.Item;
    return { enabled: enabled !== false, changedAt, changedBy, reason };
  }

  async setAutomationFlag(flag: AutomationFlag) {
    await this.call(() =>
      this.doc.send(new PutCommand({ TableName: this.table, Item: { ...key.automation(), ...flag } })),
    );
  }
}

/** Creates the table with the same keys and index as the CDK stack, for the local runtime and tests. */
export async function ensureStateTable(client: DynamoDBClient, tableName: string): Promise<void> {
  if (!(await tableExists(client, tableName))) await createStateTable(client, tableName);
  // A new table answers "not found" until it is ACTIVE; dynalite may also report ACTIVE and then
  // refuse writes for a few milliseconds more, so ready means several writes in a row succeed.
  const doc = DynamoDBDocumentClient.from(client, DOCUMENT_TRANSLATION);
  let streak = 0;
  for (let waited = 0; streak < 5; waited += 20) {
    if (waited > 30_000) throw new Error(`table ${tableName} did not become writable within 30 s`);
    try {
      await doc.send(
        new PutCommand({ TableName: tableName, Item: { pk: 'META#schema', sk: 'META', version: 1 } }),
      );
      streak += 1;
    } catch (error) {
      if ((error as Error).name !== 'ResourceNotFoundException') throw error;
      streak = 0;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function tableExists(client: DynamoDBClient, tableName: string): Promise<boolean> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return true;
  } catch (error) {
    if (error instanceof ResourceNotFoundException || (error as Error).name === 'ResourceNotFoundException') {
      return false;
    }
    throw error;
  }
}

async function createStateTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'gsi1pk', AttributeType: 'S' },
        { AttributeName: 'gsi1sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: INCIDENT_INDEX,
          KeySchema: [
            { AttributeName: 'gsi1pk', KeyType: 'HASH' },
            { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );
}

export const STATE_TABLE_KEYS = {
  partitionKey: 'pk',
  sortKey: 'sk',
  index: INCIDENT_INDEX,
  ttl: 'expiresAt',
};
