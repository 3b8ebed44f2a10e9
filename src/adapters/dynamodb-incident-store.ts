import { randomBytes } from 'node:crypto';
import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Incident } from '../domain/incident.ts';
import {
  type GroupPointer,
  type IncidentPage,
  type IncidentStore,
  InvalidCursorError,
  type OpenResult,
} from '../ports.ts';
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

  async findGroupPointer(groupId: string): Promise<GroupPointer> {
    const pointer = await this.table.call(() =>
      this.table.doc.send(
        new GetCommand({ TableName: this.table.name, Key: stateKeys.group(groupId), ConsistentRead: true }),
      ),
    );
    const incidentId = pointer.Item?.incidentId as string | undefined;
    if (!incidentId) return {};
    return { incidentId, pointedAt: pointer.Item?.pointedAt as string | undefined };
  }

  async findCurrentIncident(groupId: string, known?: GroupPointer) {
    const pointer = known ?? (await this.findGroupPointer(groupId));
    const { incidentId, pointedAt } = pointer;
    if (!incidentId) return {};
    return { incidentId, incident: await this.getIncident(incidentId), pointedAt };
  }

  async openIncident(
    incident: Incident,
    previous: GroupPointer,
    admit?: () => Promise<boolean>,
  ): Promise<OpenResult> {
    // Marks this pointer write, so that moving it back cannot undo anyone else's.
    const token = randomBytes(8).toString('hex');
    const [pointed, admitted] = await Promise.allSettled([
      this.table.conditional(() =>
        this.table.doc.send(
          new PutCommand({
            TableName: this.table.name,
            Item: {
              ...stateKeys.group(incident.groupId),
              incidentId: incident.id,
              groupKey: incident.groupKey,
              pointedAt: incident.openedAt,
              pointedBy: token,
            },
            // No incident named: no pointer yet, or one moved back after a refused open.
            ConditionExpression: previous.incidentId
              ? 'incidentId = :previous'
              : 'attribute_not_exists(incidentId)',
            ExpressionAttributeValues: previous.incidentId ? { ':previous': previous.incidentId } : undefined,
          }),
        ),
      ),
      admit ? admit() : Promise.resolve(true),
    ]);
    if (admitted.status === 'rejected' || !admitted.value) {
      // Not admitted: the pointer goes back to what it named, and nothing else is written.
      if (pointed.status === 'fulfilled' && pointed.value) {
        const restoring = this.restorePointer(incident, previous, token);
        if (admitted.status === 'rejected') await restoring.catch(() => undefined);
        else await restoring;
      }
      if (admitted.status === 'rejected') throw admitted.reason;
      return 'refused';
    }
    if (pointed.status === 'rejected') throw pointed.reason;
    if (!pointed.value) return 'conflict';
    const written = await this.table.conditional(() =>
      this.table.doc.send(
        new PutCommand({
          TableName: this.table.name,
          Item: incidentItem(incident),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
    return written ? 'opened' : 'conflict';
  }

  /**
   * Moves a pointer this store moved (its `token`) back to `previous`. Someone who moved it since
   * keeps it. A pointer that stays (this call failed) names an incident never written: the state a
   * crash between the two writes of an open leaves, which the next open repairs.
   */
  private async restorePointer(incident: Incident, previous: GroupPointer, token: string) {
    await this.table.conditional(() =>
      this.table.doc.send(
        new PutCommand({
          TableName: this.table.name,
          Item: {
            ...stateKeys.group(incident.groupId),
            groupKey: incident.groupKey,
            incidentId: previous.incidentId,
            pointedAt: previous.incidentId ? previous.pointedAt : undefined,
          },
          ConditionExpression: 'pointedBy = :token',
          ExpressionAttributeValues: { ':token': token },
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
