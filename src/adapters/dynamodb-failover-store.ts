import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DrillReport, FailoverApproval, FailoverState, FailoverStore } from '../ports.ts';
import { epochSeconds, type StateTable } from './state-table.ts';
import { stateKeys } from './state-table-schema.ts';

/** The failover switch, lock and approvals in the (DR region's) state table. */
export class DynamoDbFailoverStore implements FailoverStore {
  constructor(private readonly table: StateTable) {}

  async getFailoverState(): Promise<FailoverState> {
    const found = await this.table.call(() =>
      this.table.doc.send(
        new GetCommand({ TableName: this.table.name, Key: stateKeys.failoverSwitch(), ConsistentRead: true }),
      ),
    );
    if (!found.Item) return { active: 'primary', version: 0 };
    const { pk: _pk, sk: _sk, entity: _e, ...state } = found.Item;
    return state as unknown as FailoverState;
  }

  saveFailoverState(state: FailoverState, expectedVersion: number) {
    return this.table.putVersioned(
      { ...stateKeys.failoverSwitch(), entity: 'failover-switch', ...state, version: expectedVersion + 1 },
      expectedVersion,
    );
  }

  lockFailover(holder: string, now: Date, until: Date) {
    return this.table.takeLease(stateKeys.failoverLock(), 'failover-lock', holder, now, until);
  }

  unlockFailover(holder: string) {
    return this.table.releaseLease(stateKeys.failoverLock(), holder);
  }

  async saveApproval(approval: FailoverApproval) {
    await this.table.call(() =>
      this.table.doc.send(
        new PutCommand({
          TableName: this.table.name,
          Item: {
            ...stateKeys.failoverApproval(approval.requestId),
            entity: 'failover-approval',
            ...approval,
            // Kept a week after it ends, for the audit trail's links.
            expiresAt: epochSeconds(new Date(approval.expiresAt)) + 7 * 86400,
            approvalExpiresAt: approval.expiresAt,
          },
        }),
      ),
    );
  }

  async getApproval(requestId: string) {
    const found = await this.table.call(() =>
      this.table.doc.send(
        new GetCommand({
          TableName: this.table.name,
          Key: stateKeys.failoverApproval(requestId),
          ConsistentRead: true,
        }),
      ),
    );
    if (!found.Item) return undefined;
    const { pk: _pk, sk: _sk, entity: _e, expiresAt: _ttl, approvalExpiresAt, ...approval } = found.Item;
    return { ...approval, expiresAt: approvalExpiresAt } as unknown as FailoverApproval;
  }

  approve(requestId: string, by: string, at: Date) {
    return this.table.conditional(() =>
      this.table.doc.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: stateKeys.failoverApproval(requestId),
          UpdateExpression: 'SET #status = :approved, decidedBy = :by, decidedAt = :at',
          ConditionExpression: '#status = :pending AND approvalExpiresAt > :at',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':approved': 'approved',
            ':pending': 'pending',
            ':by': by,
            ':at': at.toISOString(),
          },
        }),
      ),
    );
  }

  async saveDrillReport(report: DrillReport) {
    await this.table.call(() =>
      this.table.doc.send(
        new PutCommand({
          TableName: this.table.name,
          Item: {
            ...stateKeys.failoverDrill(report.drillId),
            entity: 'failover-drill',
            report: JSON.stringify(report),
            expiresAt: epochSeconds(new Date(report.finishedAt)) + 365 * 86400,
          },
        }),
      ),
    );
  }

  async getDrillReport(drillId: string) {
    const found = await this.table.call(() =>
      this.table.doc.send(
        new GetCommand({
          TableName: this.table.name,
          Key: stateKeys.failoverDrill(drillId),
          ConsistentRead: true,
        }),
      ),
    );
    return typeof found.Item?.report === 'string'
      ? (JSON.parse(found.Item.report) as DrillReport)
      : undefined;
  }
}
