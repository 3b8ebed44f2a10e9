import type pg from 'pg';
import type { DatabaseFailover, DatabaseRole, DrillMarkers, FailoverSite, FenceResult } from '../ports.ts';
import { type Connection, isNetworkError, pgClient, quoteIdent } from './postgres-connection.ts';

export interface PostgresFailoverOptions {
  /** Each site's admin login (from its RDS-format secret), read when needed: secrets rotate. */
  readonly connection: (site: FailoverSite) => Promise<Connection>;
  /** The application roles the fence ends the sessions of. @default - every other session */
  readonly fenceRoles?: readonly string[];
  /** Databases the fence may leave writable when its login may not alter them (RDS's rdsadmin). */
  readonly ignoreDatabases?: readonly string[];
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

/**
 * `ALTER DATABASE <each> <clause>` in every database that takes connections and this login may alter
 * (its owner's, or any for a superuser); the others are named.
 */
async function alterEveryDatabase(
  client: pg.Client,
  clause: string,
): Promise<{ altered: number; skipped: string[] }> {
  const databases = await client.query<{ datname: string }>(
    'SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname',
  );
  let altered = 0;
  const skipped: string[] = [];
  for (const { datname } of databases.rows) {
    try {
      await client.query(`ALTER DATABASE ${quoteIdent(datname)} ${clause}`);
      altered += 1;
    } catch {
      skipped.push(datname);
    }
  }
  return { altered, skipped };
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
      const message = (error as Error).message.slice(0, 200);
      // Only the network saying nobody is there counts as "does not answer": a refused login, a full
      // server or a secret that cannot be read mean a primary that may well be taking writes.
      if (!isNetworkError(error)) {
        return {
          reachable: true,
          fenced: false,
          detail: `NOT FENCED: ${siteName(site)} could not be fenced: ${message}; it may still take writes`,
        };
      }
      return {
        reachable: false,
        fenced: false,
        detail: `NOT FENCED: ${siteName(site)} does not answer (${message}); if it comes back it may take writes: stop it or make it read-only by hand`,
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
      // Our own session writes the fence (a fence done before makes it start read-only too).
      await client.query('SET default_transaction_read_only = off');
      // New transactions start read-only, in every database; ALTER SYSTEM needs a superuser (RDS
      // refuses it), so each database this login owns carries the setting there instead.
      let how = 'ALTER SYSTEM SET default_transaction_read_only = on, reloaded';
      let unaltered: string[] = [];
      try {
        await client.query('ALTER SYSTEM SET default_transaction_read_only = on');
        await client.query('SELECT pg_reload_conf()');
      } catch {
        const { altered, skipped } = await alterEveryDatabase(
          client,
          'SET default_transaction_read_only = on',
        );
        const ignored = new Set(this.options.ignoreDatabases ?? []);
        unaltered = skipped.filter((name) => !ignored.has(name));
        how = `ALTER DATABASE ... SET default_transaction_read_only = on in ${altered} database${altered === 1 ? '' : 's'}${skipped.length ? ` (not in ${skipped.slice(0, 10).join(', ')}: not permitted)` : ''}`;
      }
      // Sessions already open keep writing until they end: end them (all but ours, or the app roles').
      // One by one: a login that may not end some (a superuser's, on RDS) ends the others.
      const roles = this.options.fenceRoles;
      const sessions = await client.query<{ pid: number; usename: string | null }>(
        // A login without pg_read_all_stats sees no backend_type of others' sessions; one that is not
        // a superuser cannot end a superuser's (RDS's own rdsadmin): those are left out.
        `SELECT a.pid, a.usename FROM pg_stat_activity a
          WHERE a.pid <> pg_backend_pid() AND a.usename IS NOT NULL
            AND (a.backend_type = 'client backend' OR a.backend_type IS NULL)
            AND ($1::text[] IS NULL OR a.usename = ANY($1::text[]))
            AND (current_setting('is_superuser') = 'on'
                 OR NOT COALESCE((SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = a.usename), false))`,
        [roles ? [...roles] : null],
      );
      let ended = 0;
      const kept: string[] = [];
      for (const session of sessions.rows) {
        try {
          await client.query('SELECT pg_terminate_backend($1)', [session.pid]);
          ended += 1;
        } catch {
          kept.push(`${session.usename ?? '?'} (pid ${session.pid})`);
        }
      }
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
      const endedText = `${ended} session${ended === 1 ? '' : 's'} ended${roles ? ` (roles ${roles.join(', ')})` : ''}`;
      if (readOnly && unaltered.length > 0) {
        return {
          reachable: true,
          fenced: false,
          detail: `NOT FENCED: ${siteName(site)} could not be made read-only in ${unaltered.slice(0, 10).join(', ')} (its login may not alter them; list them in fence.ignoreDatabases if no application writes there): ${how}`,
        };
      }
      if (readOnly && kept.length > 0) {
        return {
          reachable: true,
          fenced: false,
          detail: `NOT FENCED: ${siteName(site)} starts new sessions read-only (${how}) but ${kept.length} open session${kept.length === 1 ? '' : 's'} could not be ended and may still write: ${kept.slice(0, 10).join(', ')}`,
        };
      }
      return {
        reachable: true,
        fenced: readOnly,
        detail: readOnly
          ? `${siteName(site)} fenced: ${how}; ${endedText}`
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
        await this.unfenceWith(client);
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

  async unfence(site: FailoverSite): Promise<string> {
    await withClient(this.options, site, (client) => this.unfenceWith(client));
    return `${siteName(site)} takes writes again (its fence undone)`;
  }

  async awaitCatchUp(from: FailoverSite, to: FailoverSite, timeoutMs: number): Promise<string> {
    const started = Date.now();
    const sleep = this.options.sleep ?? defaultSleep;
    // All the fenced writer wrote: nothing more comes after the fence.
    const target = await withClient(this.options, from, async (client) => {
      const { rows } = await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      return rows[0]?.lsn as string;
    });
    for (;;) {
      const replayed = await withClient(this.options, to, async (client) => {
        const { rows } = await client.query<{ done: boolean; at: string | null }>(
          'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done, pg_last_wal_replay_lsn()::text AS at',
          [target],
        );
        return rows[0];
      });
      if (replayed?.done) {
        return `${siteName(to)} replayed everything ${siteName(from)} wrote (up to ${target}) in ${Date.now() - started} ms`;
      }
      if (Date.now() - started > timeoutMs) {
        throw new Error(
          `${siteName(to)} replayed up to ${replayed?.at ?? 'nothing'} of ${target} within ${Math.round(timeoutMs / 1000)} s`,
        );
      }
      await sleep(100);
    }
  }

  /** Undoes a fence of this server: the writer starts read-write transactions again. */
  private async unfenceWith(client: pg.Client) {
    const { rows } = await client.query<{ ro: string }>(
      "SELECT current_setting('default_transaction_read_only') AS ro",
    );
    if (rows[0]?.ro !== 'on') return;
    // This session first: the ALTERs below are refused in a read-only transaction.
    await client.query('SET default_transaction_read_only = off');
    try {
      await client.query('ALTER SYSTEM RESET default_transaction_read_only');
      await client.query('SELECT pg_reload_conf()');
    } catch {
      // Not a superuser: the per-database settings below are what fenced it.
    }
    await alterEveryDatabase(client, 'RESET default_transaction_read_only');
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
