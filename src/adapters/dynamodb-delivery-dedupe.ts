import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ClaimResult, DeliveryClaim, DeliveryDedupe } from '../ports.ts';
import { epochSeconds, type StateTable } from './state-table.ts';
import { stateKeys } from './state-table-schema.ts';

/** Webhook delivery claims (`DELIVERY#`), leased while processed and kept as dedupe keys after. */
export class DynamoDbDeliveryDedupe implements DeliveryDedupe {
  constructor(private readonly table: StateTable) {}

  private claim(itemKey: Record<string, string>, now: Date, leaseSeconds: number): Promise<ClaimResult> {
    return this.table
      .conditional(() =>
        this.table.doc.send(
          new PutCommand({
            TableName: this.table.name,
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
      )
      .then((claimed) => (claimed ? 'claimed' : 'duplicate'));
  }

  private async finish(itemKey: Record<string, string>, now: Date, ttlSeconds: number, outcome: string) {
    await this.table.call(() =>
      this.table.doc.send(
        new UpdateCommand({
          TableName: this.table.name,
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
    await this.table.conditional(() =>
      this.table.doc.send(
        new DeleteCommand({
          TableName: this.table.name,
          Key: itemKey,
          ConditionExpression: '#state = :pending',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':pending': 'pending' },
        }),
      ),
    );
  }

  async claimDelivery(hash: string, now: Date, leaseSeconds: number): Promise<DeliveryClaim> {
    const itemKey = stateKeys.delivery(hash);
    for (let attempt = 0; attempt < 3; attempt++) {
      if ((await this.claim(itemKey, now, leaseSeconds)) === 'claimed') return 'claimed';
      // Someone has it: finished (a duplicate), or still processing, which may yet fail or die.
      const found = await this.table.call(() =>
        this.table.doc.send(
          new GetCommand({ TableName: this.table.name, Key: itemKey, ConsistentRead: true }),
        ),
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
    return this.finish(stateKeys.delivery(hash), now, ttlSeconds, 'processed');
  }
  releaseDelivery(hash: string) {
    return this.release(stateKeys.delivery(hash));
  }
}
