import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { type BackupManifest, parseBackupId } from '../domain/backups.ts';
import type { BackupCatalog } from '../ports.ts';
import type { StateTable } from './state-table.ts';
import { STATE_KEY_PREFIXES, stateKeys } from './state-table-schema.ts';

/** DynamoDB's item limit is 400 KB; a manifest with thousands of tables is cut to fit, not refused. */
const MAX_ITEM_BYTES = 350_000;

function stampOf(manifest: BackupManifest): string {
  const parsed = parseBackupId(manifest.id);
  if (!parsed) throw new Error(`'${manifest.id}' is not a backup id (database@yyyymmddThhmmss.mmmZ)`);
  return parsed.stamp;
}

function toManifest(item: Record<string, unknown>): BackupManifest {
  const { pk: _pk, sk: _sk, entity: _e, ...manifest } = item;
  return manifest as unknown as BackupManifest;
}

/** Keeps the catalog entry within DynamoDB's item size: the table list goes first (the manifest in S3 keeps it). */
function fitted(manifest: BackupManifest): BackupManifest {
  if (Buffer.byteLength(JSON.stringify(manifest)) <= MAX_ITEM_BYTES) return manifest;
  const tables = manifest.tables ?? [];
  const { tables: _t, ...rest } = manifest;
  const kept = { ...rest, tablesOmitted: tables.length } as BackupManifest;
  return {
    ...kept,
    stderrTail: kept.stderrTail?.slice(-4000),
    error: kept.error?.slice(0, 4000),
  };
}

/**
 * Backups in the `BACKUP#<database>` partition: each run at `RUN#<stamp>`, a copy of each verified
 * one at `VERIFIED#<stamp>` (so "the latest good backup" is one Query with Limit 1), and the lock.
 */
export class DynamoDbBackupCatalog implements BackupCatalog {
  constructor(private readonly table: StateTable) {}

  lockDatabase(database: string, holder: string, now: Date, until: Date) {
    return this.table.takeLease(stateKeys.backupLock(database), 'backup-lock', holder, now, until);
  }

  unlockDatabase(database: string, holder: string) {
    return this.table.releaseLease(stateKeys.backupLock(database), holder);
  }

  async saveBackup(manifest: BackupManifest) {
    const stamp = stampOf(manifest);
    const item = { entity: 'backup', ...fitted(manifest) };
    await this.table.call(() =>
      this.table.doc.send(
        new PutCommand({
          TableName: this.table.name,
          Item: { ...stateKeys.backupRun(manifest.database, stamp), ...item },
        }),
      ),
    );
    if (manifest.status === 'verified') {
      await this.table.call(() =>
        this.table.doc.send(
          new PutCommand({
            TableName: this.table.name,
            Item: { ...stateKeys.backupVerified(manifest.database, stamp), ...item },
          }),
        ),
      );
    }
  }

  async getBackup(id: string) {
    const parsed = parseBackupId(id);
    if (!parsed) return undefined;
    const found = await this.table.call(() =>
      this.table.doc.send(
        new GetCommand({
          TableName: this.table.name,
          Key: stateKeys.backupRun(parsed.database, parsed.stamp),
          ConsistentRead: true,
        }),
      ),
    );
    return found.Item ? toManifest(found.Item) : undefined;
  }

  async latestVerified(database: string) {
    const [latest] = await this.listBackups(database, { limit: 1, verifiedOnly: true });
    return latest;
  }

  async listBackups(database: string, options: { limit?: number; verifiedOnly?: boolean } = {}) {
    const items = await this.table.queryAll(
      {
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :kind)',
        ExpressionAttributeValues: {
          ':pk': `${STATE_KEY_PREFIXES.backup}${database}`,
          ':kind': options.verifiedOnly ? 'VERIFIED#' : 'RUN#',
        },
        ScanIndexForward: false,
        ConsistentRead: true,
      },
      options.limit ?? 50,
    );
    return items.map(toManifest);
  }
}
