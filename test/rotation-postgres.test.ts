import { readFileSync } from 'node:fs';
import { type AddressInfo, createServer, type Server } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probePostgres } from '../functions/probe/kinds/postgres.ts';
import { createRotateAction, type RotateDeps } from '../functions/rotate/rotate-secret.ts';
import { repairRotation, runRotationStep } from '../functions/rotate/rotation-steps.ts';
import { strategyFor } from '../functions/rotate/strategies/index.ts';
import { scramSha256Verifier } from '../functions/rotate/strategies/postgres.ts';
import type { RotationStrategy } from '../functions/rotate/strategy.ts';
import exampleConfig from '../responder.config.ts';
import type { StateTableSecretStore } from '../src/adapters/state-table-secret-store.ts';
import type { RotationConfig } from '../src/config/rotations.ts';
import { parseConfig, type ResponderConfig } from '../src/config/schema.ts';
import { actionRequestSchema } from '../src/domain/actions.ts';
import { DEMO_APP_DB_SECRET, DEMO_DATABASE, ensureDemoAppUser } from '../src/local/demo-environment.ts';
import { silentLog, systemClock } from '../src/ports.ts';
import { type PostgresServer, startPostgres } from './support/postgres.ts';
import { freePort } from './support/processes.ts';
import { startTestRuntime, type TestRuntime, testConfig } from './support/runtime.ts';

const DB = 'appdb';
const SINGLE = 'db/single';
const ALTERNATING = 'db/alternating';
const MASTER = 'db/master';
const CLOSED = 'db/closed';
const WRONG = 'db/wrong-password';
const SILENT = 'db/silent';

let counter = 0;
const rotateRequest = (secret: string, dryRun = false) =>
  actionRequestSchema.parse({
    actionId: `test-rotate-pg-${Date.now()}-${++counter}`,
    kind: 'rotate',
    trigger: 'operator',
    requestedAt: new Date().toISOString(),
    dryRun,
    params: { secret },
  });

describe('Rotation of PostgreSQL passwords against a real server', () => {
  let server: PostgresServer;
  let t: TestRuntime;
  let config: ResponderConfig;
  let store: StateTableSecretStore;
  let closedPort: number;
  let silent: Server;
  /** Every new password a rotation made: none may reach the server log. */
  const newPasswords = new Set<string>();

  const rds = (username: string, password: string, port = server.port) =>
    JSON.stringify({ engine: 'postgres', host: '127.0.0.1', port, username, password, dbname: DB });

  const superuser = async <T>(run: (client: pg.Client) => Promise<T>, database = DB): Promise<T> => {
    const client = new pg.Client({
      host: server.host,
      port: server.port,
      user: server.user,
      password: server.password,
      database,
    });
    await client.connect();
    try {
      return await run(client);
    } finally {
      await client.end();
    }
  };

  const open = async (value: string): Promise<pg.Client> => {
    const secret = JSON.parse(value);
    const client = new pg.Client({
      host: secret.host,
      port: secret.port,
      user: secret.username,
      password: secret.password,
      database: secret.dbname,
      connectionTimeoutMillis: 3000,
    });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  const logsIn = async (value: string): Promise<boolean> => {
    try {
      const client = await open(value);
      await client.query('SELECT 1');
      await client.end();
      return true;
    } catch {
      return false;
    }
  };
  const current = (secret: string) => store.getSecretString(secret);
  const currentLogsIn = async (secret: string) => logsIn(await current(secret));
  /** The rotation's promise: no AWSPENDING left on a version without AWSCURRENT. */
  const strandedPending = async (secret: string) =>
    (await store.describeSecret(secret)).versions.filter(
      (v) => v.stages.includes('AWSPENDING') && !v.stages.includes('AWSCURRENT'),
    );
  const remember = async (secret: string) => {
    newPasswords.add(JSON.parse(await current(secret)).password);
  };
  const serverLog = () => readFileSync(server.logFile, 'utf8');
  const expectNoNewPasswordInLog = () => {
    const log = serverLog();
    expect(newPasswords.size).toBeGreaterThan(0);
    for (const password of newPasswords)
      expect(log.includes(password), 'a new password in the log').toBe(false);
  };
  const rotation = (secret: string): RotationConfig => {
    const found = config.secrets.rotations.find((r) => r.secret === secret);
    if (!found) throw new Error(`no rotation of ${secret}`);
    return found;
  };
  const realStrategy = (secret: string) => strategyFor(rotation(secret), { secrets: store, log: silentLog });
  const deps = (strategy?: RotationStrategy): RotateDeps => ({
    config,
    versions: store,
    secrets: store,
    log: silentLog,
    startRotation: async (id) => ({ token: await store.startRotation(id), stepsHere: true }),
    strategies: strategy ? () => strategy : undefined,
  });
  const rotate = async (secret: string) => {
    const result = await t.runtime.runAction('rotate', rotateRequest(secret));
    if (result.status !== 'done') throw new Error(`rotation not run: ${JSON.stringify(result)}`);
    return result.outcome;
  };

  beforeAll(async () => {
    server = await startPostgres();
    closedPort = await freePort();
    await superuser(async (client) => {
      await client.query(`CREATE DATABASE ${DB}`);
      // Every statement the server receives goes to its log: a password sent in SQL would show.
      await client.query(`ALTER SYSTEM SET log_statement = 'all'`);
      await client.query('SELECT pg_reload_conf()');
    }, 'postgres');
    await superuser(async (client) => {
      await client.query(`
        CREATE ROLE app_single LOGIN PASSWORD 'single-initial-password';
        CREATE ROLE rotator LOGIN CREATEROLE PASSWORD 'rotator-password';
        CREATE ROLE app_owner NOLOGIN;
        GRANT CREATE ON SCHEMA public TO app_owner;
        CREATE ROLE app LOGIN PASSWORD 'app-initial-password' IN ROLE app_owner;
        CREATE ROLE app_clone LOGIN PASSWORD 'clone-initial-password' IN ROLE app_owner;
        ALTER ROLE app SET role = app_owner;
        ALTER ROLE app_clone SET role = app_owner;
        CREATE TABLE single_data (id int);
        GRANT SELECT ON single_data TO app_single;`);
    });
    config = testConfig({
      secrets: {
        rotations: [
          { secret: SINGLE, strategy: 'postgres-single-user', connectTimeoutSeconds: 3 },
          {
            secret: ALTERNATING,
            strategy: 'postgres-alternating-users',
            masterSecret: MASTER,
            ownerRole: 'app_owner',
            connectTimeoutSeconds: 3,
          },
          { secret: CLOSED, strategy: 'postgres-single-user', connectTimeoutSeconds: 3 },
          { secret: WRONG, strategy: 'postgres-single-user', connectTimeoutSeconds: 3 },
          { secret: SILENT, strategy: 'postgres-single-user', connectTimeoutSeconds: 1 },
        ],
      },
    });
    t = await startTestRuntime({ config });
    store = t.runtime.secrets as StateTableSecretStore;
    await store.putSecretString(SINGLE, rds('app_single', 'single-initial-password'));
    await store.putSecretString(ALTERNATING, rds('app', 'app-initial-password'));
    await store.putSecretString(MASTER, rds('rotator', 'rotator-password'));
    await store.putSecretString(CLOSED, rds('app_single', 'whatever-password', closedPort));
    await store.putSecretString(WRONG, rds('app_single', 'not-the-password'));
    // A port that accepts and never answers: a security group that drops packets looks the same.
    silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    await store.putSecretString(
      SILENT,
      rds('app_single', 'whatever-password', (silent.address() as AddressInfo).port),
    );
    for (const secret of [SINGLE, ALTERNATING, CLOSED, WRONG, SILENT]) await store.enableRotation(secret);
  });
  afterAll(async () => {
    await t?.stop();
    server?.destroy();
    silent?.close();
  });

  it('computes the SCRAM-SHA-256 verifier PostgreSQL stores (RFC 7677 test vector shape, 4096 iterations)', async () => {
    const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
    // RFC 7677's example: user "user", password "pencil", this salt, 4096 iterations.
    expect(scramSha256Verifier('pencil', { salt })).toBe(
      'SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=',
    );
    expect(scramSha256Verifier('pencil')).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$\S{44}:\S{44}$/);
    expect(() => scramSha256Verifier('pässword')).toThrow(/ASCII/);
  });

  it('single user: the new AWSCURRENT logs in, the old password no longer does, an open session keeps working, and only a verifier reaches the server', async () => {
    const before = await current(SINGLE);
    const session = await open(before);
    const dry = await rotate(SINGLE);
    expect(dry.status, dry.summary).toBe('completed');
    await remember(SINGLE);
    const after = await current(SINGLE);
    expect(JSON.parse(after)).toMatchObject({
      engine: 'postgres',
      host: '127.0.0.1',
      port: server.port,
      username: 'app_single',
      dbname: DB,
      password: expect.stringMatching(/^[A-Za-z0-9]{32}$/),
    });
    expect(await logsIn(after)).toBe(true);
    expect(await logsIn(before)).toBe(false);
    expect((await store.getSecretVersion(SINGLE, { stage: 'AWSPREVIOUS' })).value).toBe(before);
    // The session opened with the old password is not cut off.
    expect((await session.query('SELECT count(*)::int AS n FROM single_data')).rows).toEqual([{ n: 0 }]);
    await session.end();
    const stored = await superuser((c) =>
      c.query(`SELECT rolpassword FROM pg_authid WHERE rolname = 'app_single'`),
    );
    expect(stored.rows[0].rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
    // log_statement = 'all' wrote the ALTER ROLE: with a verifier in it, not the password.
    expect(serverLog()).toMatch(/ALTER ROLE "app_single" PASSWORD 'SCRAM-SHA-256\$4096:/);
    expectNoNewPasswordInLog();
  });

  it('a dry run of each strategy says what every step would do and changes nothing', async () => {
    for (const secret of [SINGLE, ALTERNATING]) {
      const value = await current(secret);
      const result = await t.runtime.runAction('rotate', rotateRequest(secret, true));
      expect(result.status === 'done' && result.outcome.summary).toMatch(
        /^dry run: nothing changed; .* would run: createSecret: .*; setSecret: .*SCRAM-SHA-256 verifier.*; testSecret: .*; finishSecret: /,
      );
      expect(await current(secret)).toBe(value);
    }
  });

  it('alternating users: three rotations take turns, AWSCURRENT and AWSPREVIOUS both log in, and what either user creates the other reads and writes', async () => {
    const first = await current(ALTERNATING);
    const session = await open(first);
    const users: string[] = [];
    const asCurrent = async (sql: string) => {
      const client = await open(await current(ALTERNATING));
      try {
        return await client.query(sql);
      } finally {
        await client.end();
      }
    };
    for (let round = 1; round <= 3; round++) {
      const outcome = await rotate(ALTERNATING);
      expect(outcome.status, outcome.summary).toBe('completed');
      await remember(ALTERNATING);
      const now = JSON.parse(await current(ALTERNATING));
      users.push(now.username);
      expect(await currentLogsIn(ALTERNATING)).toBe(true);
      // The user the rotation did not touch still logs in: consumers that cached it are fine.
      expect(await logsIn((await store.getSecretVersion(ALTERNATING, { stage: 'AWSPREVIOUS' })).value)).toBe(
        true,
      );
      // Each user creates a table and uses the other's.
      await asCurrent(`CREATE TABLE made_in_round_${round} (id int, by text)`);
      for (let table = 1; table <= round; table++) {
        await asCurrent(`INSERT INTO made_in_round_${table} VALUES (${round}, current_user)`);
        await asCurrent(`UPDATE made_in_round_${table} SET id = id WHERE true`);
      }
    }
    expect(users).toEqual(['app_clone', 'app', 'app_clone']);
    const owners = await superuser((c) =>
      c.query(`SELECT DISTINCT tableowner FROM pg_tables WHERE tablename LIKE 'made_in_round_%'`),
    );
    expect(owners.rows).toEqual([{ tableowner: 'app_owner' }]);
    const rows = await asCurrent('SELECT count(*)::int AS n FROM made_in_round_1');
    expect(rows.rows).toEqual([{ n: 3 }]);
    // The session opened before the first rotation kept working throughout.
    expect((await session.query('SELECT count(*)::int AS n FROM made_in_round_2')).rows).toEqual([{ n: 2 }]);
    await session.end();
    expect(serverLog()).toMatch(/ALTER ROLE "app(_clone)?" PASSWORD 'SCRAM-SHA-256\$4096:/);
    expectNoNewPasswordInLog();
  });

  it('alternating users: an object owned by a login user is refused by name with the fix, and nothing changes', async () => {
    const passwords = () =>
      superuser((c) =>
        c.query(
          `SELECT rolname, rolpassword FROM pg_authid WHERE rolname IN ('app', 'app_clone') ORDER BY rolname`,
        ),
      );
    const before = { value: await current(ALTERNATING), passwords: (await passwords()).rows };
    await superuser((c) => c.query('CREATE TABLE stray (id int); ALTER TABLE stray OWNER TO app_clone'));
    const outcome = await rotate(ALTERNATING);
    expect(outcome.status).toBe('failed');
    expect(outcome.summary).toContain('failed at createSecret: refusing to rotate db/alternating');
    expect(outcome.summary).toContain('table public.stray (app_clone)');
    expect(outcome.summary).toContain('ALTER TABLE public.stray OWNER TO app_owner;');
    expect(outcome.summary).toContain('Nothing was changed');
    expect(await current(ALTERNATING)).toBe(before.value);
    expect((await passwords()).rows).toEqual(before.passwords);
    expect(await strandedPending(ALTERNATING)).toEqual([]);

    // Different memberships are refused too.
    await superuser((c) =>
      c.query('ALTER TABLE stray OWNER TO app_owner; GRANT pg_read_all_stats TO app_clone'),
    );
    const uneven = await rotate(ALTERNATING);
    expect(uneven.summary).toMatch(
      /the users are members of different roles: app of \[app_owner\], app_clone of \[app_owner, pg_read_all_stats\]/,
    );
    expect((await passwords()).rows).toEqual(before.passwords);

    // Once fixed, the next rotation runs without any other step.
    await superuser((c) => c.query('REVOKE pg_read_all_stats FROM app_clone'));
    const fixed = await rotate(ALTERNATING);
    expect(fixed.status, fixed.summary).toBe('completed');
    await remember(ALTERNATING);
  });

  it('pre-flight: a closed port fails fast about the network, a wrong password about the credentials; nothing is left pending', async () => {
    const started = Date.now();
    const closed = await rotate(CLOSED);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(closed.status).toBe('failed');
    expect(closed.summary).toMatch(
      new RegExp(
        `failed at createSecret: cannot reach PostgreSQL at 127\\.0\\.0\\.1:${closedPort} within 3s .*ECONNREFUSED.*check the function's subnets and security groups`,
      ),
    );
    expect(await strandedPending(CLOSED)).toEqual([]);
    expect(JSON.parse(await current(CLOSED)).password).toBe('whatever-password');

    const hanging = Date.now();
    const silentOutcome = await rotate(SILENT);
    expect(Date.now() - hanging).toBeLessThan(2900);
    expect(silentOutcome.summary).toMatch(
      /failed at createSecret: cannot reach PostgreSQL at 127\.0\.0\.1:\d+ within 1s .*timeout.*check the function's subnets and security groups/,
    );
    expect(await strandedPending(SILENT)).toEqual([]);

    const wrong = await rotate(WRONG);
    expect(wrong.status).toBe('failed');
    expect(wrong.summary).toMatch(
      /refused the AWSCURRENT value for user app_single .*28P01.*the credentials are not/,
    );
    expect(wrong.summary).not.toMatch(/subnets/);
    // createSecret stored nothing, so the repair may take AWSPENDING away although AWSCURRENT fails.
    expect(wrong.summary).toMatch(/has no value, so nothing was set with it: AWSPENDING removed/);
    expect(await strandedPending(WRONG)).toEqual([]);
    expect(JSON.parse(await current(WRONG)).password).toBe('not-the-password');
  });

  /**
   * Wraps the real strategy so one step fails on cue (after its real work, where it has any: the
   * harder case), and checks AWSCURRENT around every call.
   */
  const flaky = (secret: string, failing: string, checks: boolean[]) => {
    const real = realStrategy(secret);
    const check = async () => checks.push(await currentLogsIn(secret));
    const fail = (step: string) => {
      if (failing === step) throw new Error(`injected ${step} failure`);
    };
    const strategy: RotationStrategy = {
      ...real,
      async preflight(value) {
        await check();
        await real.preflight(value);
      },
      async createValue(value) {
        fail('createSecret');
        const created = await real.createValue(value);
        newPasswords.add(JSON.parse(created).password);
        return created;
      },
      async setValue(pending, value, previous) {
        await check();
        await real.setValue(pending, value, previous);
        await check();
        fail('setSecret');
      },
      async testValue(pending) {
        await real.testValue(pending);
        await check();
        fail('testSecret');
      },
      async afterFinish() {
        await check();
        fail('finishSecret');
      },
      async works(value) {
        await check();
        return real.works(value);
      },
    };
    return strategy;
  };

  for (const secret of [SINGLE, ALTERNATING]) {
    describe(`faults: ${secret === SINGLE ? 'single user' : 'alternating users'}`, () => {
      for (const failing of ['createSecret', 'setSecret', 'testSecret', 'finishSecret']) {
        it(`${failing} fails: the repair leaves AWSCURRENT logging in, no AWSPENDING behind, and the next rotation runs`, async () => {
          const checks: boolean[] = [];
          const outcome = await createRotateAction(deps(flaky(secret, failing, checks)))(
            rotateRequest(secret),
          );
          expect(outcome.status).toBe('failed');
          expect(outcome.summary).toContain(`failed at ${failing}: injected ${failing} failure`);
          if (secret === ALTERNATING) {
            // The user AWSCURRENT names is never touched: it logs in at every moment.
            expect(checks.length).toBeGreaterThan(0);
            expect(checks.every(Boolean), JSON.stringify(checks)).toBe(true);
          }
          expect(await currentLogsIn(secret)).toBe(true);
          expect(await strandedPending(secret)).toEqual([]);
          if (secret === SINGLE && (failing === 'setSecret' || failing === 'testSecret')) {
            // The password changed on the server: the repair finished the rotation.
            expect(outcome.summary).toMatch(/version \S+ is now AWSCURRENT/);
          }
          const next = await rotate(secret);
          expect(next.status, next.summary).toBe('completed');
          await remember(secret);
          expect(await currentLogsIn(secret)).toBe(true);
        });
      }

      it('a crash between setSecret and finishSecret is repaired, and the next rotation needs no manual step', async () => {
        const token = await store.startRotation(secret);
        const real = realStrategy(secret);
        const stepDeps = { versions: store, strategy: real, log: silentLog };
        for (const step of ['createSecret', 'setSecret'] as const) {
          await runRotationStep({ Step: step, SecretId: secret, ClientRequestToken: token }, stepDeps);
        }
        newPasswords.add(
          JSON.parse((await store.getSecretVersion(secret, { versionId: token })).value).password,
        );
        // The function died here. Repeating setSecret is harmless (Secrets Manager retries it).
        await runRotationStep({ Step: 'setSecret', SecretId: secret, ClientRequestToken: token }, stepDeps);
        if (secret === ALTERNATING) {
          expect(await currentLogsIn(secret)).toBe(true);
        } else {
          // The password changed, AWSCURRENT still holds the old one: only the repair can help.
          expect(await currentLogsIn(secret)).toBe(false);
        }
        await expect(store.startRotation(secret)).rejects.toThrow(/A previous rotation isn't complete/);
        const repaired = await repairRotation(secret, stepDeps);
        expect(repaired.action).toBe(secret === SINGLE ? 'finished' : 'pending-removed');
        expect(await currentLogsIn(secret)).toBe(true);
        expect(await strandedPending(secret)).toEqual([]);
        const next = await rotate(secret);
        expect(next.status, next.summary).toBe('completed');
        await remember(secret);
        expect(await currentLogsIn(secret)).toBe(true);
      });

      it('a crash between setSecret and finishSecret: running the rotation again repairs and rotates', async () => {
        const token = await store.startRotation(secret);
        const stepDeps = { versions: store, strategy: realStrategy(secret), log: silentLog };
        for (const step of ['createSecret', 'setSecret'] as const) {
          await runRotationStep({ Step: step, SecretId: secret, ClientRequestToken: token }, stepDeps);
        }
        newPasswords.add(
          JSON.parse((await store.getSecretVersion(secret, { versionId: token })).value).password,
        );
        const again = await rotate(secret);
        expect(again.status, again.summary).toBe('completed');
        expect((again.result as { steps: string[] }).steps[0]).toMatch(/^repair: /);
        await remember(secret);
        expect(await currentLogsIn(secret)).toBe(true);
        expect(await strandedPending(secret)).toEqual([]);
      });

      it('the server is down: the rotation fails at pre-flight about the network; once it is back, the next rotation runs', async () => {
        const before = await current(secret);
        server.stop();
        try {
          const outcome = await rotate(secret);
          expect(outcome.status).toBe('failed');
          expect(outcome.summary).toMatch(
            /failed at createSecret: cannot reach PostgreSQL .*subnets and security groups/,
          );
        } finally {
          server.start();
        }
        expect(await current(secret)).toBe(before);
        expect(await currentLogsIn(secret)).toBe(true);
        const next = await rotate(secret);
        expect(next.status, next.summary).toBe('completed');
        await remember(secret);
      });
    });
  }

  it('after all of it, no new password ever reached the server log', () => {
    expect(newPasswords.size).toBeGreaterThan(20);
    expectNoNewPasswordInLog();
  });
});

describe("The demo's application login rotates, and its probe keeps logging in", () => {
  let server: PostgresServer;
  let t: TestRuntime;
  let store: StateTableSecretStore;
  const example = parseConfig(exampleConfig);
  const target = example.probes.targets.find((p) => p.name === 'payments-app-login');

  beforeAll(async () => {
    server = await startPostgres();
    const admin = new pg.Client({
      host: server.host,
      port: server.port,
      user: server.user,
      password: server.password,
      database: 'postgres',
    });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${DEMO_DATABASE}`);
    await admin.end();
    // The example's rotation of responder/demo-app-db, as `npm start` runs it.
    t = await startTestRuntime({ config: testConfig({ secrets: exampleConfig.secrets }) });
    store = t.runtime.secrets as StateTableSecretStore;
  });
  afterAll(async () => {
    await t?.stop();
    server?.destroy();
  });

  const probe = async () => {
    if (target?.kind !== 'postgres') throw new Error('the example has no payments-app-login postgres target');
    return probePostgres(
      { ...target, host: server.host, port: server.port },
      { signal: new AbortController().signal, secrets: store, clock: systemClock },
    );
  };

  it('is created once, owns nothing, acts as payments_owner, and a restart keeps the rotated password', async () => {
    expect(example.secrets.rotations).toContainEqual(
      expect.objectContaining({ secret: DEMO_APP_DB_SECRET, strategy: 'postgres-single-user' }),
    );
    expect(target).toMatchObject({ kind: 'postgres', database: 'payments', secret: DEMO_APP_DB_SECRET });
    await ensureDemoAppUser(server, store);
    const created = await store.getSecretVersion(DEMO_APP_DB_SECRET);
    expect(JSON.parse(created.value)).toMatchObject({
      engine: 'postgres',
      port: server.port,
      username: 'payments_app',
      dbname: 'payments',
    });
    expect((await store.describeSecret(DEMO_APP_DB_SECRET)).rotationEnabled).toBe(true);
    expect(await probe()).toMatchObject({ ok: true });

    const rotated = await t.runtime.runAction('rotate', rotateRequest(DEMO_APP_DB_SECRET));
    expect(rotated.status === 'done' && rotated.outcome.summary).toMatch(/^rotated /);
    const afterRotation = await store.getSecretVersion(DEMO_APP_DB_SECRET);
    expect(afterRotation.versionId).not.toBe(created.versionId);
    expect(await probe()).toMatchObject({ ok: true });

    // The next start: the rotated secret is not overwritten, and the role still matches it.
    await ensureDemoAppUser(server, store);
    expect(await store.getSecretVersion(DEMO_APP_DB_SECRET)).toEqual(afterRotation);
    expect(await probe()).toMatchObject({ ok: true });

    const secret = JSON.parse(afterRotation.value);
    const app = new pg.Client({
      host: server.host,
      port: server.port,
      user: secret.username,
      password: secret.password,
      database: 'payments',
    });
    await app.connect();
    const who = await app.query('SELECT current_role::text AS role, session_user::text AS login');
    expect(who.rows).toEqual([{ role: 'payments_owner', login: 'payments_app' }]);
    await app.query('CREATE TABLE app_made (id int)');
    const owned = await app.query(
      `SELECT count(*)::int AS n FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = 'payments_app'`,
    );
    expect(owned.rows).toEqual([{ n: 0 }]);
    await app.end();
  });
});
