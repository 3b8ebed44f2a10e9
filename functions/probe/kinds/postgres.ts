import type { PostgresTarget } from '../../../src/config/probe-targets.ts';
import {
  describeError,
  fail,
  type Observed,
  type ProbeKindRunner,
  pass,
  secretField,
} from '../probe-result.ts';

// One round trip for everything the runbooks look at: pg_isready, connection count, database size,
// replication lag (replay delay on a replica, the slowest replica on a primary) and long queries.
const HEALTH_QUERY = `
SELECT 1 AS alive,
  (SELECT count(*) FROM pg_stat_activity)::int AS connections,
  pg_database_size(current_database())::float8 AS size_bytes,
  pg_is_in_recovery() AS in_recovery,
  CASE WHEN pg_is_in_recovery()
    THEN EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
    ELSE (SELECT MAX(EXTRACT(EPOCH FROM replay_lag)) FROM pg_stat_replication)
  END::float8 AS replication_lag_s,
  (SELECT count(*) FROM pg_stat_activity
    WHERE state = 'active' AND pid <> pg_backend_pid()
      AND now() - query_start > make_interval(secs => $1))::int AS long_running`;

interface HealthRow {
  connections: number;
  size_bytes: number;
  in_recovery: boolean;
  replication_lag_s: number | null;
  long_running: number;
}

/** Connects with the secret's credentials, runs one health query and applies the configured thresholds. */
export const probePostgres: ProbeKindRunner<PostgresTarget> = async (target, { signal, secrets }) => {
  let user: string | undefined;
  let password: string | undefined;
  try {
    const secret = await secrets.getSecretString(target.secret);
    user = secretField(secret, 'username');
    password = secretField(secret, 'password');
  } catch (error) {
    return fail(`cannot read credentials: ${describeError(error)}`);
  }
  if (!user || !password) return fail(`secret ${target.secret} needs "username" and "password"`);

  // The driver is loaded by the first PostgreSQL probe rather than at cold start: a probe function
  // whose targets include no database never loads it, and the others load it once, while the other
  // kinds' probes are already out on the network.
  const { default: pg } = await import('pg');
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    database: target.database,
    user,
    password,
    ssl: target.ssl ? { rejectUnauthorized: true } : false,
    connectionTimeoutMillis: target.timeoutMs,
    statement_timeout: target.timeoutMs,
    application_name: 'responder-probe',
  });
  // A hung server must not hold the socket past the timeout.
  const onAbort = () => void client.end().catch(() => undefined);
  signal.addEventListener('abort', onAbort, { once: true });
  client.on('error', () => undefined);
  const where = `${target.host}:${target.port}/${target.database}`;
  try {
    await client.connect();
    const { rows } = await client.query<HealthRow>(HEALTH_QUERY, [
      target.thresholds.longRunningQuerySeconds ?? 300,
    ]);
    const row = rows[0];
    if (!row) return fail(`health query on ${where} returned nothing`);
    const observed: Observed = {
      connections: row.connections,
      databaseSizeMb: Math.round((row.size_bytes / 1024 / 1024) * 10) / 10,
      inRecovery: row.in_recovery,
      replicationLagSeconds:
        row.replication_lag_s === null ? null : Math.round(row.replication_lag_s * 10) / 10,
      longRunningQueries: row.long_running,
    };
    const t = target.thresholds;
    const breaches: string[] = [];
    if (t.maxConnections !== undefined && row.connections > t.maxConnections) {
      breaches.push(`${row.connections} connections > ${t.maxConnections}`);
    }
    if (t.maxDatabaseSizeMb !== undefined && (observed.databaseSizeMb as number) > t.maxDatabaseSizeMb) {
      breaches.push(`database ${observed.databaseSizeMb} MB > ${t.maxDatabaseSizeMb} MB`);
    }
    if (
      t.maxReplicationLagSeconds !== undefined &&
      (row.replication_lag_s ?? 0) > t.maxReplicationLagSeconds
    ) {
      breaches.push(`replication lag ${observed.replicationLagSeconds} s > ${t.maxReplicationLagSeconds} s`);
    }
    if (t.maxLongRunningQueries !== undefined && row.long_running > t.maxLongRunningQueries) {
      breaches.push(
        `${row.long_running} queries running longer than ${t.longRunningQuerySeconds ?? 300} s > ${t.maxLongRunningQueries}`,
      );
    }
    if (breaches.length > 0) return fail(`${where}: ${breaches.join('; ')}`, observed);
    return pass(`${where} answers; ${row.connections} connections, ${observed.databaseSizeMb} MB`, observed);
  } catch (error) {
    return fail(`${where}: ${describeError(error)}`);
  } finally {
    signal.removeEventListener('abort', onAbort);
    await client.end().catch(() => undefined);
  }
};
