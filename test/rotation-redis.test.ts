import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRotateAction, type RotateDeps } from '../functions/rotate/rotate-secret.ts';
import { ROTATION_STEPS, type RotationStep, runRotationStep } from '../functions/rotate/rotation-steps.ts';
import {
  connectRedis,
  passwordHash,
  type RedisAclOptions,
  redisAclStrategy,
} from '../functions/rotate/strategies/redis.ts';
import type { RotationStrategy } from '../functions/rotate/strategy.ts';
import { type RotationConfig, rotationSchema } from '../src/config/rotations.ts';
import { actionRequestSchema } from '../src/domain/actions.ts';
import { type SecretVersions, STAGES, silentLog } from '../src/ports.ts';
import { createCertificateAuthority, daysFromNow } from './support/certificates.ts';
import { type RedisServer, redisHasTls, startRedis } from './support/redis.ts';
import { startTestRuntime, type TestRuntime, testConfig } from './support/runtime.ts';

const ADMIN_PASSWORD = 'admin-password-0123456789';
type RedisAclConfig = Extract<RotationConfig, { strategy: 'redis-acl' }>;

let counter = 0;
const rotateRequest = (secret: string, dryRun = false) =>
  actionRequestSchema.parse({
    actionId: `test-redis-rotate-${Date.now()}-${++counter}`,
    kind: 'rotate',
    trigger: 'operator',
    requestedAt: new Date().toISOString(),
    dryRun,
    params: { secret },
  });

const redisRotation = (secret: string, extra: Record<string, unknown> = {}) =>
  rotationSchema.parse({
    secret,
    strategy: 'redis-acl',
    connectTimeoutSeconds: 2,
    ...extra,
  }) as RedisAclConfig;

interface Login {
  readonly host?: string;
  readonly port: number;
  readonly tls?: boolean;
  readonly ca?: string;
}

/** Whether `username`/`password` logs in (AUTH, then PING). */
async function logsIn(server: Login, username: string, password: string): Promise<boolean> {
  const connection = await connectRedis(
    { host: server.host ?? '127.0.0.1', port: server.port, tls: server.tls ?? false },
    2,
    server.ca ? { ca: server.ca } : {},
  );
  try {
    const auth = await connection.call('AUTH', username, password);
    if (auth.type === 'error') return false;
    const ping = await connection.call('PING');
    return ping.type === 'simple' && ping.value === 'PONG';
  } finally {
    connection.close();
  }
}

/** Runs one command as the admin (the default user). */
async function asAdmin(server: Login, ...args: string[]) {
  const connection = await connectRedis(
    { host: server.host ?? '127.0.0.1', port: server.port, tls: server.tls ?? false },
    2,
    server.ca ? { ca: server.ca } : {},
  );
  try {
    const auth = await connection.call('AUTH', 'default', ADMIN_PASSWORD);
    if (auth.type === 'error') throw new Error(auth.value);
    const reply = await connection.call(...args);
    if (reply.type === 'error') throw new Error(reply.value);
    return reply;
  } finally {
    connection.close();
  }
}

const passwordOf = (value: string) => JSON.parse(value).password as string;

describe('redis-acl: rotation against a real redis-server with ACL users', () => {
  let redis: RedisServer;
  let t: TestRuntime;
  const rotations = [
    redisRotation('redis/app', { adminSecret: 'redis/admin' }),
    redisRotation('redis/self'),
    redisRotation('redis/flaky', { adminSecret: 'redis/admin' }),
    redisRotation('redis/ghost', { adminSecret: 'redis/admin' }),
    redisRotation('redis/unreachable', { adminSecret: 'redis/admin' }),
  ];
  const secretOf = (username: string, password: string, port = redis.port) =>
    JSON.stringify({ engine: 'redis', username, password, host: '127.0.0.1', port });
  const current = async (secretId: string) => passwordOf(await t.runtime.secrets.getSecretString(secretId));

  beforeAll(async () => {
    redis = await startRedis({ password: ADMIN_PASSWORD });
    // The application's user may only use keys; `self` may also change its own ACL entry.
    await asAdmin(
      redis,
      'ACL',
      'SETUSER',
      'app',
      'on',
      '>app-initial-password-0123',
      '~*',
      '+@read',
      '+@write',
      '+ping',
    );
    await asAdmin(redis, 'ACL', 'SETUSER', 'flaky', 'on', '>flaky-initial-password-0123', '~*', '+@all');
    await asAdmin(redis, 'ACL', 'SETUSER', 'self', 'on', '>self-initial-password-0123', '~*', '+@all');
    t = await startTestRuntime({ config: testConfig({ secrets: { rotations } }) });
    const store = t.runtime.secrets;
    await store.putSecretString(
      'redis/admin',
      JSON.stringify({ username: 'default', password: ADMIN_PASSWORD }),
    );
    for (const [id, user] of [
      ['redis/app', 'app'],
      ['redis/self', 'self'],
      ['redis/flaky', 'flaky'],
      ['redis/ghost', 'ghost'],
    ] as const) {
      await store.putSecretString(id, secretOf(user, `${user}-initial-password-0123`));
      await store.enableRotation(id);
    }
  });
  afterAll(async () => {
    await t?.stop();
    await redis?.stop();
  });

  it('both passwords work during the window; the one from two rotations ago does not after the next rotation', async () => {
    const store = t.runtime.secrets;
    const first = await current('redis/app');
    // A connection made before the rotations stays logged in through them.
    const early = await connectRedis({ host: '127.0.0.1', port: redis.port, tls: false }, 2);
    expect((await early.call('AUTH', 'app', first)).type).toBe('simple');

    // Rotation 1, all four steps: the new value is AWSCURRENT, the first AWSPREVIOUS; both log in.
    const one = await t.runtime.runAction('rotate', rotateRequest('redis/app'));
    expect(one).toMatchObject({ status: 'done', outcome: { status: 'completed' } });
    const second = await current('redis/app');
    expect(second).not.toBe(first);
    expect(second.length).toBeGreaterThanOrEqual(40);
    expect(passwordOf((await store.getSecretVersion('redis/app', { stage: STAGES.previous })).value)).toBe(
      first,
    );
    expect(await logsIn(redis, 'app', first)).toBe(true);
    expect(await logsIn(redis, 'app', second)).toBe(true);
    // The rest of the secret is kept.
    expect(JSON.parse(await store.getSecretString('redis/app'))).toMatchObject({
      engine: 'redis',
      username: 'app',
      host: '127.0.0.1',
      port: redis.port,
    });

    // Rotation 2, step by step: during the window AWSCURRENT and AWSPENDING both log in.
    const token = await store.startRotation('redis/app');
    const strategy = redisAclStrategy(rotations[0] as RedisAclConfig, { secrets: store, log: silentLog });
    const deps = { versions: store, strategy, log: silentLog };
    const step = (Step: RotationStep) =>
      runRotationStep({ Step, SecretId: 'redis/app', ClientRequestToken: token }, deps);
    await step('createSecret');
    const third = passwordOf((await store.getSecretVersion('redis/app', { stage: STAGES.pending })).value);
    expect(await logsIn(redis, 'app', third)).toBe(false);
    await step('setSecret');
    await step('setSecret'); // Secrets Manager may repeat a step: nothing changes
    expect(await logsIn(redis, 'app', second)).toBe(true);
    expect(await logsIn(redis, 'app', third)).toBe(true);
    // The value from two rotations ago (relative to the pending one) is gone already.
    expect(await logsIn(redis, 'app', first)).toBe(false);
    await step('testSecret');
    await step('finishSecret');
    expect(await current('redis/app')).toBe(third);
    expect(await logsIn(redis, 'app', third)).toBe(true);
    expect(await logsIn(redis, 'app', second)).toBe(true);
    expect(await logsIn(redis, 'app', first)).toBe(false);

    // Rotation 3: the second value is now two rotations old.
    await t.runtime.runAction('rotate', rotateRequest('redis/app'));
    const fourth = await current('redis/app');
    expect(await logsIn(redis, 'app', fourth)).toBe(true);
    expect(await logsIn(redis, 'app', third)).toBe(true);
    expect(await logsIn(redis, 'app', second)).toBe(false);
    // The server holds exactly the two hashes; the user's permissions are untouched.
    const user = await asAdmin(redis, 'ACL', 'GETUSER', 'app');
    const text = JSON.stringify(user);
    expect(text).toContain(passwordHash(fourth));
    expect(text).toContain(passwordHash(third));
    expect(text).not.toContain(passwordHash(second));
    expect(text).toContain('+@read');
    expect((await early.call('PING')).value).toBe('PONG');
    early.close();
  });

  it('rotates a user that changes its own password (no adminSecret)', async () => {
    const before = await current('redis/self');
    const result = await t.runtime.runAction('rotate', rotateRequest('redis/self'));
    expect(result).toMatchObject({ status: 'done', outcome: { status: 'completed' } });
    const after = await current('redis/self');
    expect(await logsIn(redis, 'self', after)).toBe(true);
    expect(await logsIn(redis, 'self', before)).toBe(true);
    await t.runtime.runAction('rotate', rotateRequest('redis/self'));
    expect(await logsIn(redis, 'self', before)).toBe(false);
  });

  it('a dry run lists each step and changes nothing', async () => {
    const before = await t.runtime.secrets.getSecretString('redis/app');
    const dry = await t.runtime.runAction('rotate', rotateRequest('redis/app', true));
    expect(dry.status === 'done' && (dry.outcome.result as { steps: string[] }).steps).toEqual([
      expect.stringMatching(
        /^createSecret: after checking that 127\.0\.0\.1:\d+ answers within 2s and that ACL user "app" exists/,
      ),
      expect.stringMatching(
        /^setSecret: as "redis\/admin" \(adminSecret\), ACL SETUSER app on resetpass #<sha256 of AWSCURRENT> #<sha256 of AWSPENDING>/,
      ),
      'testSecret: AUTH app with the pending password, then PING',
      expect.stringMatching(/^finishSecret: AWSCURRENT moves to the new value/),
    ]);
    expect(await t.runtime.secrets.getSecretString('redis/app')).toBe(before);
  });

  it('refuses before changing anything: an unreachable server (the network named), a missing ACL user', async () => {
    const store = t.runtime.secrets;
    const closed = await startRedis({ password: ADMIN_PASSWORD });
    const port = closed.port;
    await closed.stop();
    await store.putSecretString('redis/unreachable', secretOf('app', 'whatever-password-0123', port));
    await store.enableRotation('redis/unreachable');
    const unreachable = await t.runtime.runAction('rotate', rotateRequest('redis/unreachable'));
    expect(unreachable.status === 'done' && unreachable.outcome.summary).toMatch(
      /failed at createSecret: cannot reach Redis at 127\.0\.0\.1:\d+ within 2s \(ECONNREFUSED\): check that the rotate function runs in subnets .* security group may reach port \d+; nothing was changed/,
    );
    const ghost = await t.runtime.runAction('rotate', rotateRequest('redis/ghost'));
    expect(ghost.status === 'done' && ghost.outcome.summary).toMatch(
      /failed at createSecret: there is no ACL user "ghost" at 127\.0\.0\.1:\d+: create it/,
    );
    // Not created by the refused rotation.
    expect((await asAdmin(redis, 'ACL', 'GETUSER', 'ghost')).value).toBeNull();
    for (const id of ['redis/unreachable', 'redis/ghost']) {
      const described = await store.describeSecret(id);
      expect(described.versions.filter((v) => v.stages.includes(STAGES.pending))).toEqual([]);
    }
  });

  it('refuses to replace the passwords when AWSCURRENT does not log in, changing nothing', async () => {
    const store = t.runtime.secrets;
    await asAdmin(redis, 'ACL', 'SETUSER', 'drifted', 'on', '>the-real-password-0123', '~*', '+@all');
    await store.putSecretString('redis/drifted', secretOf('drifted', 'not-the-real-password-0123'));
    const strategy = redisAclStrategy(redisRotation('redis/drifted', { adminSecret: 'redis/admin' }), {
      secrets: store,
      log: silentLog,
    });
    const currentValue = await store.getSecretString('redis/drifted');
    await expect(
      strategy.setValue(secretOf('drifted', 'a-new-password-0123456789'), currentValue, undefined),
    ).rejects.toThrow(/AWSCURRENT of redis\/drifted does not log in as "drifted" .*nothing was changed/);
    expect(await logsIn(redis, 'drifted', 'the-real-password-0123')).toBe(true);
    expect(await logsIn(redis, 'drifted', 'a-new-password-0123456789')).toBe(false);
  });

  describe('faults: each step failing in turn, before and after it acts, and a crash before finishSecret', () => {
    const faults = ROTATION_STEPS.flatMap((step) =>
      (['before', 'after'] as const).map((when) => ({ step, when })),
    );

    /** Logs in with AWSCURRENT over and over while `during` runs; any failure is kept. */
    async function watchCurrent<T>(during: () => Promise<T>): Promise<{ result: T; failures: string[] }> {
      const failures: string[] = [];
      let running = true;
      let checks = 0;
      const loop = (async () => {
        while (running) {
          const value = await t.runtime.secrets.getSecretString('redis/flaky');
          if (!(await logsIn(redis, 'flaky', passwordOf(value)))) failures.push(`check ${checks}`);
          checks += 1;
        }
      })();
      try {
        const result = await during();
        return { result, failures };
      } finally {
        running = false;
        await loop;
        expect(checks).toBeGreaterThan(0);
      }
    }

    const flakyRotation = rotations[2] as RedisAclConfig;

    function faulty(step: RotationStep, when: 'before' | 'after') {
      const store = t.runtime.secrets;
      const real = redisAclStrategy(flakyRotation, { secrets: store, log: silentLog });
      let fired = false;
      const fault = async <R>(at: RotationStep, act: () => Promise<R>): Promise<R> => {
        if (at !== step || fired) return act();
        fired = true;
        if (when === 'before') throw new Error(`injected ${at} failure`);
        const result = await act();
        throw Object.assign(new Error(`injected ${at} failure`), { result });
      };
      const strategy: RotationStrategy = {
        ...real,
        createValue: (current) => fault('createSecret', () => real.createValue(current)),
        setValue: (pending, current, previous) =>
          fault('setSecret', () => real.setValue(pending, current, previous)),
        testValue: (pending) => fault('testSecret', () => real.testValue(pending)),
      };
      const versions: SecretVersions = {
        describeSecret: (id) => store.describeSecret(id),
        getSecretVersion: (id, which) => store.getSecretVersion(id, which),
        putPendingValue: (id, token, value) =>
          step === 'createSecret' && when === 'after'
            ? fault('createSecret', () => store.putPendingValue(id, token, value))
            : store.putPendingValue(id, token, value),
        updateStage: (id, stage, move) =>
          stage === STAGES.current
            ? fault('finishSecret', () => store.updateStage(id, stage, move))
            : store.updateStage(id, stage, move),
      };
      return { real, strategy, versions };
    }

    const depsOf = (strategy: RotationStrategy, versions: SecretVersions): RotateDeps => ({
      config: testConfig({ secrets: { rotations } }),
      versions,
      secrets: t.runtime.secrets,
      log: silentLog,
      startRotation: async (id) => ({ token: await t.runtime.secrets.startRotation(id), stepsHere: true }),
      strategies: () => strategy,
    });

    const pendingWithoutCurrent = async () =>
      (await t.runtime.secrets.describeSecret('redis/flaky')).versions.filter(
        (v) => v.stages.includes(STAGES.pending) && !v.stages.includes(STAGES.current),
      );

    it.each(faults)(
      '$step fails $when it acts: repaired, AWSCURRENT always logs in, the next rotation succeeds',
      async ({ step, when }) => {
        const { real, strategy, versions } = faulty(step, when);
        const { failures } = await watchCurrent(async () => {
          const outcome = await createRotateAction(depsOf(strategy, versions))(rotateRequest('redis/flaky'));
          if (step === 'finishSecret' && when === 'after') {
            // The labels moved before the failure: nothing is left to repair.
            expect(outcome.summary).toContain(
              'failed at finishSecret: injected finishSecret failure; no rotation left pending',
            );
          } else {
            expect(outcome.status).toBe('failed');
            expect(outcome.summary).toContain(`failed at ${step}: injected ${step} failure`);
          }
          expect(await pendingWithoutCurrent()).toEqual([]);
          const next = await createRotateAction(depsOf(real, t.runtime.secrets))(
            rotateRequest('redis/flaky'),
          );
          expect(next.status, next.summary).toBe('completed');
        });
        expect(failures).toEqual([]);
        const now = await t.runtime.secrets.getSecretVersion('redis/flaky', { stage: STAGES.current });
        const previous = await t.runtime.secrets.getSecretVersion('redis/flaky', { stage: STAGES.previous });
        expect(await logsIn(redis, 'flaky', passwordOf(now.value))).toBe(true);
        expect(await logsIn(redis, 'flaky', passwordOf(previous.value))).toBe(true);
      },
    );

    it('a crash between setSecret and finishSecret: the next rotation repairs the labels and succeeds; the orphaned password stops working', async () => {
      const store = t.runtime.secrets;
      const real = redisAclStrategy(flakyRotation, { secrets: store, log: silentLog });
      const { failures } = await watchCurrent(async () => {
        const token = await store.startRotation('redis/flaky');
        for (const Step of ['createSecret', 'setSecret'] as const) {
          await runRotationStep(
            { Step, SecretId: 'redis/flaky', ClientRequestToken: token },
            { versions: store, strategy: real, log: silentLog },
          );
        }
        // The function died here: AWSPENDING holds a password the server accepts.
        const orphan = passwordOf((await store.getSecretVersion('redis/flaky', { versionId: token })).value);
        expect(await logsIn(redis, 'flaky', orphan)).toBe(true);
        const next = await createRotateAction(depsOf(real, store))(rotateRequest('redis/flaky'));
        expect(next.status, next.summary).toBe('completed');
        expect((next.result as { steps: string[] }).steps[0]).toMatch(
          /^repair: AWSCURRENT logs in; AWSPENDING removed from the failed version/,
        );
        expect(await pendingWithoutCurrent()).toEqual([]);
        expect(await logsIn(redis, 'flaky', orphan)).toBe(false);
      });
      expect(failures).toEqual([]);
    });
  });
});

describe('redis-acl: the ACL survives a restart (aclfile)', () => {
  let redis: RedisServer;
  let dir: string;
  let t: TestRuntime;
  const rotation = redisRotation('redis/saved');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'responder-redis-acl-'));
    const aclfile = join(dir, 'users.acl');
    await writeFile(
      aclfile,
      `user default on >${ADMIN_PASSWORD} ~* &* +@all\nuser saved on >saved-initial-password-0123 ~* &* +@all\n`,
    );
    redis = await startRedis({
      args: ['--aclfile', aclfile],
      password: undefined,
      ready: async (port) => logsIn({ port }, 'default', ADMIN_PASSWORD),
    });
    t = await startTestRuntime({ config: testConfig({ secrets: { rotations: [rotation] } }) });
    await t.runtime.secrets.putSecretString(
      'redis/saved',
      JSON.stringify({
        username: 'saved',
        password: 'saved-initial-password-0123',
        host: '127.0.0.1',
        port: redis.port,
      }),
    );
    await t.runtime.secrets.enableRotation('redis/saved');
  });
  afterAll(async () => {
    await t?.stop();
    await redis?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('saves the ACL with ACL SAVE: reloading the file keeps both passwords, and holds no password in clear', async () => {
    await t.runtime.runAction('rotate', rotateRequest('redis/saved'));
    await t.runtime.runAction('rotate', rotateRequest('redis/saved'));
    const now = passwordOf(await t.runtime.secrets.getSecretString('redis/saved'));
    const previous = passwordOf(
      (await t.runtime.secrets.getSecretVersion('redis/saved', { stage: STAGES.previous })).value,
    );
    await asAdmin(redis, 'ACL', 'LOAD');
    expect(await logsIn(redis, 'saved', now)).toBe(true);
    expect(await logsIn(redis, 'saved', previous)).toBe(true);
    expect(await logsIn(redis, 'saved', 'saved-initial-password-0123')).toBe(false);
    const file = await readFile(join(dir, 'users.acl'), 'utf8');
    expect(file).toContain(`#${passwordHash(now)}`);
    expect(file).not.toContain(now);
  });
});

describe.runIf(redisHasTls())('redis-acl: over TLS', () => {
  let redis: RedisServer;
  let dir: string;
  let t: TestRuntime;
  let ca: string;
  const rotation = redisRotation('redis/tls', { adminSecret: 'redis/tls-admin' });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'responder-redis-tls-'));
    const authority = createCertificateAuthority();
    ca = authority.certPem;
    const leaf = authority.issue({
      names: ['localhost', '127.0.0.1'],
      notBefore: daysFromNow(-1),
      notAfter: daysFromNow(30),
    });
    const files = {
      certFile: join(dir, 'server.crt'),
      keyFile: join(dir, 'server.key'),
      caFile: join(dir, 'ca.crt'),
    };
    await writeFile(files.certFile, leaf.certPem);
    await writeFile(files.keyFile, leaf.keyPem, { mode: 0o600 });
    await writeFile(files.caFile, ca);
    redis = await startRedis({
      password: ADMIN_PASSWORD,
      tls: files,
      ready: async (port) => logsIn({ port, tls: true, ca }, 'default', ADMIN_PASSWORD),
    });
    await asAdmin(
      { port: redis.port, tls: true, ca },
      'ACL',
      'SETUSER',
      'tlsapp',
      'on',
      '>tls-initial-password-0123',
      '~*',
      '+@all',
    );
    t = await startTestRuntime({ config: testConfig({ secrets: { rotations: [rotation] } }) });
    await t.runtime.secrets.putSecretString(
      'redis/tls-admin',
      JSON.stringify({ username: 'default', password: ADMIN_PASSWORD }),
    );
    await t.runtime.secrets.putSecretString(
      'redis/tls',
      JSON.stringify({
        username: 'tlsapp',
        password: 'tls-initial-password-0123',
        host: '127.0.0.1',
        port: redis.port,
        tls: true,
      }),
    );
    await t.runtime.secrets.enableRotation('redis/tls');
  });
  afterAll(async () => {
    await t?.stop();
    await redis?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('rotates over TLS (the server has no plain port), and refuses a server it does not trust', async () => {
    const options: RedisAclOptions = { tls: { ca } };
    const deps = (strategy: RotationStrategy): RotateDeps => ({
      config: testConfig({ secrets: { rotations: [rotation] } }),
      versions: t.runtime.secrets,
      secrets: t.runtime.secrets,
      log: silentLog,
      startRotation: async (id) => ({ token: await t.runtime.secrets.startRotation(id), stepsHere: true }),
      strategies: () => strategy,
    });
    const context = { secrets: t.runtime.secrets, log: silentLog };
    // Without the private CA, the TLS handshake fails: named as the network's problem, nothing changed.
    const untrusted = await createRotateAction(deps(redisAclStrategy(rotation, context)))(
      rotateRequest('redis/tls'),
    );
    expect(untrusted.summary).toMatch(
      /failed at createSecret: cannot reach Redis at 127\.0\.0\.1:\d+ \(TLS\).*certificate/,
    );
    const before = passwordOf(await t.runtime.secrets.getSecretString('redis/tls'));
    const rotated = await createRotateAction(deps(redisAclStrategy(rotation, context, options)))(
      rotateRequest('redis/tls'),
    );
    expect(rotated.status, rotated.summary).toBe('completed');
    const after = passwordOf(await t.runtime.secrets.getSecretString('redis/tls'));
    const server = { port: redis.port, tls: true, ca };
    expect(await logsIn(server, 'tlsapp', after)).toBe(true);
    expect(await logsIn(server, 'tlsapp', before)).toBe(true);
  });
});
