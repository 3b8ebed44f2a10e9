import { existsSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFailoverAction } from '../functions/failover/failover-dns.ts';
import { PostgresDatabaseFailover } from '../src/adapters/postgres-database-failover.ts';
import { type ActionRequest, actionRequestSchema } from '../src/domain/actions.ts';
import type { DrillReport, FailoverSite } from '../src/ports.ts';
import { silentLog } from '../src/ports.ts';
import { failoverConfigInput, httpSite } from './support/failover.ts';
import { type PostgresServer, startPostgres } from './support/postgres.ts';
import { startTestRuntime, type TestRuntime, testConfig } from './support/runtime.ts';

/** Runs `sql` on a fresh connection to `server`; the connection is always closed. */
async function query<T extends pg.QueryResultRow = pg.QueryResultRow>(
  server: PostgresServer,
  sql: string,
  params: unknown[] = [],
  user = { name: server.user, password: server.password },
) {
  const client = new pg.Client({
    host: server.host,
    port: server.port,
    user: user.name,
    password: user.password,
    database: 'postgres',
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await client.query<T>(sql, params);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const inRecovery = async (server: PostgresServer) =>
  (await query<{ r: boolean }>(server, 'SELECT pg_is_in_recovery() AS r')).rows[0]?.r;

/** Waits until `server` streams from its primary (a rebuilt standby takes a moment to connect). */
async function untilStreaming(server: PostgresServer) {
  for (let i = 0; i < 200; i += 1) {
    const { rows } = await query<{ status: string | null }>(
      server,
      'SELECT (SELECT status FROM pg_stat_wal_receiver LIMIT 1) AS status',
    );
    if (rows[0]?.status === 'streaming') return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`127.0.0.1:${server.port} does not stream`);
}

const secretOf = (server: PostgresServer) =>
  JSON.stringify({
    engine: 'postgres',
    host: server.host,
    port: server.port,
    username: server.user,
    password: server.password,
    dbname: 'postgres',
  });

describe('Failover with a PostgreSQL streaming standby: lag gate, fencing, promotion, failback, drill', () => {
  let primaryDb: PostgresServer;
  let drDb: PostgresServer;
  let primarySite: Awaited<ReturnType<typeof httpSite>>;
  let drSite: Awaited<ReturnType<typeof httpSite>>;
  let t: TestRuntime;
  let config: ReturnType<typeof testConfig>;
  const servers = (): Record<FailoverSite, PostgresServer> => ({ primary: primaryDb, dr: drDb });
  let n = 0;
  const request = (params: Record<string, unknown>): ActionRequest =>
    actionRequestSchema.parse({
      actionId: `test-dbfailover-${Date.now()}-${++n}`,
      kind: 'failover',
      trigger: 'operator',
      requestedAt: new Date().toISOString(),
      dryRun: false,
      params,
    });
  const run = async (params: Record<string, unknown>) => {
    const result = await t.runtime.runAction('failover', request(params));
    if (result.status !== 'done') throw new Error(`skipped: ${result.reason}`);
    return result.outcome;
  };
  const adapter = () =>
    new PostgresDatabaseFailover({
      connection: async (site) => {
        const server = servers()[site];
        return {
          host: server.host,
          port: server.port,
          user: server.user,
          password: server.password,
          database: 'postgres',
        };
      },
      connectTimeoutSeconds: 2,
    });

  beforeAll(async () => {
    primaryDb = await startPostgres();
    drDb = await startPostgres({ standbyOf: primaryDb });
    await untilStreaming(drDb);
    await query(primaryDb, 'CREATE ROLE shop_app LOGIN PASSWORD $$shop-app-password$$');
    await query(primaryDb, 'CREATE TABLE orders (id serial PRIMARY KEY, note text)');
    await query(primaryDb, 'GRANT ALL ON orders, orders_id_seq TO shop_app');
    primarySite = await httpSite();
    drSite = await httpSite();
    config = testConfig(
      failoverConfigInput(
        { primary: primarySite.url, dr: drSite.url },
        {
          cooldownMinutes: 0,
          failbackConsecutiveHealthy: 1,
          policy: { alert: 'approve', operator: 'auto' },
          database: {
            engine: 'postgres-standby',
            primarySecret: 'test/primary-db',
            drSecret: 'test/dr-db',
            maxLagSeconds: 1,
            promoteTimeoutSeconds: 30,
            connectTimeoutSeconds: 2,
          },
          drill: { environment: 'test', markerIntervalMs: 40 },
        },
      ),
    );
    t = await startTestRuntime({
      config,
      dnsPort: 0,
      // What an operator does before failing back: the old primary becomes a standby of the new one.
      rebuildStandby: async (site) => {
        const [target, source] = site === 'primary' ? [primaryDb, drDb] : [drDb, primaryDb];
        target.rebuildAsStandbyOf(source);
        await untilStreaming(target);
        return `rebuilt 127.0.0.1:${target.port} from 127.0.0.1:${source.port}`;
      },
    });
    await t.runtime.secrets.putSecretString('test/primary-db', secretOf(primaryDb));
    await t.runtime.secrets.putSecretString('test/dr-db', secretOf(drDb));
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
    primarySite?.close();
    drSite?.close();
    drDb?.destroy();
    primaryDb?.destroy();
  });
  beforeEach(async () => {
    await t.runtime.store.setAutomationFlag({ enabled: true });
  });

  it('reads each side: the primary writes, the standby streams with its lag', async () => {
    const db = adapter();
    expect(await db.inspect('primary')).toMatchObject({ role: 'writer' });
    const standby = await db.inspect('dr');
    expect(standby).toMatchObject({ role: 'replica', streaming: true });
    expect(standby.lagSeconds).toBeLessThan(1);
  });

  it('refuses while the replica lags over maxLagSeconds, and changes nothing; overLag "approve" asks a human with the loss stated', async () => {
    primarySite.healthy = false;
    await query(drDb, 'SELECT pg_wal_replay_pause()');
    try {
      await query(primaryDb, "INSERT INTO orders (note) VALUES ('behind')");
      // Received but not replayed: the replay timestamp falls behind the clock.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const outcome = await run({ to: 'dr' });
      expect(outcome.summary).toMatch(
        /refused at database: .*over maxLagSeconds 1: promoting the DR database now would lose about [\d.]+ s of writes/,
      );
      expect(await inRecovery(drDb)).toBe(true);
      expect((await t.runtime.failoverStore.getFailoverState()).active).toBe('primary');
      await query(primaryDb, "INSERT INTO orders (note) VALUES ('still writable')");

      const asking = createFailoverAction({
        config: {
          ...config,
          failover: {
            ...(config.failover as NonNullable<typeof config.failover>),
            database: {
              ...(config.failover?.database as NonNullable<NonNullable<typeof config.failover>['database']>),
              overLag: 'approve',
            },
          },
        },
        store: t.runtime.failoverStore,
        database: adapter(),
        probe: async (names) =>
          names.map((name) => ({
            target: name,
            kind: 'http' as const,
            ok: name !== 'primary-health',
            detail: 'test',
            ms: 1,
            at: new Date().toISOString(),
          })) as never,
        audit: t.runtime.store,
        clock: { now: () => new Date() },
        log: silentLog,
      });
      const approval = await asking(request({ to: 'dr' }));
      expect(approval.summary).toMatch(/waits for approval/);
      const gates = (approval.result as { gates: Array<{ gate: string; ok: boolean; detail: string }> })
        .gates;
      expect(gates.find((gate) => gate.gate === 'database')).toMatchObject({
        ok: false,
        detail: expect.stringMatching(/would lose about [\d.]+ s of writes/),
      });
      expect(await inRecovery(drDb)).toBe(true);
    } finally {
      await query(drDb, 'SELECT pg_wal_replay_resume()');
    }
  });

  it('a promotion that does not finish in time stops the failover before DNS moves, as a failure that pages', async () => {
    primarySite.healthy = false;
    const real = adapter();
    const perform = createFailoverAction({
      config,
      store: t.runtime.failoverStore,
      database: {
        engine: real.engine,
        inspect: (site) => real.inspect(site),
        // The fence of a primary that does not answer: nothing to fence, recorded as such.
        fence: async () => ({ reachable: false, fenced: false, detail: 'NOT FENCED: test' }),
        promote: async () => {
          throw new Error('the DR database did not take writes within 30 s of pg_promote()');
        },
      },
      probe: async (names) =>
        names.map((name) => ({ target: name, ok: name !== 'primary-health', detail: 'test' })) as never,
      audit: t.runtime.store,
      clock: { now: () => new Date() },
      log: silentLog,
    });
    const outcome = await perform(request({ to: 'dr' }));
    expect(outcome.status).toBe('failed');
    expect(outcome.summary).toMatch(/failed at promote: .*did not take writes.*stopped before DNS moved/);
    expect((await t.runtime.failoverStore.getFailoverState()).active).toBe('primary');
    expect(await inRecovery(drDb)).toBe(true);
  });

  it('a promotion that fails after the fence makes the old primary writable again, since nothing was promoted', async () => {
    primarySite.healthy = false;
    const real = adapter();
    const perform = createFailoverAction({
      config,
      store: t.runtime.failoverStore,
      database: {
        engine: real.engine,
        inspect: (site) => real.inspect(site),
        fence: (site) => real.fence(site),
        awaitCatchUp: (from, to, ms) => real.awaitCatchUp(from, to, ms),
        unfence: (site) => real.unfence(site),
        promote: async () => {
          throw new Error('the DR database did not take writes within 30 s of pg_promote()');
        },
      },
      probe: async (names) =>
        names.map((name) => ({ target: name, ok: name !== 'primary-health', detail: 'test' })) as never,
      audit: t.runtime.store,
      clock: { now: () => new Date() },
      log: silentLog,
    });
    const outcome = await perform(request({ to: 'dr' }));
    expect(outcome.status).toBe('failed');
    const steps = (outcome.result as { steps: Array<{ gate: string; ok: boolean; detail: string }> }).steps;
    expect(steps.map((step) => [step.gate, step.ok])).toEqual([
      ['fence', true],
      ['catch-up', true],
      ['promote', false],
      ['unfence', true],
    ]);
    await query(primaryDb, "INSERT INTO orders (note) VALUES ('writable again')");
    expect(await inRecovery(drDb)).toBe(true);
    expect((await t.runtime.failoverStore.getFailoverState()).active).toBe('primary');
  });

  it('fails over: fences the old primary (new sessions read-only, open write sessions ended), promotes the standby, moves DNS', async () => {
    primarySite.healthy = false;
    const app = new pg.Client({
      host: primaryDb.host,
      port: primaryDb.port,
      user: 'shop_app',
      password: 'shop-app-password',
      database: 'postgres',
    });
    app.on('error', () => undefined);
    await app.connect();
    await app.query("INSERT INTO orders (note) VALUES ('before the decision')");
    const outcome = await run({ to: 'dr', by: 'alice' });
    expect(outcome.status, outcome.summary).toBe('completed');
    const result = outcome.result as {
      gates: Array<{ gate: string }>;
      steps: Array<{ gate: string; ok: boolean; detail: string }>;
      fenced: boolean;
    };
    expect(result.gates.map((gate) => gate.gate)).toEqual([
      'policy',
      'lock',
      'cooldown',
      'primary-down',
      'dr-ready',
      'database',
    ]);
    expect(result.steps.map((step) => step.gate)).toEqual([
      'fence',
      'catch-up',
      'promote',
      'move',
      'dns-answers',
      'site-passes',
    ]);
    expect(result.fenced).toBe(true);
    expect(result.steps[0]?.detail).toMatch(/fenced: ALTER SYSTEM SET default_transaction_read_only = on/);
    // The session that was open is gone; a new one cannot write.
    await expect(app.query("INSERT INTO orders (note) VALUES ('after')")).rejects.toThrow();
    await app.end().catch(() => undefined);
    await expect(
      query(primaryDb, "INSERT INTO orders (note) VALUES ('split brain')", [], {
        name: 'shop_app',
        password: 'shop-app-password',
      }),
    ).rejects.toThrow(/read-only transaction/);
    // The DR database took over, with the row written before the decision.
    expect(await inRecovery(drDb)).toBe(false);
    await query(drDb, "INSERT INTO orders (note) VALUES ('at the DR site')");
    const notes = (await query<{ note: string }>(drDb, 'SELECT note FROM orders ORDER BY id')).rows.map(
      (row) => row.note,
    );
    expect(notes).toContain('before the decision');
    expect((await t.runtime.failoverStore.getFailoverState()).active).toBe('dr');
  });

  it('refuses to fail back until the old primary is a standby of the DR database; then fails back the same way', async () => {
    primarySite.healthy = true;
    const refused = await run({ to: 'primary' });
    expect(refused.summary).toMatch(
      /refused at database: the primary database is a writer .*not a standby of the DR database.*rebuild the old primary/,
    );
    expect(await inRecovery(drDb)).toBe(false);
    primaryDb.rebuildAsStandbyOf(drDb);
    await untilStreaming(primaryDb);
    const back = await run({ to: 'primary', by: 'bob' });
    expect(back.status, back.summary).toBe('completed');
    expect(await inRecovery(primaryDb)).toBe(false);
    const notes = (await query<{ note: string }>(primaryDb, 'SELECT note FROM orders')).rows.map(
      (r) => r.note,
    );
    expect(notes).toContain('at the DR site');
    await expect(query(drDb, "INSERT INTO orders (note) VALUES ('x')")).rejects.toThrow(/read-only/);
    // As it was before: the DR database streams from the primary again.
    drDb.rebuildAsStandbyOf(primaryDb);
    await untilStreaming(drDb);
  });

  it('a drill there and back keeps every marker row written before the decision, and reports RTO and RPO for each leg', async () => {
    primarySite.healthy = true;
    const response = await t.post('/api/failover/drills', { andBack: true });
    expect(response.status).toBe(200);
    expect(response.body.status, response.body.summary).toBe('completed');
    const report = response.body.result.report as DrillReport;
    expect(report.passed).toBe(true);
    expect(report.legs.map((leg) => leg.to)).toEqual(['dr', 'primary']);
    for (const leg of report.legs) {
      expect(leg.steps.map((step) => step.gate)).toEqual(
        expect.arrayContaining(
          ['lock', 'planned', 'database', 'fence', 'promote', 'move', 'site-passes'].filter(
            (gate) => leg.to === 'dr' || gate !== 'planned',
          ),
        ),
      );
      expect(leg.fenced).toBe(true);
      expect(leg.rtoMs).toBeGreaterThan(0);
      expect(leg.rtoMs).toBeLessThan(60_000);
      expect(leg.markers?.writtenBeforeDecision).toBe(1);
      expect(leg.markers?.missing).toEqual([]);
      expect(leg.markers?.written).toBeGreaterThanOrEqual(1);
      expect(leg.markers?.rpoSeconds).toBeGreaterThanOrEqual(0);
      expect(leg.markers?.rpoSeconds).toBeLessThan(5);
    }
    // Every acknowledged marker of both legs is on the primary now, and replication is as it was.
    const { rows } = await query<{ n: string }>(
      primaryDb,
      'SELECT count(*) AS n FROM responder_drill_markers WHERE drill_id = $1',
      [report.drillId],
    );
    const written = report.legs.reduce((sum, leg) => sum + (leg.markers?.written ?? 0), 0);
    expect(Number(rows[0]?.n)).toBeGreaterThanOrEqual(written);
    expect(await inRecovery(primaryDb)).toBe(false);
    expect(await inRecovery(drDb)).toBe(true);
    expect((await t.runtime.failoverStore.getFailoverState()).active).toBe('primary');
    // Stored, written as Markdown under the data folder, and linked from the audit trail.
    expect(await t.runtime.failoverStore.getDrillReport(report.drillId)).toMatchObject({ passed: true });
    expect(report.file && existsSync(report.file)).toBe(true);
    const markdown = readFileSync(report.file as string, 'utf8');
    expect(markdown).toMatch(/^# Failover drill .*: PASSED/);
    expect(markdown).toMatch(
      /RTO \(decision → the DR site answers through DNS and passes its probes\): [\d.]+ s/,
    );
    expect(markdown).toMatch(/\| promote \| ok \|/);
    const audit = await t.runtime.store.listSystemAudit(new Date().toISOString().slice(0, 10));
    const linked = audit.filter((entry) => entry.type === 'failover.drill-report');
    expect(linked.map((entry) => entry.message)).toContainEqual(
      expect.stringContaining(report.file as string),
    );
    // Every gate and step of both legs is in the trail too, each with its time.
    const steps = audit.filter((entry) => entry.data?.actionId === `${report.drillId}-dr`);
    expect(steps.map((entry) => entry.data?.gate)).toEqual(
      expect.arrayContaining([
        'planned',
        'database',
        'step:fence',
        'step:catch-up',
        'step:promote',
        'step:site-passes',
      ]),
    );
  }, 120_000);

  it('refuses a drill in production unless the request insists, and changes nothing', async () => {
    const production = {
      ...config,
      failover: {
        ...(config.failover as NonNullable<typeof config.failover>),
        drill: {
          environment: 'production' as const,
          markerTable: 'responder_drill_markers',
          markerIntervalMs: 40,
        },
      },
    };
    const perform = createFailoverAction({
      config: production,
      store: t.runtime.failoverStore,
      database: adapter(),
      probe: async () => [],
      audit: t.runtime.store,
      clock: { now: () => new Date() },
      log: silentLog,
    });
    const outcome = await perform(request({ drill: true }));
    expect(outcome.summary).toMatch(/drill refused: .*"production".*--i-know-this-is-production/);
    expect(await inRecovery(drDb)).toBe(true);
    expect((await t.runtime.failoverStore.getFailoverState()).active).toBe('primary');
  });
  it('an old primary that does not answer is recorded as not fenced, the failover goes on, and a P1 says so', async () => {
    primarySite.healthy = false;
    primaryDb.stop();
    try {
      const outcome = await run({ to: 'dr', by: 'carol' });
      expect(outcome.status, outcome.summary).toBe('completed');
      expect(outcome.result).toMatchObject({ fenced: false });
      expect(outcome.summary).toMatch(/NOT FENCED: the primary database does not answer/);
      expect(await inRecovery(drDb)).toBe(false);
      const { incidents } = (await t.get('/api/incidents')).body as {
        incidents: Array<{ title: string; severity: string }>;
      };
      expect(incidents).toContainEqual(
        expect.objectContaining({
          severity: 'P1',
          title: 'Failed over to the DR site, but the old primary database is NOT FENCED',
        }),
      );
    } finally {
      primaryDb.start();
    }
  });

  it('refuses a DR database that is already a writer while the primary site is active (stale), unless an operator says a stopped failover promoted it', async () => {
    // After the previous test the DR database is a writer; the switch goes back to the primary.
    const state = await t.runtime.failoverStore.getFailoverState();
    await t.runtime.failoverStore.saveFailoverState(
      { active: 'primary', version: state.version + 1 },
      state.version,
    );
    primarySite.healthy = false;
    expect(await inRecovery(drDb)).toBe(false);
    const refused = await run({ to: 'dr' });
    expect(refused.summary).toMatch(/refused at database: .*may be stale .*--dr-promoted/);
    const confirmed = await run({ to: 'dr', drPromoted: true, by: 'erin' });
    expect(confirmed.status, confirmed.summary).toBe('completed');
    expect(
      (confirmed.result as { steps: Array<{ gate: string }> }).steps.map((step) => step.gate),
    ).not.toContain('catch-up');
  });
});

describe('Fencing with a login that is not a superuser (as on RDS)', () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgres();
    // What RDS's master user can do: own its databases, end other roles' sessions, no ALTER SYSTEM.
    await query(server, 'CREATE ROLE fencer LOGIN CREATEDB PASSWORD $$fencer-password$$');
    await query(server, 'GRANT pg_signal_backend TO fencer');
    await query(server, 'CREATE DATABASE appdb OWNER fencer');
    await query(server, 'CREATE ROLE shop_app LOGIN PASSWORD $$shop-app-password$$');
  }, 60_000);
  afterAll(() => server?.destroy());

  it('sets read-only in the databases it owns; one it may not alter means not fenced unless ignored; ends the app sessions; promoting undoes it', async () => {
    const login = { host: server.host, port: server.port, user: 'fencer', password: 'fencer-password' };
    const adapter = (ignoreDatabases: string[]) =>
      new PostgresDatabaseFailover({
        connection: async () => ({ ...login, database: 'appdb' }),
        fenceRoles: ['shop_app'],
        ignoreDatabases,
        connectTimeoutSeconds: 2,
      });
    // `postgres` belongs to the superuser: an application writing there would not be fenced.
    const partial = await adapter(['rdsadmin']).fence('primary');
    expect(partial).toMatchObject({ reachable: true, fenced: false });
    expect(partial.detail).toMatch(
      /NOT FENCED: .*could not be made read-only in postgres .*fence\.ignoreDatabases/,
    );
    const app = new pg.Client({
      ...login,
      user: 'shop_app',
      password: 'shop-app-password',
      database: 'appdb',
    });
    app.on('error', () => undefined);
    await app.connect();
    const db = adapter(['rdsadmin', 'postgres']);
    const fence = await db.fence('primary');
    expect(fence).toMatchObject({ reachable: true, fenced: true });
    expect(fence.detail).toMatch(
      /ALTER DATABASE \.\.\. SET default_transaction_read_only = on in 1 database \(not in postgres: not permitted\); 1 session ended \(roles shop_app\)/,
    );
    await expect(app.query('SELECT 1')).rejects.toThrow();
    await app.end().catch(() => undefined);
    const fresh = new pg.Client({
      ...login,
      user: 'shop_app',
      password: 'shop-app-password',
      database: 'appdb',
    });
    await fresh.connect();
    try {
      await expect(fresh.query('CREATE TEMP TABLE t (x int)')).rejects.toThrow(/read-only transaction/);
    } finally {
      await fresh.end();
    }
    // The writer again (a failback's promotion of a database fenced before): new sessions write.
    expect(
      (await db.promote('primary', { timeoutMs: 5000, sourceAnswers: true, allowDataLoss: false })).detail,
    ).toMatch(/already takes writes/);
    const after = new pg.Client({
      ...login,
      user: 'shop_app',
      password: 'shop-app-password',
      database: 'appdb',
    });
    await after.connect();
    try {
      await after.query('CREATE TEMP TABLE t (x int)');
    } finally {
      await after.end();
    }
  });
});
