import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DnsRecordSet, DnsZone } from '../ports.ts';
import type { StateTable } from './state-table.ts';
import { stateKeys } from './state-table-schema.ts';

const normalize = (name: string) => name.toLowerCase().replace(/\.$/, '');

/**
 * The local runtime's DNS zone: record sets in the state table, answered by the local DNS listener.
 * An UPSERT is applied at once (INSYNC immediately), as Route 53 would report after propagation.
 */
export class StateTableDnsZone implements DnsZone {
  constructor(private readonly table: StateTable) {}

  async getRecord(name: string, type: DnsRecordSet['type']) {
    const found = await this.table.call(() =>
      this.table.doc.send(
        new GetCommand({
          TableName: this.table.name,
          Key: stateKeys.dnsRecord(name, type),
          ConsistentRead: true,
        }),
      ),
    );
    if (!found.Item) return undefined;
    return {
      name: normalize(name),
      type,
      ttl: Number(found.Item.ttl),
      values: found.Item.values as string[],
    } satisfies DnsRecordSet;
  }

  async upsertRecord(record: DnsRecordSet) {
    const started = Date.now();
    await this.table.call(() =>
      this.table.doc.send(
        new PutCommand({
          TableName: this.table.name,
          Item: {
            ...stateKeys.dnsRecord(record.name, record.type),
            entity: 'dns-record',
            ttl: record.ttl,
            values: [...record.values],
          },
        }),
      ),
    );
    return { changeId: `local-${started}`, insyncAfterMs: Date.now() - started };
  }
}
