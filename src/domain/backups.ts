/** The name a database is known by in commands, keys and incidents. */
export const BACKUP_DATABASE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * A backup's life: `running` while pg_dump streams to S3, then `verified` (the object was read back
 * and proved restorable to the level `verification` names) or `failed` (nothing usable under its
 * key: the upload was aborted, or the object failed verification). `skipped` records a request that
 * arrived while another backup of the same database was running.
 */
export type BackupStatus = 'running' | 'verified' | 'failed' | 'skipped';

/** How far a backup was proven: `checksum` (read back, SHA-256 equal), `list` (+ pg_restore --list), `restore`. */
export type VerificationLevel = 'none' | 'checksum' | 'list' | 'restore';

export interface TableRows {
  /** `schema.table`, as pg_restore --list names it. */
  readonly table: string;
  readonly rows: number;
}

/** The JSON manifest stored next to each dump, and the body of its catalog entry. */
export interface BackupManifest {
  readonly id: string;
  readonly database: string;
  readonly status: BackupStatus;
  readonly trigger: string;
  readonly actionId?: string;
  readonly startedAt: string;
  readonly finishedAt?: string;
  /** Where the dump came from (never the credentials): a restore there is refused unless forced. */
  readonly source?: { readonly host: string; readonly port: number; readonly database: string };
  readonly serverVersion?: string;
  readonly pgDumpVersion?: string;
  readonly format?: 'custom' | 'directory';
  readonly compression?: string;
  readonly bucket?: string;
  readonly key?: string;
  readonly manifestKey?: string;
  readonly versionId?: string;
  readonly bytes?: number;
  readonly sha256?: string;
  /** The checksum S3 computed (composite over the parts for a multipart upload), when it returns one. */
  readonly s3Checksum?: string;
  readonly partSizeBytes?: number;
  readonly tables?: readonly TableRows[];
  readonly verification?: {
    readonly level: VerificationLevel;
    readonly ok: boolean;
    readonly detail: string;
  };
  /** Why it failed: pg_dump's own error first, with the tail of its stderr (passwords removed). */
  readonly error?: string;
  readonly stderrTail?: string;
  readonly durationMs?: number;
}

/** `payments@20261123T030000.123Z`: readable, sortable, and names its database. */
export function backupIdOf(database: string, startedAt: Date): string {
  return `${database}@${startedAt.toISOString().replace(/[-:]/g, '')}`;
}

/** The database a backup id names, or undefined for something that is not a backup id. */
export function parseBackupId(id: string): { database: string; stamp: string } | undefined {
  const match = /^([a-z0-9][a-z0-9_-]{0,62})@(\d{8}T\d{6}\.\d{3}Z)$/.exec(id);
  return match ? { database: match[1] as string, stamp: match[2] as string } : undefined;
}
