import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Incident } from '../domain/incident.ts';
import { type IncidentPage, type IncidentStore, InvalidCursorError } from '../ports.ts';
import type { StateTable } from './state-table.ts';
import { STATE_INDEX, STATE_INDEX_PARTITIONS, stateKeys } from './state-table-schema.ts';

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
    (key as Record<string, string>).gsi1pk === STATE_INDEX_PARTITIONS.incidents;
  if (!valid) throw new InvalidCursorError();
  return key as Record<string, string>;
}

function incidentItem(incident: Incident) {
  return {
    ...stateKeys.incident(incident.id),
    gsi1pk: STATE_INDEX_PARTITIONS.incidents,
    gsi1sk: `${incident.openedAt}#${incident.id}`,
    entity: 'incident',
    ...incident,
  };
}

function toIncident(item: Record<string, unknown>): Incident {
  const { pk: _pk, sk: _sk, gsi1pk: _g1, gsi1sk: _g2, entity: _e, ...incident } = item;
  return incident as unknown as Incident;
}

/** Incidents (`INC#`, listed through the index) and each alert group's pointer to its current one (`GROUP#`). */
export class DynamoDbIncidentStore implements IncidentStore {
  constructor(private readonly table: StateTable) {}

  async findCurrentIncident(groupId: string) {
    const pointer = await this.table.call(() =>
      this.table.doc.send(
        new GetCommand({ TableName: this.table.name, Key: stateKeys.group(groupId), ConsistentRead: true }),
      ),
    );
    const incidentId = pointer.Item?.incidentId as string | undefined;
    if (!incidentId) return {};
    const pointedAt = pointer.Item?.pointedAt as string | undefined;
    return { incidentId, incident: await this.getIncident(incidentId), pointedAt };
  }

  async openIncident(incident: Incident, previousIncidentId: string | undefined) {
    const pointed = await this.table.conditional(() =>
      this.table.doc.send(
        new PutCommand({
          TableName: this.table.name,
          Item: {
            ...stateKeys.group(incident.groupId),
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
    return this.table.conditional(() =>
      this.table.doc.send(
        new PutCommand({
          TableName: this.table.name,
          Item: incidentItem(incident),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
  }

  async saveIncident(incident: Incident, expectedVersion: number) {
    return this.table.conditional(() =>
      this.table.doc.send(
        new PutCommand({
          TableName: this.table.name,
          Item: incidentItem(incident),
          ConditionExpression: '#version = :expected',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: { ':expected': expectedVersion },
        }),
      ),
    );
  }

  async getIncident(id: string) {
    const found = await this.table.call(() =>
      this.table.doc.send(
        new GetCommand({ TableName: this.table.name, Key: stateKeys.incident(id), ConsistentRead: true }),
      ),
    );
    return found.Item ? toIncident(found.Item) : undefined;
  }

  async listIncidents(options: { limit: number; status?: Incident['status']; cursor?: string }) {
    const startKey = options.cursor === undefined ? undefined : incidentCursorKey(options.cursor);
    const page = await this.table.call(() =>
      this.table.doc.send(
        new QueryCommand({
          TableName: this.table.name,
          IndexName: STATE_INDEX,
          KeyConditionExpression: 'gsi1pk = :incident',
          FilterExpression: options.status ? '#status = :status' : undefined,
          ExpressionAttributeNames: options.status ? { '#status': 'status' } : undefined,
          ExpressionAttributeValues: {
            ':incident': STATE_INDEX_PARTITIONS.incidents,
            ...(options.status ? { ':status': options.status } : {}),
          },
          ScanIndexForward: false,
          Limit: options.limit,
          ExclusiveStartKey: startKey,
        }),
      ),
    );
    const result: IncidentPage = {
      incidents: (page.Items ?? []).map((item) => toIncident(item)),
      nextCursor: page.LastEvaluatedKey
        ? Buffer.from(JSON.stringify(page.LastEvaluatedKey)).toString('base64url')
        : undefined,
    };
    return result;
  }
}
