import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { FloodBudget, FloodBudgetUse, FloodLimits } from '../ports.ts';
import { epochSeconds, type StateTable } from './state-table.ts';
import { stateKeys } from './state-table-schema.ts';

/** Flood-limit counters (`LIMIT#`), one item per budget and window. */
export class DynamoDbFloodLimits implements FloodLimits {
  constructor(private readonly table: StateTable) {}

  async takeFloodBudget(
    budget: FloodBudget,
    windowStart: Date,
    windowSeconds: number,
    limit: number,
  ): Promise<FloodBudgetUse> {
    const itemKey = stateKeys.floodWindow(budget, windowStart.toISOString());
    // Kept a day past its window, then DynamoDB's TTL removes it.
    const expiresAt = epochSeconds(windowStart) + windowSeconds + 86400;
    const counted = await this.table.conditional(() =>
      this.table.doc.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: itemKey,
          UpdateExpression: 'ADD used :one SET expiresAt = :exp',
          ConditionExpression: 'attribute_not_exists(used) OR used < :limit',
          ExpressionAttributeValues: { ':one': 1, ':exp': expiresAt, ':limit': limit },
        }),
      ),
    );
    if (counted) return { allowed: true, firstRefusal: false };
    const refused = await this.table.call(() =>
      this.table.doc.send(
        new UpdateCommand({
          TableName: this.table.name,
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
    await this.table.conditional(() =>
      this.table.doc.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: stateKeys.floodWindow(budget, windowStart.toISOString()),
          UpdateExpression: 'ADD #counter :minusOne',
          ConditionExpression: '#counter > :zero',
          ExpressionAttributeNames: { '#counter': counter },
          ExpressionAttributeValues: { ':minusOne': -1, ':zero': 0 },
        }),
      ),
    );
  }
}
