import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Escalation } from '../domain/escalation.ts';
import type { EscalationStore } from '../ports.ts';
import type { StateTable } from './state-table.ts';
import { STATE_INDEX, STATE_INDEX_PARTITIONS, STATE_KEY_PREFIXES, stateKeys } from './state-table-schema.ts';

/** Escalations (`ESC#`); those with work due are in the index under their own partition, sorted by `dueAt`. */
export class DynamoDbEscalationStore implements EscalationStore {
  constructor(private readonly table: StateTable) {}

  async getEscalation(incidentId: string) {
    const found = await this.table.call(() =>
      this.table.doc.send(
        new GetCommand({
          TableName: this.table.name,
          Key: stateKeys.escalation(incidentId),
          ConsistentRead: true,
        }),
      ),
    );
    if (!found.Item) return undefined;
    const { pk: _pk, sk: _sk, entity: _e, gsi1pk: _g1, gsi1sk: _g2, ...escalation } = found.Item;
    return escalation as unknown as Escalation;
  }

  saveEscalation(escalation: Escalation, expectedVersion: number) {
    const due = escalation.dueAt
      ? {
          gsi1pk: STATE_INDEX_PARTITIONS.dueEscalations,
          gsi1sk: `${escalation.dueAt}#${escalation.incidentId}`,
        }
      : {};
    return this.table.putVersioned(
      { ...stateKeys.escalation(escalation.incidentId), entity: 'escalation', ...escalation, ...due },
      expectedVersion,
    );
  }

  async listDueEscalations(now: Date, limit = 100) {
    const items = await this.table.queryAll(
      {
        IndexName: STATE_INDEX,
        KeyConditionExpression: 'gsi1pk = :due AND gsi1sk <= :now',
        // Escalation items written before the ESC# key scheme would be re-read under their new key,
        // not found, and started again from the first tier: the sweep leaves them alone.
        FilterExpression: 'begins_with(pk, :escalation)',
        // '~' sorts after every character of an incident id, so everything due by `now` is in.
        ExpressionAttributeValues: {
          ':due': STATE_INDEX_PARTITIONS.dueEscalations,
          ':now': `${now.toISOString()}#~`,
          ':escalation': STATE_KEY_PREFIXES.escalation,
        },
      },
      limit,
    );
    return items.map((item) => item.incidentId as string);
  }
}
