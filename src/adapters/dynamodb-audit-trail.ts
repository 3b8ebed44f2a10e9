import { randomBytes } from 'node:crypto';
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { AuditEntry } from '../domain/incident.ts';
import type { AuditTrail } from '../ports.ts';
import { epochSeconds, type StateTable } from './state-table.ts';
import { stateKeys } from './state-table-schema.ts';

/** Orders the audit entries this process appends within one timestamp (see appendAudit). */
let auditSequence = 0;

/** The audit trail (`AUDIT#`): per incident, and per UTC day for entries not tied to one. */
export class DynamoDbAuditTrail implements AuditTrail {
  constructor(private readonly table: StateTable) {}

  async appendAudit(entry: AuditEntry, retentionDays: number) {
    const at = new Date(entry.at);
    const pk = entry.incidentId
      ? stateKeys.incidentAudit(entry.incidentId)
      : stateKeys.systemAudit(entry.at.slice(0, 10));
    // Entries with the same timestamp list in the order this process appended them, also when their
    // writes go out at once; the random part keeps other writers' entries apart.
    const sequence = (auditSequence++ % 0x1000000).toString(16).padStart(6, '0');
    const sk = `AUDIT#${entry.at}#${sequence}${randomBytes(4).toString('hex')}`;
    await this.table.call(() =>
      this.table.doc.send(
        new PutCommand({
          TableName: this.table.name,
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
    const page = await this.table.call(() =>
      this.table.doc.send(
        new QueryCommand({
          TableName: this.table.name,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :audit)',
          ExpressionAttributeValues: { ':pk': stateKeys.incidentAudit(incidentId), ':audit': 'AUDIT#' },
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
    const page = await this.table.call(() =>
      this.table.doc.send(
        new QueryCommand({
          TableName: this.table.name,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': stateKeys.systemAudit(day) },
          Limit: limit,
        }),
      ),
    );
    return (page.Items ?? []).map(
      ({ pk: _pk, sk: _sk, entity: _e, expiresAt: _x, ...entry }) => entry as AuditEntry,
    );
  }
}
