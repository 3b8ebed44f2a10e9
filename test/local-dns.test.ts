import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as packet from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { probeTarget } from '../functions/probe/probe-targets.ts';
import exampleConfig from '../responder.config.ts';
import { probeTargetSchema } from '../src/config/probe-targets.ts';
import { parseConfig, type ResponderConfig } from '../src/config/schema.ts';
import { systemClock } from '../src/ports.ts';
import { runCli } from './support/cli.ts';
import { startTestRuntime, TEST_TOKEN, type TestRuntime, testConfig } from './support/runtime.ts';

const RECORD = 'api.payments.test';

/** A config with a failover section for the demo zone, its DNS listener on a free port. */
function failoverConfig(
  mode: 'switch' | 'records',
  local: Record<string, unknown> = {},
  record: Record<string, unknown> = {},
): ResponderConfig {
  return testConfig({
    probes: {
      targets: [
        { name: 'api-health', kind: 'http', url: 'http://127.0.0.1:9/api/v1/health' },
        { name: 'dr-site-health', kind: 'http', url: 'http://127.0.0.1:9/api/v1/health' },
      ],
    },
    failover: {
      mode,
      hostedZoneId: 'Z0PAYMENTSTEST',
      zoneName: 'payments.test',
      record: { name: RECORD, type: 'A', ttl: 17, ...record },
      primary: { record: { values: ['127.0.0.1'] }, targets: ['api-health'] },
      dr: { record: { values: ['127.0.0.2'] }, targets: ['dr-site-health'] },
    },
    local: { dnsPort: 0, ...local },
  });
}

function resolverFor(rt: TestRuntime) {
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([String(rt.runtime.dns?.address)]);
  return resolver;
}

/** One query over UDP, the answer decoded (undefined when nothing came back in time). */
async function ask(
  address: string,
  name: string,
  type: packet.RecordType = 'A',
  raw?: Buffer,
  waitMs = 2000,
): Promise<packet.DecodedPacket | undefined> {
  const [host, port] = address.split(':');
  const socket = createSocket('udp4');
  try {
    return await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), waitMs);
      socket.on('message', (message) => {
        clearTimeout(timer);
        resolve(packet.decode(message));
      });
      const query =
        raw ??
        packet.encode({
          type: 'query',
          id: 4242,
          flags: packet.RECURSION_DESIRED,
          questions: [{ type, name, class: 'IN' }],
        });
      socket.send(query, Number(port), host);
    });
  } finally {
    socket.close();
  }
}

const rcodeOf = (response: packet.DecodedPacket | undefined) => (response as { rcode?: string })?.rcode;

describe('Local DNS listener: switch mode', () => {
  let rt: TestRuntime;
  beforeAll(async () => {
    rt = await startTestRuntime({ config: failoverConfig('switch') });
  });
  afterAll(() => rt.stop());

  it('listens on 127.0.0.1 on a free port (local.dnsPort: 0)', () => {
    expect(rt.runtime.dns?.host).toBe('127.0.0.1');
    expect(rt.runtime.dnsPort).toBeGreaterThan(0);
    expect(rt.runtime.dns?.address).toBe(`127.0.0.1:${rt.runtime.dnsPort}`);
  });

  it("answers the switch's site, authoritatively, with the configured TTL, and follows a flip", async () => {
    const resolver = resolverFor(rt);
    expect(await resolver.resolve4(RECORD)).toEqual(['127.0.0.1']);
    const direct = await ask(String(rt.runtime.dns?.address), RECORD);
    expect(direct).toMatchObject({ id: 4242, flag_qr: true, flag_aa: true, flag_rd: true });
    expect(rcodeOf(direct)).toBe('NOERROR');
    expect(direct?.answers).toEqual([
      expect.objectContaining({ name: RECORD, type: 'A', ttl: 17, data: '127.0.0.1' }),
    ]);

    const store = rt.runtime.failoverStore;
    expect(await store.saveFailoverState({ active: 'dr', version: 0 }, 0)).toBe(true);
    expect(await resolver.resolve4(RECORD)).toEqual(['127.0.0.2']);
    // Names are case-insensitive; the answer keeps the question's spelling.
    const upper = await ask(String(rt.runtime.dns?.address), 'API.Payments.TEST');
    expect(upper?.answers?.[0]).toMatchObject({ name: 'API.Payments.TEST', data: '127.0.0.2' });

    // Failback.
    expect(await store.saveFailoverState({ active: 'primary', version: 1 }, 1)).toBe(true);
    expect(await resolver.resolve4(RECORD)).toEqual(['127.0.0.1']);
  });

  it('answers NXDOMAIN for other names in the zone, REFUSED outside it, NODATA for another type', async () => {
    const resolver = resolverFor(rt);
    await expect(resolver.resolve4('nope.payments.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(resolver.resolve4('example.com')).rejects.toMatchObject({ code: 'EREFUSED' });
    await expect(resolver.resolve4('payments.test.evil.example')).rejects.toMatchObject({
      code: 'EREFUSED',
    });
    const address = String(rt.runtime.dns?.address);
    const missing = await ask(address, 'nope.payments.test');
    expect(rcodeOf(missing)).toBe('NXDOMAIN');
    expect(missing?.flag_aa).toBe(true);
    expect(missing?.authorities?.[0]).toMatchObject({ type: 'SOA', name: 'payments.test' });
    const aaaa = await ask(address, RECORD, 'AAAA');
    expect(rcodeOf(aaaa)).toBe('NOERROR');
    expect(aaaa?.answers).toEqual([]);
    const soa = await ask(address, 'payments.test', 'SOA');
    expect(soa?.answers?.[0]).toMatchObject({ type: 'SOA' });
  });

  it('answers over TCP too', async () => {
    const [host, port] = String(rt.runtime.dns?.address).split(':');
    const socket = connect(Number(port), host);
    const query = packet.streamEncode({
      type: 'query',
      id: 7,
      questions: [{ type: 'A', name: RECORD, class: 'IN' }],
    });
    const response = await new Promise<Buffer>((resolve, reject) => {
      let got = Buffer.alloc(0);
      socket.on('data', (chunk) => {
        got = Buffer.concat([got, chunk]);
        if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) resolve(got);
      });
      socket.on('error', reject);
      socket.write(query);
    });
    socket.destroy();
    const decoded = packet.decode(response.subarray(2));
    expect(decoded).toMatchObject({ id: 7, flag_aa: true });
    expect(decoded.answers?.[0]).toMatchObject({ type: 'A', data: '127.0.0.1' });
  });

  it('survives malformed packets (random, truncated, huge, responses, bad TCP frames) and keeps answering', async () => {
    const address = String(rt.runtime.dns?.address);
    const [host, port] = address.split(':');
    const valid = packet.encode({ type: 'query', id: 1, questions: [{ type: 'A', name: RECORD }] });
    const hostile: Buffer[] = [
      Buffer.alloc(0),
      Buffer.from([1, 2, 3]),
      valid.subarray(0, 12),
      valid.subarray(0, valid.length - 3),
      randomBytes(60_000),
      // A response is never answered (no loops between servers).
      packet.encode({ type: 'response', id: 2, questions: [{ type: 'A', name: RECORD }] }),
      // A name whose compression pointer points at itself.
      Buffer.concat([valid.subarray(0, 12), Buffer.from([0xc0, 12, 0, 1, 0, 1])]),
      // Header claims 65535 questions.
      Buffer.concat([Buffer.from([0, 3, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0]), valid.subarray(12)]),
      ...Array.from({ length: 200 }, () => randomBytes(1 + Math.floor(Math.random() * 600))),
    ];
    const socket = createSocket('udp4');
    await Promise.all(
      hostile.map(
        (message) =>
          new Promise<void>((resolve) => socket.send(message, Number(port), host, () => resolve())),
      ),
    );
    socket.close();
    // Over TCP: a frame length past any query, a short frame, a connection that closes mid-frame.
    for (const bytes of [
      Buffer.from([0xff, 0xff, 1, 2, 3]),
      Buffer.from([0, 4, 1, 2, 3, 4]),
      Buffer.from([0, 40, 1]),
    ]) {
      await new Promise<void>((resolve) => {
        const tcp = connect(Number(port), host, () => {
          tcp.write(bytes);
          setTimeout(() => {
            tcp.destroy();
            resolve();
          }, 20);
        });
        tcp.on('error', () => resolve());
      });
    }
    // Two questions: a format error, answered, not a crash.
    const two = await ask(
      address,
      RECORD,
      'A',
      packet.encode({
        type: 'query',
        id: 3,
        questions: [
          { type: 'A', name: RECORD },
          { type: 'A', name: RECORD },
        ],
      }),
    );
    expect(rcodeOf(two)).toBe('FORMERR');
    // A truncated query gets no answer at all: it is dropped.
    expect(await ask(address, RECORD, 'A', valid.subarray(0, valid.length - 3), 300)).toBeUndefined();
    expect(await resolverFor(rt).resolve4(RECORD)).toEqual(['127.0.0.1']);
  });

  it('answers the dns probe asked through it (`server`), and the probe sees the switch', async () => {
    const server = String(rt.runtime.dns?.address);
    const probe = (input: Record<string, unknown>) =>
      probeTarget(
        probeTargetSchema.parse({
          name: 'api-dns',
          kind: 'dns',
          hostname: RECORD,
          server,
          timeoutMs: 2000,
          ...input,
        }),
        { secrets: { getSecretString: async () => '' }, clock: systemClock },
      );
    expect(await probe({ expect: '127.0.0.1' })).toMatchObject({
      ok: true,
      detail: `${RECORD} resolves to 127.0.0.1 via ${server}`,
    });
    const state = await rt.runtime.failoverStore.getFailoverState();
    await rt.runtime.failoverStore.saveFailoverState({ ...state, active: 'dr' }, state.version);
    expect(await probe({ expect: '127.0.0.2' })).toMatchObject({ ok: true });
    expect(await probe({ expect: '127.0.0.1' })).toMatchObject({ ok: false });
    const missing = await probe({ hostname: 'nope.payments.test' });
    expect(missing.ok).toBe(false);
    expect(missing.detail).toMatch(/does not resolve/);
    await rt.runtime.failoverStore.saveFailoverState({ ...state, active: 'primary' }, state.version + 1);
  });

  it('has no demo routes without the demo environment: 404', async () => {
    expect((await rt.post('/api/demo/sites/primary', { healthy: false })).status).toBe(404);
  });
});

describe('Local DNS listener: records mode', () => {
  it("answers the zone's record, seeded with the primary's; an upsert changes it; a restart keeps it", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'responder-dns-'));
    try {
      const config = failoverConfig('records');
      let rt = await startTestRuntime({ config, dataDir });
      try {
        expect(await rt.runtime.dnsZone.getRecord(RECORD, 'A')).toMatchObject({
          values: ['127.0.0.1'],
          ttl: 17,
        });
        expect(await resolverFor(rt).resolve4(RECORD)).toEqual(['127.0.0.1']);
        await rt.runtime.dnsZone.upsertRecord({ name: RECORD, type: 'A', ttl: 17, values: ['127.0.0.2'] });
        expect(await resolverFor(rt).resolve4(RECORD)).toEqual(['127.0.0.2']);
        // Other records in the local zone are served too; other names are NXDOMAIN.
        await rt.runtime.dnsZone.upsertRecord({
          name: 'www.payments.test',
          type: 'CNAME',
          ttl: 30,
          values: [RECORD],
        });
        expect(await resolverFor(rt).resolveCname('www.payments.test')).toEqual([RECORD]);
        await expect(resolverFor(rt).resolve4('nope.payments.test')).rejects.toMatchObject({
          code: 'ENOTFOUND',
        });

        // An answer too large for UDP: truncated (TC, no records), whole over TCP.
        const many = Array.from({ length: 60 }, (_, n) => `10.0.${Math.floor(n / 250)}.${n % 250}`);
        await rt.runtime.dnsZone.upsertRecord({
          name: 'many.payments.test',
          type: 'A',
          ttl: 5,
          values: many,
        });
        const udp = await ask(String(rt.runtime.dns?.address), 'many.payments.test');
        expect(udp).toMatchObject({ flag_tc: true, answers: [] });
        const tcpResolver = resolverFor(rt);
        expect((await tcpResolver.resolve4('many.payments.test')).sort()).toEqual([...many].sort());
      } finally {
        await rt.stop();
      }
      // A restart must not fail back: the failed-over record stays.
      rt = await startTestRuntime({ config, dataDir });
      try {
        expect(await resolverFor(rt).resolve4(RECORD)).toEqual(['127.0.0.2']);
      } finally {
        await rt.stop();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('answers an alias target as a CNAME (Route 53 resolves aliases itself; the local zone cannot)', async () => {
    const config = testConfig({
      probes: {
        targets: [
          { name: 'a', kind: 'tcp', host: '127.0.0.1', port: 9 },
          { name: 'b', kind: 'tcp', host: '127.0.0.1', port: 9 },
        ],
      },
      failover: {
        mode: 'switch',
        hostedZoneId: 'Z0PAYMENTSTEST',
        zoneName: 'payments.test',
        record: { name: RECORD, type: 'A', ttl: 60 },
        primary: {
          record: {
            alias: { dnsName: 'primary-alb.eu-west-1.elb.amazonaws.com', hostedZoneId: 'Z32O12XQLNTSW2' },
          },
          targets: ['a'],
        },
        dr: { record: { values: ['127.0.0.2'] }, targets: ['b'] },
      },
      local: { dnsPort: 0 },
    });
    const rt = await startTestRuntime({ config });
    try {
      const answer = await ask(String(rt.runtime.dns?.address), RECORD, 'A');
      expect(answer?.answers).toEqual([
        expect.objectContaining({ type: 'CNAME', data: 'primary-alb.eu-west-1.elb.amazonaws.com', ttl: 60 }),
      ]);
    } finally {
      await rt.stop();
    }
  });
});

describe('Demo environment: failing and recovering the primary site', () => {
  let rt: TestRuntime;
  beforeAll(async () => {
    rt = await startTestRuntime({
      config: failoverConfig('switch', { demoEnvironment: true }),
      demo: { ports: { primary: 0, dr: 0 }, postgres: false },
    });
  });
  afterAll(() => rt.stop());

  const health = async (site: 'primary' | 'dr', path = '/api/v1/health') =>
    (await fetch(`${rt.runtime.demo?.sites()[site].url}${path}`)).status;

  it('makes the primary answer 503 on its health endpoints, and recovers it', async () => {
    expect(await health('primary')).toBe(200);
    const failed = await rt.post('/api/demo/sites/primary', { healthy: false });
    expect(failed).toMatchObject({ status: 200, body: { site: 'primary', healthy: false } });
    expect(await health('primary')).toBe(503);
    expect(await health('primary', '/api/v1/readiness')).toBe(503);
    expect(await health('dr')).toBe(200);
    expect((await rt.get('/api/demo/sites')).body.sites).toMatchObject({
      primary: { healthy: false },
      dr: { healthy: true },
    });
    const recovered = await rt.post('/api/demo/sites/primary', { healthy: true });
    expect(recovered).toMatchObject({ status: 200, body: { healthy: true } });
    expect(await health('primary')).toBe(200);
  });

  it('is refused without the token, and refuses a bad body or method', async () => {
    const anonymous = await rt.post('/api/demo/sites/primary', { healthy: false }, { authorization: '' });
    expect(anonymous.status).toBe(401);
    const wrong = await rt.post(
      '/api/demo/sites/primary',
      { healthy: false },
      { authorization: 'Bearer nope' },
    );
    expect(wrong.status).toBe(401);
    expect(await health('primary')).toBe(200);
    expect((await rt.post('/api/demo/sites/primary', { healthy: 'no' })).status).toBe(400);
    expect(
      (await rt.post('/api/demo/sites/primary', 'healthy=false', { 'content-type': 'text/plain' })).status,
    ).toBe(415);
    expect((await rt.get('/api/demo/sites/primary')).status).toBe(405);
    expect((await rt.post('/api/demo/sites/elsewhere', { healthy: false })).status).toBe(404);
  });

  it('is what `responder demo fail|recover primary` calls', async () => {
    const run = async (args: string[]) => {
      const { code, stdout, stderr } = await runCli(args);
      return { code, out: stdout + stderr };
    };
    vi.stubEnv('RESPONDER_URL', rt.runtime.url);
    vi.stubEnv('RESPONDER_WEBHOOK_TOKEN', TEST_TOKEN);
    try {
      const failed = await run(['demo', 'fail', 'primary']);
      expect(failed).toMatchObject({ code: 0, out: expect.stringMatching(/primary +FAILED/) });
      expect(await health('primary')).toBe(503);
      expect((await run(['demo'])).out).toMatch(/primary +FAILED[\s\S]*dr +healthy/);
      expect((await run(['demo', 'recover', 'primary'])).code).toBe(0);
      expect(await health('primary')).toBe(200);
      expect((await run(['demo', 'fail'])).code).toBe(2);
      expect((await run(['demo', 'break', 'primary'])).code).toBe(2);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe('The example config', () => {
  it('fails the demo zone over between 127.0.0.1 and 127.0.0.2, its dns probe asking the listener', () => {
    const config = parseConfig(exampleConfig);
    expect(config.failover).toMatchObject({
      mode: 'switch',
      zoneName: 'payments.test',
      record: { name: 'api.payments.test', type: 'A' },
      primary: { record: { values: ['127.0.0.1'] }, targets: ['api-health', 'api-readiness'] },
      dr: { record: { values: ['127.0.0.2'] }, targets: ['dr-site-health'] },
      policy: { alert: 'approve', operator: 'auto' },
    });
    const probe = config.probes.targets.find((target) => target.name === 'api-dns');
    expect(probe).toMatchObject({
      kind: 'dns',
      hostname: 'api.payments.test',
      server: `127.0.0.1:${config.local.dnsPort}`,
    });
  });
});
