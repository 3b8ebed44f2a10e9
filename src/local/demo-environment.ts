import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { generatePassword, scramSha256Verifier } from '../../functions/rotate/strategies/postgres.ts';
import type { StateTableSecretStore } from '../adapters/state-table-secret-store.ts';
import type { Log } from '../ports.ts';
import {
  findPostgresBinaries,
  letPostgresPassThrough,
  type PostgresCluster,
  startPostgresCluster,
} from './postgres-cluster.ts';

export const DEMO_PORTS = { primary: 18081, dr: 18082, postgres: 15432, standby: 15433 } as const;
/** The demo DR database's admin login: a streaming standby of the demo cluster, in RDS format. */
export const DEMO_DR_DB_SECRET = 'responder/demo-dr-db';
/** The demo DR site's second address: the DR value of the example's failover record. */
export const DEMO_DR_ADDRESS = '127.0.0.2';
export const DEMO_DB_SECRET = 'responder/demo-db';
/** The demo's application database: what `responder backup payments` dumps. */
export const DEMO_DATABASE = 'payments';
/** The demo's JWT signing key: what the example's SecretExposed route rotates. */
export const DEMO_SIGNING_KEY_SECRET = 'payments/jwt-signing-key';

/** Creates the demo signing key once (a rotated one is kept across restarts), with rotation on. */
async function ensureDemoSigningKey(secrets: StateTableSecretStore): Promise<void> {
  try {
    await secrets.getSecretString(DEMO_SIGNING_KEY_SECRET);
  } catch {
    await secrets.putSecretString(
      DEMO_SIGNING_KEY_SECRET,
      JSON.stringify({ key: randomBytes(32).toString('base64url'), algorithm: 'HS256' }),
    );
  }
  await secrets.enableRotation(DEMO_SIGNING_KEY_SECRET);
}
/** The demo application's own login, rotated by the example config (postgres-single-user). */
export const DEMO_APP_DB_SECRET = 'responder/demo-app-db';
export const DEMO_APP_USER = 'payments_app';
/** Owns what the application creates; the application user is a member and acts as it. */
export const DEMO_OWNER_ROLE = 'payments_owner';

/** A connected client of the cluster's admin login. */
async function adminClient(cluster: PostgresCluster, database: string): Promise<pg.Client> {
  const client = new pg.Client({
    host: cluster.host,
    port: cluster.port,
    user: cluster.user,
    password: cluster.password,
    database,
  });
  await client.connect();
  return client;
}

/**
 * Gives the demo cluster an application database with some tables and rows, once, so that a backup
 * and a restore have something to carry.
 */
async function seedDemoDatabase(cluster: PostgresCluster): Promise<void> {
  const connect = (database: string) => adminClient(cluster, database);
  const admin = await connect('postgres');
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DEMO_DATABASE]);
    if (exists.rowCount) return;
    await admin.query(`CREATE DATABASE ${DEMO_DATABASE}`);
  } finally {
    await admin.end();
  }
  const db = await connect(DEMO_DATABASE);
  try {
    await db.query(`
      CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE);
      CREATE TABLE payments (
        id bigint PRIMARY KEY, customer_id int NOT NULL REFERENCES customers,
        amount_cents int NOT NULL, currency char(3) NOT NULL DEFAULT 'EUR',
        status text NOT NULL, created_at timestamptz NOT NULL, details jsonb);
      CREATE INDEX payments_customer ON payments (customer_id);
      INSERT INTO customers SELECT g, 'Customer ' || g, 'customer' || g || '@example.com' FROM generate_series(1, 1000) g;
      INSERT INTO payments
        SELECT g, 1 + (g * 7919) % 1000, 100 + (g::bigint * 104729) % 100000, 'EUR',
               (ARRAY['settled', 'pending', 'refunded'])[1 + g % 3],
               now() - make_interval(mins => g),
               jsonb_build_object('reference', md5(g::text), 'channel', (ARRAY['card', 'sepa'])[1 + g % 2])
          FROM generate_series(1, 50000) g;`);
  } catch (error) {
    // Half a seed would be backed up as if it were the demo's data: start again next time.
    await db.end();
    const again = await connect('postgres');
    await again.query(`DROP DATABASE IF EXISTS ${DEMO_DATABASE}`).finally(() => again.end());
    throw error;
  }
  await db.end();
}

/**
 * The demo application's login: `payments_app`, a member of `payments_owner` (which may use and
 * create in the payments database and reads and writes its tables) that owns nothing itself, with its
 * own secret responder/demo-app-db in the RDS format and rotation enabled. The secret is written only
 * when absent (a rotated password is kept across restarts); the role's password is then set from the
 * stored AWSCURRENT (as a SCRAM verifier), so a cluster made anew still matches the secret.
 */
export async function ensureDemoAppUser(
  cluster: PostgresCluster,
  secrets: StateTableSecretStore,
): Promise<void> {
  let stored: string;
  let absent = false;
  try {
    stored = await secrets.getSecretString(DEMO_APP_DB_SECRET);
  } catch (error) {
    if (!/no such local secret/.test((error as Error).message)) throw error;
    absent = true;
    stored = JSON.stringify({
      engine: 'postgres',
      host: cluster.host,
      port: cluster.port,
      username: DEMO_APP_USER,
      password: generatePassword(),
      dbname: DEMO_DATABASE,
    });
  }
  const password = (JSON.parse(stored) as { password: string }).password;
  const client = await adminClient(cluster, DEMO_DATABASE);
  try {
    await client.query(`
      DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${DEMO_OWNER_ROLE}') THEN
          CREATE ROLE ${DEMO_OWNER_ROLE} NOLOGIN;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${DEMO_APP_USER}') THEN
          CREATE ROLE ${DEMO_APP_USER} LOGIN;
        END IF;
      END $$;
      GRANT ${DEMO_OWNER_ROLE} TO ${DEMO_APP_USER};
      ALTER ROLE ${DEMO_APP_USER} SET role = ${DEMO_OWNER_ROLE};
      GRANT CONNECT ON DATABASE ${DEMO_DATABASE} TO ${DEMO_OWNER_ROLE};
      GRANT USAGE, CREATE ON SCHEMA public TO ${DEMO_OWNER_ROLE};
      GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${DEMO_OWNER_ROLE};
      GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${DEMO_OWNER_ROLE};`);
    // A verifier, never the password: the demo server's log stays clean too.
    await client.query(
      `ALTER ROLE ${DEMO_APP_USER} PASSWORD ${pg.escapeLiteral(scramSha256Verifier(password))}`,
    );
  } finally {
    await client.end();
  }
  if (absent) await secrets.putSecretString(DEMO_APP_DB_SECRET, stored);
  await secrets.enableRotation(DEMO_APP_DB_SECRET);
}

export type DemoSiteName = 'primary' | 'dr';

/** The cluster takes writes: not a standby, and not fenced read-only by a failover. */
async function isWriter(cluster: PostgresCluster): Promise<boolean> {
  return (await roleOf(cluster)).takesWrites;
}

/** Not a standby (`writer`), and not fenced read-only either (`takesWrites`). */
async function roleOf(cluster: PostgresCluster): Promise<{ writer: boolean; takesWrites: boolean }> {
  const client = await adminClient(cluster, 'postgres');
  try {
    const { rows } = await client.query<{ replica: boolean; ro: string }>(
      "SELECT pg_is_in_recovery() AS replica, current_setting('default_transaction_read_only') AS ro",
    );
    const writer = rows[0]?.replica === false;
    return { writer, takesWrites: writer && rows[0]?.ro === 'off' };
  } finally {
    await client.end();
  }
}

/**
 * A stand-in for the service's API: the health endpoints the runbooks curl every five minutes. While
 * `state.healthy` is false (`responder demo fail <site>`), they answer 503, as a site that is down.
 */
function demoSite(name: DemoSiteName, state: { healthy: boolean }): Server {
  return createServer((req, res) => {
    const json = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const path = req.url ?? '';
    const isHealth =
      path === '/api/v1/health' || path === '/api/v1/readiness' || path === '/api/v1/health/ping';
    if (isHealth && !state.healthy) return json(503, { status: 'down', ready: false, site: name });
    if (path === '/api/v1/health') return json(200, { status: 'ok', site: name });
    if (path === '/api/v1/readiness') return json(200, { ready: true, site: name });
    if (path === '/api/v1/health/ping') return res.writeHead(200).end('pong');
    json(404, { error: 'not found' });
  });
}

function listen(server: Server, port: number, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export interface DemoSiteView {
  readonly healthy: boolean;
  /** Where the site answers (absent: it could not start). */
  readonly url?: string;
}

export interface DemoEnvironment {
  /** Each demo site: whether its health endpoints answer 200 or 503, and where it listens. */
  sites(): Record<DemoSiteName, DemoSiteView>;
  /** Makes a site's health endpoints answer 503 (false) or 200 again (true). */
  setSiteHealthy(site: DemoSiteName, healthy: boolean): void;
  /**
   * Rebuilds `site`'s database as a streaming standby of the other site's (`pg_basebackup -R`): what
   * an operator does to the old primary before failing back. Absent without the demo's PostgreSQL.
   */
  readonly rebuildStandby?: (site: DemoSiteName) => Promise<string>;
  stop(): Promise<void>;
}

/** What tests change: the sites' ports (0: free ones) and whether PostgreSQL starts. */
export interface DemoEnvironmentOptions {
  readonly ports?: { readonly primary?: number; readonly dr?: number };
  /** @default true (when its binaries are installed) */
  readonly postgres?: boolean;
}

/**
 * Brings up what the example config probes, so a new user sees real results at once: a primary and a
 * DR site on loopback and a PostgreSQL cluster kept in the data folder, whose password is stored as
 * the local secret responder/demo-db. Parts that cannot start are reported and skipped.
 */
export async function startDemoEnvironment(
  options: {
    dataDir: string;
    secrets: StateTableSecretStore;
    log: Log;
  } & DemoEnvironmentOptions,
): Promise<DemoEnvironment> {
  const { log } = options;
  await ensureDemoSigningKey(options.secrets);
  const servers: Server[] = [];
  const health: Record<DemoSiteName, { healthy: boolean; url?: string }> = {
    primary: { healthy: true },
    dr: { healthy: true },
  };
  const ports = { primary: DEMO_PORTS.primary, dr: DEMO_PORTS.dr, ...options.ports };
  for (const name of ['primary', 'dr'] as const) {
    const site = demoSite(name, health[name]);
    try {
      const port = await listen(site, ports[name]);
      health[name].url = `http://127.0.0.1:${port}`;
      servers.push(site);
    } catch (error) {
      log.warn(
        `demo ${name} site not started: 127.0.0.1:${ports[name]} is taken (${(error as Error).message})`,
      );
    }
  }
  // The DR site also answers on the primary's port at 127.0.0.2, the demo record's DR address (Linux
  // routes all of 127/8 to loopback), so http://api.payments.test:18081 reaches whichever site DNS names.
  if (ports.primary !== 0 && health.dr.url) {
    const alias = demoSite('dr', health.dr);
    try {
      await listen(alias, ports.primary, DEMO_DR_ADDRESS);
      servers.push(alias);
    } catch (error) {
      log.debug(`demo DR site not on ${DEMO_DR_ADDRESS}:${ports.primary}: ${(error as Error).message}`);
    }
  }
  let postgres: PostgresCluster | undefined;
  let standby: PostgresCluster | undefined;
  if (options.postgres === false) {
    // not wanted (tests)
  } else if (findPostgresBinaries()) {
    const passwordFile = join(options.dataDir, 'demo-db-password');
    if (!existsSync(passwordFile))
      writeFileSync(passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
    const password = readFileSync(passwordFile, 'utf8').trim();
    try {
      letPostgresPassThrough(options.dataDir);
      postgres = startPostgresCluster({
        root: join(options.dataDir, 'demo-postgres'),
        port: DEMO_PORTS.postgres,
        password,
      });
      // The RDS secret format, as backups and probes read it in AWS.
      await options.secrets.putSecretString(
        DEMO_DB_SECRET,
        JSON.stringify({
          engine: 'postgres',
          host: postgres.host,
          port: postgres.port,
          username: postgres.user,
          password,
          dbname: DEMO_DATABASE,
        }),
      );
      if (await isWriter(postgres)) {
        await seedDemoDatabase(postgres);
        await ensureDemoAppUser(postgres, options.secrets);
      } else {
        log.warn(
          'the demo primary database takes no writes: a failover or drill left the DR database active; fail back with responder failover --to primary',
        );
      }
      // The DR site's database: a streaming standby of the demo cluster, made once with pg_basebackup.
      standby = startPostgresCluster({
        root: join(options.dataDir, 'demo-postgres-dr'),
        port: DEMO_PORTS.standby,
        password,
        standbyOf: postgres,
      });
      await options.secrets.putSecretString(
        DEMO_DR_DB_SECRET,
        JSON.stringify({
          engine: 'postgres',
          host: standby.host,
          port: standby.port,
          username: standby.user,
          password,
          dbname: DEMO_DATABASE,
        }),
      );
    } catch (error) {
      log.warn(`demo PostgreSQL not started: ${(error as Error).message.split('\n')[0]}`);
    }
  } else {
    log.warn(
      'demo PostgreSQL not started: install it with apt-get install -y postgresql (npm test does this)',
    );
  }
  return {
    sites: () => ({ primary: { ...health.primary }, dr: { ...health.dr } }),
    setSiteHealthy(site, healthy) {
      health[site].healthy = healthy;
      log.info(
        `demo ${site} site ${healthy ? 'recovered: its health endpoints answer 200' : 'failed: its health endpoints answer 503'}`,
      );
    },
    rebuildStandby:
      postgres && standby
        ? async (site) => {
            const [target, source] = site === 'primary' ? [postgres, standby] : [standby, postgres];
            if (!target || !source) throw new Error('the demo PostgreSQL pair is not running');
            const other = site === 'primary' ? 'DR' : 'primary';
            // Never throw away the database that takes the writes, nor copy from one that does not.
            if (!(await roleOf(source).catch(() => undefined))?.writer) {
              throw new Error(`the ${other} database is not the writer: rebuild a standby from the writer`);
            }
            if ((await roleOf(target).catch(() => undefined))?.takesWrites) {
              throw new Error(
                `the ${site === 'primary' ? 'primary' : 'DR'} database takes writes (it is the active one, not fenced): fail over first`,
              );
            }
            target.rebuildAsStandbyOf(source);
            return `pg_basebackup -R from 127.0.0.1:${source.port} into the ${site === 'primary' ? 'primary' : 'DR'} database (127.0.0.1:${target.port})`;
          }
        : undefined,
    async stop() {
      standby?.stop();
      postgres?.stop();
      await Promise.all(
        servers.map(
          (site) =>
            new Promise<void>((resolve) => {
              site.close(() => resolve());
              site.closeAllConnections();
            }),
        ),
      );
    },
  };
}
