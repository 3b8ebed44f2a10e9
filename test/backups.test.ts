import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, GetObjectTaggingCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { restoreBackup } from '../functions/backup/restore.ts';
import { partSizeFor } from '../functions/backup/stream-upload.ts';
import { connectionFromSecret } from '../src/adapters/postgres-connection.ts';
import { parseConfig } from '../src/config/schema.ts';
import { type ActionRequest, actionRequestSchema } from '../src/domain/actions.ts';
import type { BackupManifest } from '../src/domain/backups.ts';
import { type PostgresServer, startPostgres } from './support/postgres.ts';
import { type Json, startTestRuntime, type TestRuntime, testConfig } from './support/runtime.ts';

const PASSWORD = 'backup-test-Pa55word';
let counter = 0;
function backupRequest(database: string, extra: Partial<ActionRequest> = {}): ActionRequest {
  counter += 1;
  return actionRequestSchema.parse({
    actionId: `test-backup-${Date.now()}-${counter}`,
    kind: 'backup',
    trigger: 'operator',
    requestedAt: new Date().toISOString(),
    dryRun: false,
    params: { database },
    ...extra,
  });
}

async function sql(server: PostgresServer, database: string, text: string) {
  const client = new pg.Client({ ...clientOptions(server), database });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}
const clientOptions = (server: PostgresServer) => ({
  host: server.host,
  port: server.port,
  user: server.user,
  password: server.password,
});

/** Every S3 command the backup sends, in order, and a hook to fail or act on one. */
function watchS3(t: TestRuntime) {
  const sent: Array<{ name: string; input: Json }> = [];
  let hook: ((name: string, input: Json) => void | Promise<void>) | undefined;
  t.runtime.s3.middlewareStack.add(
    (next, context) => async (args) => {
      const name = (context as { commandName?: string }).commandName ?? '?';
      sent.push({ name, input: args.input });
      await hook?.(name, args.input);
      return next(args);
    },
    { step: 'initialize', name: 'testWatch' },
  );
  return {
    sent,
    names: () => sent.map((call) => call.name),
    onCommand(fn: typeof hook) {
      hook = fn;
    },
    reset() {
      sent.length = 0;
      hook = undefined;
    },
  };
}

async function objectExists(t: TestRuntime, key: string) {
  try {
    await t.runtime.s3.send(new HeadObjectCommand({ Bucket: t.runtime.backupBucket, Key: key }));
    return true;
  } catch (error) {
    if ((error as { name?: string }).name === 'NotFound') return false;
    throw error;
  }
}

/** The data file s3rver keeps an object's bytes in. */
function s3rverFile(t: TestRuntime, key: string): string {
  const base = join(t.runtime.dataDir, 's3', t.runtime.backupBucket, key);
  const candidates = [`${base}._S3rver_object`, base];
  for (const file of candidates) {
    try {
      if (statSync(file).isFile()) return file;
    } catch {
      // next
    }
  }
  throw new Error(`no s3rver file for ${key} (looked in ${readdirSync(join(base, '..')).join(', ')})`);
}

describe('Backups: pg_dump streamed to S3, verified, catalogued', () => {
  let server: PostgresServer;
  let t: TestRuntime;
  let s3: ReturnType<typeof watchS3>;
  let fakeBin: string;

  beforeAll(async () => {
    server = await startPostgres({ password: PASSWORD });
    await sql(server, 'postgres', 'CREATE DATABASE shop');
    await sql(
      server,
      'shop',
      `CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
       CREATE TABLE orders (id bigint PRIMARY KEY, customer int REFERENCES customers, total numeric, doc jsonb);
       CREATE SCHEMA audit;
       CREATE TABLE audit.events (id serial PRIMARY KEY, at timestamptz DEFAULT now(), what text);
       INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 200) g;
       INSERT INTO orders SELECT g, 1 + g % 200, g * 1.5, jsonb_build_object('n', g, 'tag', md5(g::text))
         FROM generate_series(1, 5000) g;
       INSERT INTO audit.events (what) SELECT 'event ' || g FROM generate_series(1, 300) g;`,
    );
    // Big enough that the dump spans several 8 MiB parts: the mid-dump failures need a multipart upload.
    await sql(server, 'postgres', 'CREATE DATABASE bulk');
    await sql(
      server,
      'bulk',
      `CREATE TABLE blobs (id int PRIMARY KEY, body text);
       INSERT INTO blobs SELECT g, repeat(md5(g::text) || md5((g * 7)::text), 8) FROM generate_series(1, 120000) g;`,
    );
    const config = testConfig({
      probes: {
        targets: [
          { name: 'shoplist-fresh', kind: 'backup', database: 'shoplist', maxAgeHours: 1 },
          { name: 'bulk-stale', kind: 'backup', database: 'bulk', maxAgeHours: 0.000001 },
          { name: 'badpass-fresh', kind: 'backup', database: 'badpass' },
        ],
      },
      backups: {
        databases: [
          { name: 'shop', secret: 'test/shop-db', verify: 'restore', scratch: { database: 'shop_scratch' } },
          { name: 'shoplist', secret: 'test/shop-db' },
          {
            name: 'shopdir',
            secret: 'test/shop-db',
            format: 'directory',
            jobs: 2,
            verify: 'restore',
            scratch: { database: 'shopdir_scratch' },
          },
          { name: 'bulk', secret: 'test/bulk-db', compression: '0' },
          { name: 'badpass', secret: 'test/bad-password' },
          { name: 'blackhole', secret: 'test/blackhole', connectTimeoutSeconds: 1 },
        ],
      },
    });
    t = await startTestRuntime({ config });
    const secret = (database: string, extra: Record<string, unknown> = {}) =>
      JSON.stringify({
        engine: 'postgres',
        host: server.host,
        port: server.port,
        username: server.user,
        password: PASSWORD,
        dbname: database,
        ...extra,
      });
    await t.runtime.secrets.putSecretString('test/shop-db', secret('shop'));
    await t.runtime.secrets.putSecretString('test/bulk-db', secret('bulk'));
    await t.runtime.secrets.putSecretString(
      'test/bad-password',
      secret('shop', { password: 'not-the-password' }),
    );
    s3 = watchS3(t);
    fakeBin = mkdtempSync(join(tmpdir(), 'responder-fake-pg-'));
  }, 180_000);

  afterAll(async () => {
    await t?.stop();
    server?.destroy();
    rmSync(fakeBin, { recursive: true, force: true });
  });
  afterEach(() => {
    s3.reset();
    delete process.env.RESPONDER_PG_BIN_DIR;
  });

  const run = async (database: string, extra: Partial<ActionRequest> = {}) => {
    const result = await t.runtime.runAction('backup', backupRequest(database, extra));
    if (result.status !== 'done') throw new Error(`backup ${result.status}: ${JSON.stringify(result)}`);
    return result.outcome;
  };
  const manifestOf = async (outcome: { data?: Record<string, unknown> }): Promise<BackupManifest> => {
    const found = await t.runtime.backupCatalog.getBackup(outcome.data?.backupId as string);
    if (!found) throw new Error('no catalog entry');
    return found;
  };

  it('round-trips: dumps, verifies by restoring into the scratch database, catalogues and restores elsewhere', async () => {
    const outcome = await run('shop');
    expect(outcome.status, outcome.summary).toBe('completed');
    const manifest = await manifestOf(outcome);
    expect(manifest).toMatchObject({
      status: 'verified',
      database: 'shop',
      format: 'custom',
      verification: { level: 'restore', ok: true },
      serverVersion: expect.stringMatching(/^1\d\.\d+$/),
      pgDumpVersion: expect.stringMatching(/^1\d\.\d+$/),
    });
    expect(manifest.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.tables).toEqual([
      { table: 'audit.events', rows: 300 },
      { table: 'public.customers', rows: 200 },
      { table: 'public.orders', rows: 5000 },
    ]);
    // The object's bytes are what was hashed on the way up.
    const stored = readFileSync(s3rverFile(t, manifest.key as string));
    const { createHash } = await import('node:crypto');
    expect(createHash('sha256').update(stored).digest('hex')).toBe(manifest.sha256);
    expect(stored.byteLength).toBe(manifest.bytes);
    // The manifest sits beside the dump, and both carry the retention tag.
    const body = await t.runtime.s3.send(
      new GetObjectCommand({ Bucket: t.runtime.backupBucket, Key: manifest.manifestKey }),
    );
    expect(
      JSON.parse(await (body.Body as { transformToString(): Promise<string> }).transformToString()),
    ).toMatchObject({
      id: manifest.id,
      sha256: manifest.sha256,
      status: 'verified',
    });
    const tags = await t.runtime.s3.send(
      new GetObjectTaggingCommand({ Bucket: t.runtime.backupBucket, Key: manifest.key }),
    );
    expect(tags.TagSet).toContainEqual({ Key: 'responder-retention', Value: 'keep' });
    // The catalog answers "the latest good backup" in one query.
    expect((await t.runtime.backupCatalog.latestVerified('shop'))?.id).toBe(manifest.id);
    // The scratch database holds the same rows.
    expect((await sql(server, 'shop_scratch', 'SELECT count(*)::int AS n FROM orders')).rows[0].n).toBe(5000);

    // Restore into a second database: same tables, same rows.
    const target = connectionFromSecret(
      'inline',
      JSON.stringify({ host: server.host, port: server.port, username: server.user, password: PASSWORD }),
      {
        database: 'shop_restored',
      },
    );
    const restored = await restoreBackup({
      s3: t.runtime.s3,
      manifest,
      target,
      connectTimeoutSeconds: 5,
      timeoutMs: 60_000,
    });
    expect(restored.tables).toEqual(manifest.tables);
    expect(
      (await sql(server, 'shop_restored', "SELECT doc->>'tag' AS tag FROM orders WHERE id = 42")).rows[0].tag,
    ).toBe((await sql(server, 'shop', "SELECT doc->>'tag' AS tag FROM orders WHERE id = 42")).rows[0].tag);
    // A restore never mixes into a database that has tables.
    await expect(
      restoreBackup({ s3: t.runtime.s3, manifest, target, connectTimeoutSeconds: 5, timeoutMs: 60_000 }),
    ).rejects.toThrow(/already has 3 tables/);
  });

  it('the directory format dumps with parallel jobs, ships one tar and restores from it', async () => {
    const outcome = await run('shopdir');
    expect(outcome.status, outcome.summary).toBe('completed');
    const manifest = await manifestOf(outcome);
    expect(manifest).toMatchObject({ format: 'directory', verification: { level: 'restore', ok: true } });
    expect(manifest.key).toMatch(/\/shopdir@\S+\.tar$/);
    expect(
      (await sql(server, 'shopdir_scratch', 'SELECT count(*)::int AS n FROM audit.events')).rows[0].n,
    ).toBe(300);
  });

  it('verifies by listing by default and shows up in GET /api/backups', async () => {
    const outcome = await run('shoplist');
    const manifest = await manifestOf(outcome);
    expect(manifest.verification).toMatchObject({ level: 'list', ok: true });
    const listed = await t.get('/api/backups?database=shoplist');
    expect(listed.status).toBe(200);
    expect(listed.body.backups[0]).toMatchObject({ id: manifest.id, status: 'verified' });
    const latest = await t.get('/api/backups/shoplist@latest');
    expect(latest.body.id).toBe(manifest.id);
    expect((await t.get('/api/backups/nope@latest')).status).toBe(404);
    expect((await t.get('/api/backups/..%2Fetc')).status).toBe(400);
  });

  it("a wrong password fails with the server's own error, no object and an incident; the password is never recorded", async () => {
    const outcome = await run('badpass');
    expect(outcome.status).toBe('failed');
    const manifest = await manifestOf(outcome);
    expect(manifest.status).toBe('failed');
    expect(manifest.error).toMatch(/password authentication failed/);
    expect(JSON.stringify(manifest)).not.toContain('not-the-password');
    expect(await objectExists(t, manifest.key as string)).toBe(false);
    expect(s3.names()).not.toContain('CompleteMultipartUploadCommand');
    const incidents = await t.get('/api/incidents?status=open');
    const incident = incidents.body.incidents.find((i: Json) => i.labels.alertname === 'BackupFailed');
    expect(incident).toMatchObject({ severity: 'P2', labels: { subject: 'badpass' } });
  });

  it('an unreachable host fails within the connect timeout', async () => {
    const silent: Server = createServer(() => undefined); // accepts and never answers
    const port = await new Promise<number>((resolve) =>
      silent.listen(0, '127.0.0.1', () => resolve((silent.address() as { port: number }).port)),
    );
    await t.runtime.secrets.putSecretString(
      'test/blackhole',
      JSON.stringify({ host: '127.0.0.1', port, username: 'x', password: 'y', dbname: 'z' }),
    );
    const started = Date.now();
    const outcome = await run('blackhole');
    silent.close();
    expect(outcome.status).toBe('failed');
    expect((await manifestOf(outcome)).error).toMatch(/timeout|timed out/i);
    // Bounded by the database's 1 s connect timeout, not by the 14-minute backup limit.
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it("a server stopped mid-dump aborts the upload: no object, a failed entry with pg_dump's error, an incident; the next backup resolves it", async () => {
    let stopped = false;
    s3.onCommand((name) => {
      if (name === 'UploadPartCommand' && !stopped) {
        stopped = true;
        server.stop();
      }
    });
    const outcome = await run('bulk');
    expect(stopped).toBe(true);
    expect(outcome.status).toBe('failed');
    const manifest = await manifestOf(outcome);
    expect(manifest).toMatchObject({ status: 'failed' });
    expect(manifest.error).toMatch(/^pg_dump (exited with code \d+|was stopped by \w+)/);
    expect(manifest.stderrTail).toMatch(/pg_dump/);
    expect(JSON.stringify(manifest)).not.toContain(PASSWORD);
    const names = s3.names();
    expect(names).toContain('CreateMultipartUploadCommand');
    expect(names).not.toContain('CompleteMultipartUploadCommand');
    // The multipart upload is aborted by its id (s3rver answers the abort with 405 and keeps the parts:
    // the abort can only be seen here, as the call the backup made).
    const created = s3.sent.find((call) => call.name === 'CreateMultipartUploadCommand');
    const uploadIds = s3.sent
      .filter((call) => call.name === 'UploadPartCommand')
      .map((call) => call.input.UploadId);
    const abort = s3.sent.find((call) => call.name === 'AbortMultipartUploadCommand');
    expect(abort?.input).toMatchObject({
      Bucket: t.runtime.backupBucket,
      Key: manifest.key,
      UploadId: uploadIds[0],
    });
    expect(created?.input.Key).toBe(manifest.key);
    expect(await objectExists(t, manifest.key as string)).toBe(false);
    const open = await t.get('/api/incidents?status=open');
    const incident = open.body.incidents.find((i: Json) => i.labels.subject === 'bulk');
    expect(incident?.labels.alertname).toBe('BackupFailed');

    server.start();
    s3.reset();
    const next = await run('bulk');
    expect(next.status, next.summary).toBe('completed');
    const good = await manifestOf(next);
    expect(good.bytes).toBeGreaterThan(2 * partSizeFor(0));
    expect((await t.get(`/api/incidents/${incident.id}`)).body.status).toBe('resolved');
  });

  it('S3 failing mid-upload stops pg_dump and aborts: failed, nothing marked good', async () => {
    const before = (await t.runtime.backupCatalog.latestVerified('bulk'))?.id;
    let parts = 0;
    s3.onCommand((name) => {
      if (name === 'UploadPartCommand' && ++parts === 2) {
        throw Object.assign(new Error('We encountered an internal error. Please try again.'), {
          name: 'InternalError',
          $metadata: { httpStatusCode: 500 },
        });
      }
    });
    const outcome = await run('bulk');
    expect(outcome.status).toBe('failed');
    const manifest = await manifestOf(outcome);
    expect(manifest.error).toMatch(/^the upload to S3 failed: We encountered an internal error/);
    expect(s3.names()).toContain('AbortMultipartUploadCommand');
    expect(s3.names()).not.toContain('CompleteMultipartUploadCommand');
    expect(await objectExists(t, manifest.key as string)).toBe(false);
    expect((await t.runtime.backupCatalog.latestVerified('bulk'))?.id).toBe(before);
  });

  it('refuses a server newer than its pg_dump, naming both versions and the setting', async () => {
    const fake = join(fakeBin, 'pg_dump');
    writeFileSync(fake, '#!/bin/sh\necho "pg_dump (PostgreSQL) 9.6.24"\n');
    chmodSync(fake, 0o755);
    process.env.RESPONDER_PG_BIN_DIR = fakeBin;
    const outcome = await run('shoplist');
    expect(outcome.status).toBe('failed');
    const { error } = await manifestOf(outcome);
    expect(error).toMatch(/server version 1\d\.\d+ is newer than pg_dump 9\.6, which cannot dump it/);
    expect(error).toMatch(/RESPONDER_PG_BIN_DIR/);
    expect(s3.names()).toEqual([]);
  });

  it('runs one backup per database at a time: a second request is recorded as skipped', async () => {
    const [a, b] = await Promise.all([run('shoplist'), run('shoplist')]);
    const statuses = [a, b].map((outcome) => (outcome.result as { status: string }).status).sort();
    expect(statuses).toEqual(['skipped', 'verified']);
    const skipped = [a, b].find((outcome) => outcome.status === 'recorded');
    expect(skipped?.summary).toMatch(/skipped: another backup of it is running/);
  });

  it('a corrupted object fails verification and is not marked good', async () => {
    const before = (await t.runtime.backupCatalog.latestVerified('shoplist'))?.id;
    s3.onCommand((name, input) => {
      if (name !== 'GetObjectCommand') return;
      const file = s3rverFile(t, input.Key);
      const bytes = readFileSync(file);
      const middle = Math.floor(bytes.length / 2);
      bytes.writeUInt8(bytes.readUInt8(middle) ^ 0xff, middle);
      writeFileSync(file, bytes);
    });
    const outcome = await run('shoplist');
    expect(outcome.status).toBe('failed');
    const manifest = await manifestOf(outcome);
    expect(manifest.verification).toMatchObject({ ok: false, level: 'none' });
    expect(manifest.error).toMatch(/verification failed: SHA-256 of the stored object is [0-9a-f]{64}/);
    expect((await t.runtime.backupCatalog.latestVerified('shoplist'))?.id).toBe(before);
  });

  it('refuses unknown databases and bad requests with a 400 and starts nothing', async () => {
    const unknown = await t.post('/api/backups', { database: 'nope' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.details[0]).toMatch(/no 'nope' in backups.databases/);
    expect((await t.post('/api/backups', { database: 'shoplist', verify: 'restore' })).status).toBe(400);
    expect((await t.post('/api/backups', { database: 'shop', extra: 1 })).status).toBe(400);
    expect(s3.names()).toEqual([]);
  });

  it('the backup probe fails when the newest verified backup is missing or too old', async () => {
    const report = await t.runtime.probeNow(['shoplist-fresh', 'bulk-stale', 'badpass-fresh']);
    const byName = Object.fromEntries((report?.results ?? []).map((r) => [r.target, r]));
    expect(byName['shoplist-fresh']).toMatchObject({ ok: true, kind: 'backup' });
    expect(byName['shoplist-fresh']?.detail).toMatch(/^newest verified backup shoplist@\S+ is 0 h old$/);
    expect(byName['bulk-stale']).toMatchObject({ ok: false });
    expect(byName['bulk-stale']?.detail).toMatch(/more than 0.000001 h\): check the backup schedule/);
    expect(byName['badpass-fresh']).toMatchObject({ ok: false, detail: 'no verified backup of badpass yet' });
  });

  it('a dry run reports the dump it would make and writes nothing', async () => {
    const answer = await t.post('/api/backups', { database: 'shop', dryRun: true });
    expect(answer.status).toBe(200);
    expect(answer.body.result.outcome.summary).toMatch(
      /^dry run: would dump shop \(shop on 127\.0\.0\.1:\d+, server 1\d/,
    );
    expect(s3.names()).toEqual([]);
  });
});

describe('Backups config', () => {
  const base = { service: 'svc', aws: { region: 'eu-west-1', drRegion: 'eu-central-1' } };
  const parse = (backups: unknown) => () => parseConfig({ ...base, backups });
  it('names the field and the fix', () => {
    expect(parse({ databases: [{ name: 'a', secret: 's', jobs: 4 }] })).toThrow(
      /backups\.databases\[0\]\.jobs: parallel jobs need format: "directory"/,
    );
    expect(parse({ databases: [{ name: 'a', secret: 's', verify: 'restore' }] })).toThrow(
      /backups\.databases\[0\]\.scratch: verify: "restore" restores into a scratch database/,
    );
    expect(
      parse({
        databases: [{ name: 'a', secret: 's', database: 'x', verify: 'restore', scratch: { database: 'x' } }],
      }),
    ).toThrow(/scratch\.database: the scratch database is the source database 'x'/);
    expect(parse({ databases: [{ name: 'a', secret: 's', compression: 'brotli' }] })).toThrow(
      /compression: use pg_dump's --compress syntax/,
    );
    expect(parse({ retention: { days: 7, transitionAfterDays: 10 } })).toThrow(
      /retention\.transitionAfterDays: transition before the backups expire/,
    );
    expect(parse({ objectLock: { mode: 'compliance', days: 90 }, retention: { days: 30 } })).toThrow(
      /objectLock\.days: locked backups cannot expire/,
    );
    expect(
      parse({
        databases: [
          { name: 'a', secret: 's' },
          { name: 'a', secret: 't' },
        ],
      }),
    ).toThrow(/databases\[1\]\.name: 'a' is used twice/);
    expect(() =>
      parseConfig({ ...base, probes: { targets: [{ name: 'b', kind: 'backup', database: 'nope' }] } }),
    ).toThrow(/probes\.targets\[0\]\.database: 'nope' is not in backups\.databases/);
  });

  it('sizes parts so 10,000 of them cover four times the database', () => {
    expect(partSizeFor(0)).toBe(8 * 1024 * 1024);
    expect(partSizeFor(100 * 2 ** 30) * 10_000).toBeGreaterThanOrEqual(400 * 2 ** 30);
    expect(() => partSizeFor(20 * 2 ** 40)).toThrow(/too large for one S3 object/);
  });
});

describe('Backups: the Fargate runner', () => {
  // ECS has no local stand-in here: the RunTask call is checked as the SDK would send it.
  const runner = {
    clusterArn: 'arn:aws:ecs:eu-west-1:123456789012:cluster/backups',
    taskDefinitionArn: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/backup:3',
    containerName: 'backup',
    subnets: ['subnet-0a000000', 'subnet-0b000000'],
    securityGroups: ['sg-0c000000'],
  };
  const config = parseConfig({
    service: 'svc',
    aws: { region: 'eu-west-1', drRegion: 'eu-central-1' },
    backups: {
      vpc: {
        vpcId: 'vpc-0123abcd',
        availabilityZones: ['eu-west-1a'],
        privateSubnetIds: ['subnet-0a000000'],
        securityGroupIds: ['sg-0c000000'],
      },
      databases: [{ name: 'big', secret: 'big-db', runner: 'fargate' }],
    },
  });
  const unused = new Proxy(
    {},
    { get: () => () => Promise.reject(new Error('not used by the Fargate hand-off')) },
  );

  it('hands a fargate database to an ECS task with the request, in private subnets, and records it', async () => {
    const { mockClient } = await import('aws-sdk-client-mock');
    const { ECSClient, RunTaskCommand } = await import('@aws-sdk/client-ecs');
    const { createBackupAction } = await import('../functions/backup/backup-database.ts');
    const { fargateStarter } = await import('../functions/backup/fargate-task.ts');
    const ecs = mockClient(ECSClient);
    ecs
      .on(RunTaskCommand)
      .resolves({ tasks: [{ taskArn: 'arn:aws:ecs:eu-west-1:123456789012:task/backups/abc' }] });
    const perform = createBackupAction({
      config,
      s3: unused as never,
      bucket: 'bucket',
      catalog: unused as never,
      secrets: unused as never,
      clock: { now: () => new Date('2026-11-23T03:00:00Z') },
      log: { debug() {}, info() {}, warn() {}, error() {} },
      startTask: fargateStarter(new ECSClient({ region: 'eu-west-1' }), runner),
    });
    const outcome = await perform(backupRequest('big'));
    expect(outcome).toMatchObject({ status: 'recorded', subject: 'big' });
    expect(outcome.summary).toBe(
      'backup of big started as Fargate task arn:aws:ecs:eu-west-1:123456789012:task/backups/abc',
    );
    const input = ecs.commandCalls(RunTaskCommand)[0]?.args[0].input;
    expect(input).toMatchObject({
      cluster: runner.clusterArn,
      taskDefinition: runner.taskDefinitionArn,
      launchType: 'FARGATE',
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: runner.subnets,
          securityGroups: runner.securityGroups,
          assignPublicIp: 'DISABLED',
        },
      },
    });
    const env = input?.overrides?.containerOverrides?.[0];
    expect(env?.name).toBe('backup');
    const request = JSON.parse(env?.environment?.[0]?.value ?? '{}');
    expect(env?.environment?.[0]?.name).toBe('BACKUP_REQUEST');
    expect(request).toMatchObject({ kind: 'backup', params: { database: 'big' } });

    // RunTask that starts nothing (capacity, a bad subnet) is an error, so the request is retried.
    ecs.on(RunTaskCommand).resolves({ tasks: [], failures: [{ reason: 'RESOURCE:CPU' }] });
    await expect(perform(backupRequest('big'))).rejects.toThrow(/RunTask started no task: RESOURCE:CPU/);
    ecs.restore();
  });
});
