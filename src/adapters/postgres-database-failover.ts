import type pg from 'pg';
import type { DatabaseFailover, DatabaseRole, DrillMarkers, FailoverSite, FenceResult } from '../ports.ts';
import { type Connection, pgClient, quoteIdent } from './postgres-connection.ts';

export interface PostgresFailoverOptions {
  /** Each site's admin login (from its RDS-format secret), read when needed: secrets rotate. */
  readonly connection: (site: FailoverSite) => Promise<Connection>;
  /** The application roles the fence ends the sessions of. @default - every other session */
  readonly fenceRoles?: readonly string[];
  readonly connectTimeoutSeconds: number;
  /** The drill's marker table. */
  readonly markerTable?: string;
  /** Between promotion polls; injected in tests. */
  readonly sleep?: (ms: number) => Promise<void>;
}

const APP_NAME = 'responder-failover';
const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `fn` with a connected client, always closed after. */
async function withClient<T>(
  options: PostgresFailoverOptions,
  site: FailoverSite,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = await pgClient(await options.connection(site), options.connectTimeoutSeconds, APP_NAME);
  // A server that dies mid-query must not take the process with it.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `ALTER DATABASE <each> <clause>` in every database that takes connections; how many. */
async function alterEveryDatabase(client: pg.Client, clause: string): Promise<number> {
  const databases = await client.query<{ datname: string }>(
    'SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate',
  );
  for (const { datname } of databases.rows) {
    await client.query(`ALTER DATABASE ${quoteIdent(datname)} ${clause}`);
  }
  return databases.rows.length;
}

const siteName = (site: FailoverSite) => (site === 'dr' ? 'the DR database' : 'the primary database');

/**
 * The database step over self-managed PostgreSQL streaming replication: replay lag from the standby's
 * own view, `pg_promote()` then a real write, and a fence that makes the old primary refuse writes
 * (`default_transaction_read_only`, reloaded, and every write session ended). Also the drill's markers.
 */
export class PostgresDatabaseFailover implements DatabaseFailover, DrillMarkers {
  readonly engine = 'postgres-standby' as const;
  private readonly markerTable: string;

  constructor(private readonly options: PostgresFailoverOptions) {
    this.markerTable = options.markerTable ?? 'responder_drill_markers';
  }

  async inspect(site: FailoverSite): Promise<DatabaseRole> {
    return withClient(this.options, site, async (client) => {
      const { rows } = await client.query<{
        replica: boolean;
        lag: number | null;
        receiving: string | null;
        last_contact: number | null;
      }>(`
        SELECT pg_is_in_recovery() AS replica,
          CASE WHEN NOT pg_is_in_recovery() THEN NULL
               WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
               ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)::float8
          END AS lag,
          (SELECT status FROM pg_stat_wal_receiver LIMIT 1) AS receiving,
          (SELECT EXTRACT(EPOCH FROM now() - last_msg_receipt_time)::float8 FROM pg_stat_wal_receiver LIMIT 1) AS last_contact`);
      const row = rows[0];
      if (!row?.replica) return { role: 'writer', detail: `${siteName(site)} is a writer (not in recovery)` };
      const lagSeconds = Math.round((row.lag ?? 0) * 10) / 10;
      const streaming = row.receiving === 'streaming';
      const contact =
        row.last_contact === null
          ? ''
          : `, last heard from its primary ${Math.round(row.last_contact)} s ago`;
      return {
        role: 'replica',
        lagSeconds,
        streaming,
        detail: `${siteName(site)} is a standby ${streaming ? 'streaming' : 'NOT streaming'}, ${lagSeconds} s of received WAL not yet replayed${contact}`,
      };
    });
  }

  async fence(site: FailoverSite): Promise<FenceResult> {
    let client: pg.Client | undefined;
    try {
      client = await pgClient(
        await this.options.connection(site),
        this.options.connectTimeoutSeconds,
        APP_NAME,
      );
      client.on('error', () => undefined);
      await client.connect();
    } catch (error) {
      await client?.end().catch(() => undefined);
      return {
        reachable: false,
        fenced: false,
        detail: `NOT FENCED: ${siteName(site)} does not answer (${(error as Error).message.slice(0, 200)}); if it comes back it may take writes: stop it or make it read-only by hand`,
      };
    }
    try {
      const { rows } = await client.query<{ replica: boolean }>('SELECT pg_is_in_recovery() AS replica');
      if (rows[0]?.replica) {
        return {
          reachable: true,
          fenced: true,
          detail: `${siteName(site)} is a standby: it takes no writes`,
        };
      }
      // New transactions start read-only, in every database; ALTER SYSTEM needs a superuser (RDS
      // refuses it), so each database carries the setting there instead.
      let how = 'ALTER SYSTEM SET default_transaction_read_only = on, reloaded';
      try {
        await client.query('ALTER SYSTEM SET default_transaction_read_only = on');
        await client.query('SELECT pg_reload_conf()');
      } catch {
        const count = await alterEveryDatabase(client, 'SET default_transaction_read_only = on');
        how = `ALTER DATABASE ... SET default_transaction_read_only = on in ${count} databases`;
      }
      // Sessions already open keep writing until they end: end them (all but ours, or the app roles').
      const roles = this.options.fenceRoles;
      // OFFSET 0 keeps the filter apart: the planner may not call pg_terminate_backend on our own pid.
      const ended = await client.query<{ pid: number }>(
        `SELECT pid FROM (
           SELECT pid FROM pg_stat_activity
            WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'
              AND ($1::text[] IS NULL OR usename = ANY($1::text[]))
            OFFSET 0) AS sessions
          WHERE pg_terminate_backend(pid)`,
        [roles ? [...roles] : null],
      );
      // The proof: a new session cannot write. The server reloads its configuration a moment after
      // pg_reload_conf() returns, so sessions opened at once may still start read-write.
      let readOnly = false;
      for (let attempt = 0; attempt < 25 && !readOnly; attempt += 1) {
        if (attempt > 0) await (this.options.sleep ?? defaultSleep)(100);
        const check = await withClient(this.options, site, (probe) =>
          probe.query<{ ro: string }>("SELECT current_setting('default_transaction_read_only') AS ro"),
        );
        readOnly = check.rows[0]?.ro === 'on';
      }
      return {
        reachable: true,
        fenced: readOnly,
        detail: readOnly
          ? `${siteName(site)} fenced: ${how}; ${ended.rowCount} session${ended.rowCount === 1 ? '' : 's'} ended${roles ? ` (roles ${roles.join(', ')})` : ''}`
          : `NOT FENCED: ${siteName(site)} still starts read-write transactions after ${how}`,
      };
    } catch (error) {
      return {
        reachable: true,
        fenced: false,
        detail: `NOT FENCED: ${siteName(site)} answers but could not be made read-only: ${(error as Error).message.slice(0, 200)}`,
      };
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async promote(
    site: FailoverSite,
    options: { readonly timeoutMs: number; readonly sourceAnswers: boolean; readonly allowDataLoss: boolean },
  ): Promise<{ detail: string }> {
    const started = Date.now();
    const deadline = started + options.timeoutMs;
    const sleep = this.options.sleep ?? defaultSleep;
    const wasReplica = await withClient(this.options, site, async (client) => {
      const { rows } = await client.query<{ replica: boolean }>('SELECT pg_is_in_recovery() AS replica');
      if (!rows[0]?.replica) return false;
      const waitSeconds = Math.max(1, Math.min(3600, Math.floor(options.timeoutMs / 1000)));
      await client.query('SELECT pg_promote(true, $1)', [waitSeconds]);
      return true;
    });
    // Writable is the proof, not the promote call's answer: a transaction id is only given to a writer.
    for (;;) {
      const writable = await withClient(this.options, site, async (client) => {
        const { rows } = await client.query<{ replica: boolean }>('SELECT pg_is_in_recovery() AS replica');
        if (rows[0]?.replica) return false;
        // A database fenced in an earlier failover starts read-only: it is the writer now.
        await this.unfence(client);
        await client.query('BEGIN READ WRITE');
        await client.query('SELECT txid_current()');
        await client.query('COMMIT');
        return true;
      }).catch((error: Error) => {
        if (Date.now() > deadline) throw error;
        return false;
      });
      if (writable) {
        return {
          detail: wasReplica
            ? `${siteName(site)} promoted and takes writes ${Date.now() - started} ms after pg_promote()`
            : `${siteName(site)} already takes writes: nothing to promote`,
        };
      }
      if (Date.now() > deadline) {
        throw new Error(
          `${siteName(site)} did not take writes within ${Math.round(options.timeoutMs / 1000)} s of pg_promote(): DNS was not moved`,
        );
      }
      await sleep(200);
    }
  }

  /** Undoes a fence of this server: the writer starts read-write transactions again. */
  private async unfence(client: pg.Client) {
    const { rows } = await client.query<{ ro: string }>(
      "SELECT current_setting('default_transaction_read_only') AS ro",
    );
    if (rows[0]?.ro !== 'on') return;
    try {
      await client.query('ALTER SYSTEM RESET default_transaction_read_only');
      await client.query('SELECT pg_reload_conf()');
    } catch {
      // Not a superuser: the per-database settings below are what fenced it.
    }
    await alterEveryDatabase(client, 'RESET default_transaction_read_only');
    await client.query('SET default_transaction_read_only = off');
  }

  async write(site: FailoverSite, drillId: string, seq: number): Promise<void> {
    await withClient(this.options, site, async (client) => {
      const table = quoteIdent(this.markerTable);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${table} (drill_id text NOT NULL, seq int NOT NULL,
           written_at timestamptz NOT NULL DEFAULT clock_timestamp(), PRIMARY KEY (drill_id, seq))`,
      );
      await client.query(`INSERT INTO ${table} (drill_id, seq) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [
        drillId,
        seq,
      ]);
    });
  }

  async read(site: FailoverSite, drillId: string) {
    return withClient(this.options, site, async (client) => {
      const exists = await client.query('SELECT to_regclass($1) AS t', [this.markerTable]);
      if (!exists.rows[0]?.t) return [];
      const { rows } = await client.query<{ seq: number; written_at: Date }>(
        `SELECT seq, written_at FROM ${quoteIdent(this.markerTable)} WHERE drill_id = $1 ORDER BY seq`,
        [drillId],
      );
      return rows.map((row) => ({ seq: row.seq, writtenAt: row.written_at.toISOString() }));
    });
  }
}
