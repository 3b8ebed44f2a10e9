import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { TargetHealth } from '../domain/probes.ts';
import type { TargetHealthStore } from '../ports.ts';
import type { StateTable } from './state-table.ts';
import { STATE_KEY_PREFIXES, stateKeys } from './state-table-schema.ts';

function toTargetHealth(item: Record<string, unknown>): TargetHealth {
  const { pk: _pk, sk: _sk, entity: _e, ...health } = item;
  return health as unknown as TargetHealth;
}

/** Probe targets' health, one item per target in the `PROBES` partition. */
export class DynamoDbTargetHealthStore implements TargetHealthStore {
  constructor(private readonly table: StateTable) {}

  async getTargetHealth(target: string) {
    const found = await this.table.call(() =>
      this.table.doc.send(
        new GetCommand({
          TableName: this.table.name,
          Key: stateKeys.targetHealth(target),
          ConsistentRead: true,
        }),
      ),
    );
    return found.Item ? toTargetHealth(found.Item) : undefined;
  }

  saveTargetHealth(health: TargetHealth, expectedVersion: number) {
    return this.table.putVersioned(
      { ...stateKeys.targetHealth(health.target), entity: 'target-health', ...health },
      expectedVersion,
    );
  }

  async listTargetHealth() {
    const items = await this.table.queryAll({
      KeyConditionExpression: 'pk = :probes AND begins_with(sk, :target)',
      ExpressionAttributeValues: { ':probes': STATE_KEY_PREFIXES.targetHealth, ':target': 'TARGET#' },
      ConsistentRead: true,
    });
    return items.map((item) => toTargetHealth(item));
  }
}
