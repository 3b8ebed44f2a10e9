import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeAll, probeTarget } from '../functions/probe/probe-targets.ts';
import { type ProbeTarget, probeTargetSchema } from '../src/config/probe-targets.ts';
import type { SecretStore } from '../src/ports.ts';
import { systemClock } from '../src/ports.ts';
import { createCertificateAuthority, daysFromNow } from './support/certificates.ts';
import { type PostgresServer, startPostgres } from './support/postgres.ts';
import { freePort, waitFor } from './support/processes.ts';
import { type RedisServer, startRedis } from './support/redis.ts';

/** Secrets as Secrets Manager would hold them; the probe only sees the SecretStore port. */
const secretValues = new Map<string, string>();
const secrets: SecretStore = {
  async getSecretString(id) {
    const value = secretValues.get(id);
    if (value === undefined) throw new Error(`cannot read secret ${id} (ResourceNotFoundException)`);
    return value;
  },
};
const deps = { secrets, clock: systemClock };
const target = (input: Record<string, unknown>): ProbeTarget =>
  probeTargetSchema.parse({ timeoutMs: 1000, ...input });
const listen = async (server: Server | ReturnType<typeof createTlsServer>) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};

describe('Probe: http', () => {
  let hanging = 0;
  let released = 0;
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createHttpServer((req, res) => {
      if (req.url === '/health')
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end('{"status":"ok","checks":{"db":"up"}}');
      else if (req.url === '/degraded') res.writeHead(200).end('{"status":"degraded"}');
      else if (req.url === '/broken') res.writeHead(500).end('internal error');
      else if (req.url === '/token') res.writeHead(req.headers['x-api-key'] === 'k3y' ? 200 : 401).end();
      else if (req.url === '/hang') {
        hanging += 1;
        req.socket.once('close', () => {
          released += 1;
        });
        return; // never answers
      } else res.writeHead(404).end();
    });
    base = `http://127.0.0.1:${await listen(server)}`;
    secretValues.set('payments/api-key', JSON.stringify({ apiKey: 'k3y' }));
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('passes on 200 with the expected JSON field', async () => {
    const result = await probeTarget(
      target({ name: 'api', kind: 'http', url: `${base}/health`, body: { json: 'status', equals: 'ok' } }),
      deps,
    );
    expect(result).toMatchObject({ target: 'api', kind: 'http', ok: true, observed: { status: 200 } });
    expect(result.latencyMs).toBeGreaterThan(0);
  });

  it('fails on 500', async () => {
    const result = await probeTarget(target({ name: 'api', kind: 'http', url: `${base}/broken` }), deps);
    expect(result).toMatchObject({ ok: false, observed: { status: 500 } });
    expect(result.detail).toMatch(/answered 500, expected 200-299/);
  });

  it('fails on a body mismatch (JSON field and substring)', async () => {
    const json = await probeTarget(
      target({ name: 'api', kind: 'http', url: `${base}/degraded`, body: { json: 'status', equals: 'ok' } }),
      deps,
    );
    const text = await probeTarget(
      target({ name: 'api', kind: 'http', url: `${base}/health`, body: { contains: '"db":"down"' } }),
      deps,
    );
    expect(json.ok).toBe(false);
    expect(json.detail).toMatch(/status is "degraded" .* expected "ok"/);
    expect(text.ok).toBe(false);
  });

  it('fails a target slower than its timeout, and lets go of its connection', async () => {
    const result = await probeTarget(
      target({ name: 'api', kind: 'http', url: `${base}/hang`, timeoutMs: 300 }),
      deps,
    );
    expect(result.ok).toBe(false);
    expect(result.detail).toBe('no answer within 300 ms');
    expect(result.latencyMs).toBeGreaterThanOrEqual(299);
    await waitFor('the probe to close its connection', async () => released > 0, 2_000, 5);
    expect(hanging).toBe(1);
    expect(released).toBe(1);
  });

  it('fails when the connection is refused', async () => {
    const port = await freePort();
    const result = await probeTarget(
      target({ name: 'api', kind: 'http', url: `http://127.0.0.1:${port}/health` }),
      deps,
    );
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/ECONNREFUSED/);
  });

  it('takes header values from a secret, and accepts a status set', async () => {
    const withKey = await probeTarget(
      target({
        name: 'api',
        kind: 'http',
        url: `${base}/token`,
        headers: { 'x-api-key': { secret: 'payments/api-key', key: 'apiKey' } },
      }),
      deps,
    );
    const without = await probeTarget(
      target({ name: 'api', kind: 'http', url: `${base}/token`, expectStatus: [200, 204] }),
      deps,
    );
    expect(withKey.ok).toBe(true);
    expect(without).toMatchObject({ ok: false, observed: { status: 401 } });
  });
});

describe('Probe: tcp and dns', () => {
  it('connects to an open port and fails on a closed one', async () => {
    const server = createHttpServer();
    const port = await listen(server);
    const open = await probeTarget(target({ name: 'port', kind: 'tcp', host: '127.0.0.1', port }), deps);
    server.close();
    const closed = await probeTarget(
      target({ name: 'port', kind: 'tcp', host: '127.0.0.1', port: await freePort() }),
      deps,
    );
    expect(open.ok).toBe(true);
    expect(closed.ok).toBe(false);
    expect(closed.detail).toMatch(/ECONNREFUSED/);
  });

  it("checks the dns probe's server: an address or host name, with an optional port", () => {
    for (const server of ['127.0.0.1:15353', '127.0.0.1', '[::1]:53', '::1', 'ns-1.awsdns-01.org']) {
      expect(target({ name: 'dns', kind: 'dns', hostname: 'a.example', server }).kind).toBe('dns');
    }
    for (const server of ['127.0.0.1:0', '127.0.0.1:70000', 'http://127.0.0.1', '', 'a b']) {
      expect(() => target({ name: 'dns', kind: 'dns', hostname: 'a.example', server })).toThrow(/server/);
    }
  });

  it('resolves localhost, and checks the expected answer', async () => {
    const ok = await probeTarget(
      target({ name: 'dns', kind: 'dns', hostname: 'localhost', expect: '127.0.0.1' }),
      deps,
    );
    const wrong = await probeTarget(
      target({ name: 'dns', kind: 'dns', hostname: 'localhost', expect: '10.9.9.9' }),
      deps,
    );
    expect(ok).toMatchObject({ ok: true, observed: { answers: expect.stringContaining('127.0.0.1') } });
    expect(wrong.ok).toBe(false);
    expect(wrong.detail).toMatch(/expected 10\.9\.9\.9/);
  });
});

describe('Probe: tls', () => {
  const ca = createCertificateAuthority();
  const servers: Array<ReturnType<typeof createTlsServer>> = [];
  const ports: Record<string, number> = {};
  beforeAll(async () => {
    const certs = {
      valid: ca.issue({
        names: ['localhost', '127.0.0.1'],
        notBefore: daysFromNow(-1),
        notAfter: daysFromNow(90),
      }),
      warning: ca.issue({ names: ['localhost'], notBefore: daysFromNow(-1), notAfter: daysFromNow(5) }),
      expiring: ca.issue({ names: ['localhost'], notBefore: daysFromNow(-1), notAfter: daysFromNow(3) }),
      expired: ca.issue({ names: ['localhost'], notBefore: daysFromNow(-30), notAfter: daysFromNow(-1) }),
      wrongHost: ca.issue({
        names: ['db.other.example'],
        notBefore: daysFromNow(-1),
        notAfter: daysFromNow(90),
      }),
    };
    for (const [name, cert] of Object.entries(certs)) {
      const server = createTlsServer({ cert: cert.certPem, key: cert.keyPem }, (socket) => socket.end());
      servers.push(server);
      ports[name] = await listen(server);
    }
  });
  afterAll(() => {
    for (const server of servers) server.close();
  });
  const tls = (name: string, extra: Record<string, unknown> = {}) =>
    probeTarget(
      target({
        name: 'cert',
        kind: 'tls',
        host: '127.0.0.1',
        serverName: 'localhost',
        port: ports[name],
        caPem: ca.certPem,
        ...extra,
      }),
      deps,
    );

  it('passes a trusted certificate far from expiry, and reports the days left', async () => {
    const result = await tls('valid');
    expect(result.ok).toBe(true);
    expect(result.observed.daysToExpiry).toBeGreaterThan(89);
    expect(result.observed.warning).toBe(false);
  });

  it('warns 7 days ahead without failing', async () => {
    const result = await tls('warning');
    expect(result).toMatchObject({ ok: true, observed: { warning: true } });
    expect(result.detail).toMatch(/expires in 4\.\d days \(warning under 7\)/);
  });

  it('fails a certificate expiring in 3 days (critical)', async () => {
    const result = await tls('expiring');
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/expires in 2\.\d days \(critical under 3\)/);
  });

  it('fails an expired certificate', async () => {
    const result = await tls('expired');
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/expired 1(\.\d)? days ago/);
  });

  it('fails a certificate for another host', async () => {
    const result = await tls('wrongHost');
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/not valid for localhost/);
  });

  it('fails a chain it does not trust', async () => {
    const result = await tls('valid', { caPem: undefined });
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/chain is not trusted/);
  });
});

describe('Probe: postgres', () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgres();
    secretValues.set('payments/db', JSON.stringify({ username: server.user, password: server.password }));
    secretValues.set('payments/db-wrong', JSON.stringify({ username: server.user, password: 'not-it' }));
  });
  afterAll(() => server?.destroy());
  const postgres = (extra: Record<string, unknown> = {}) =>
    target({
      name: 'db',
      kind: 'postgres',
      host: server.host,
      port: server.port,
      secret: 'payments/db',
      ...extra,
    });

  it('passes a healthy server and observes connections and size', async () => {
    const result = await probeTarget(postgres(), deps);
    expect(result.ok).toBe(true);
    expect(result.observed).toMatchObject({ inRecovery: false, longRunningQueries: 0 });
    expect(result.observed.connections).toBeGreaterThanOrEqual(1);
    expect(result.observed.databaseSizeMb).toBeGreaterThan(1);
  });

  it('fails with a wrong password, naming the cause', async () => {
    const result = await probeTarget(postgres({ secret: 'payments/db-wrong' }), deps);
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/password authentication failed/);
  });

  it('fails when connections exceed the threshold', async () => {
    const held = await Promise.all(
      [1, 2, 3].map(async () => {
        const client = new pg.Client({ connectionString: server.connectionString });
        await client.connect();
        return client;
      }),
    );
    try {
      const result = await probeTarget(postgres({ thresholds: { maxConnections: 2 } }), deps);
      expect(result.ok).toBe(false);
      expect(result.detail).toMatch(/\d+ connections > 2/);
    } finally {
      await Promise.all(held.map((client) => client.end()));
    }
  });

  it('fails long-running queries over the threshold', async () => {
    const connect = async () => {
      const client = new pg.Client({ connectionString: server.connectionString });
      await client.connect();
      return client;
    };
    const [client, watcher] = await Promise.all([connect(), connect()]);
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const pid = rows[0]?.pid;
    // a query that runs until it is cancelled below
    const sleeping = client.query('SELECT pg_sleep(60)').catch((error: Error) => error);
    try {
      // PostgreSQL's clock times the query, not ours: wait until it sees it past the threshold
      await waitFor(
        'the query to run longer than 0.2 s',
        async () => {
          const seen = await watcher.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE pid = $1 AND state = 'active' AND now() - query_start > interval '0.2 seconds'`,
            [pid],
          );
          return seen.rows[0]?.n === 1;
        },
        5_000,
        20,
      );
      const result = await probeTarget(
        postgres({ timeoutMs: 2000, thresholds: { longRunningQuerySeconds: 0.2, maxLongRunningQueries: 0 } }),
        deps,
      );
      expect(result.ok).toBe(false);
      expect(result.detail).toMatch(/1 queries running longer than 0.2 s > 0/);
    } finally {
      await watcher.query('SELECT pg_cancel_backend($1)', [pid]);
      await sleeping;
      await Promise.all([client.end(), watcher.end()]);
    }
  });

  it('fails once the server is stopped during the run, and passes again after it restarts', async () => {
    expect((await probeTarget(postgres(), deps)).ok).toBe(true);
    server.stop();
    const down = await probeTarget(postgres(), deps);
    server.start();
    const back = await probeTarget(postgres(), deps);
    expect(down.ok).toBe(false);
    expect(down.detail).toMatch(/ECONNREFUSED|terminat|shut/i);
    expect(back.ok).toBe(true);
  });
});

describe('Probe: redis', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis({ password: 'redis-probe-password' });
    secretValues.set('payments/redis', JSON.stringify({ password: 'redis-probe-password' }));
  });
  afterAll(async () => {
    await server?.stop();
  });
  const redis = (extra: Record<string, unknown> = {}) =>
    target({
      name: 'cache',
      kind: 'redis',
      host: server.host,
      port: server.port,
      secret: 'payments/redis',
      ...extra,
    });

  it('passes PING after AUTH and observes memory and role', async () => {
    const result = await probeTarget(redis(), deps);
    expect(result).toMatchObject({ ok: true, observed: { role: 'master' } });
    expect(result.observed.usedMemoryMb).toBeGreaterThan(0);
  });

  it('fails without the password, and over a memory threshold', async () => {
    const noAuth = await probeTarget(redis({ secret: undefined }), deps);
    const tooBig = await probeTarget(redis({ thresholds: { maxUsedMemoryMb: 0.01 } }), deps);
    expect(noAuth.ok).toBe(false);
    expect(noAuth.detail).toMatch(/NOAUTH/);
    expect(tooBig.ok).toBe(false);
    expect(tooBig.detail).toMatch(/used memory .* MB > 0\.01 MB/);
  });

  it('fails once redis-server is stopped', async () => {
    const other = await startRedis();
    const up = await probeTarget(
      target({ name: 'cache', kind: 'redis', host: other.host, port: other.port }),
      deps,
    );
    await other.stop();
    const down = await probeTarget(
      target({ name: 'cache', kind: 'redis', host: other.host, port: other.port }),
      deps,
    );
    expect(up.ok).toBe(true);
    expect(down.ok).toBe(false);
    expect(down.detail).toMatch(/ECONNREFUSED/);
  });
});

describe('Fan-out', () => {
  it('probes every target at once under the bound, so hung ones wait only for their own timeout', async () => {
    // GIVEN 20 targets that hang and 20 that answer
    let inFlight = 0;
    let peak = 0;
    const hung = createHttpServer((req) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      req.socket.once('close', () => {
        inFlight -= 1;
      });
    });
    const fine = createHttpServer((_req, res) => res.writeHead(200).end('ok'));
    const hungPort = await listen(hung);
    const finePort = await listen(fine);
    const targets = Array.from({ length: 40 }, (_, i) =>
      target({
        name: `t${i}`,
        kind: 'http',
        url: `http://127.0.0.1:${i % 2 ? hungPort : finePort}/`,
        timeoutMs: 500,
      }),
    );
    // WHEN
    const results = await probeAll(targets, { ...deps, concurrency: 64 });
    hung.closeAllConnections();
    hung.close();
    fine.close();
    // THEN every hung target was waiting at the same time (none queued behind another)
    expect(peak).toBe(20);
    expect(results.map((r) => r.target)).toEqual(targets.map((t) => t.name));
    expect(results.filter((r) => r.ok)).toHaveLength(20);
    expect(results.filter((r) => !r.ok).every((r) => r.detail === 'no answer within 500 ms')).toBe(true);
  });

  it('keeps to the concurrency bound', async () => {
    let inFlight = 0;
    let peak = 0;
    const slow = createHttpServer((_req, res) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      // The slow answer is the load under test, not a wait: while answers are pending, an unbounded
      // pool would start all 12 requests; answering at once would never let more than one overlap.
      setTimeout(() => {
        inFlight -= 1;
        res.writeHead(200).end('ok');
      }, 50);
    });
    const port = await listen(slow);
    const targets = Array.from({ length: 12 }, (_, i) =>
      target({ name: `t${i}`, kind: 'http', url: `http://127.0.0.1:${port}/` }),
    );
    const results = await probeAll(targets, { ...deps, concurrency: 3 });
    slow.close();
    expect(results.every((r) => r.ok)).toBe(true);
    expect(peak).toBe(3);
  });
});
