import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StateStore } from '../src/ports.ts';
import { deferred } from './support/async.ts';
import { waitFor } from './support/processes.ts';
import { loadEvent, startTestRuntime, TEST_TOKEN, type TestRuntime } from './support/runtime.ts';

/** Sends raw bytes and collects everything the server writes until it closes the connection. */
function rawExchange(url: string, bytes: string, giveUpMs = 10_000) {
  const { hostname, port } = new URL(url);
  return new Promise<{ text: string; closedAfterMs: number }>((resolve, reject) => {
    const started = Date.now();
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    // A deadline, not a wait: the exchange ends when the server closes the connection.
    const deadline = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(`the server kept the connection open for ${giveUpMs} ms; got: ${JSON.stringify(text)}`),
      );
    }, giveUpMs);
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(deadline);
      resolve({ text, closedAfterMs: Date.now() - started });
    });
  });
}

describe('Local HTTP server', () => {
  let t: TestRuntime;
  beforeAll(async () => {
    t = await startTestRuntime({ httpTimeouts: { headersMs: 300, requestMs: 600 } });
  });
  afterAll(async () => {
    await t.stop();
  });

  it.each([
    ['GET //', 'GET // HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
    ['GET /\\', 'GET /\\ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
    [
      'GET //evil.example/healthz',
      'GET //evil.example/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    ],
  ])('answers %s over HTTP and keeps running', async (_name, request) => {
    // WHEN
    const { text } = await rawExchange(t.runtime.url, request);
    // THEN an HTTP answer, and the server still serves the next request
    expect(text).toMatch(/^HTTP\/1\.1 [1-5]\d\d /);
    expect((await t.get('/healthz')).status).toBe(200);
  });

  it('answers 400 to a request target that is not a path', async () => {
    const { text } = await rawExchange(
      t.runtime.url,
      'GET http:// HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect((await t.get('/healthz')).status).toBe(200);
  });

  it('answers 405 to CONNECT instead of dropping the connection', async () => {
    const { text } = await rawExchange(
      t.runtime.url,
      'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n',
    );
    expect(text).toMatch(/^HTTP\/1\.1 405 /);
    expect((await t.get('/healthz')).status).toBe(200);
  });

  it('cuts off a client that sends half a header', async () => {
    // WHEN a client sends a request line and one header, then nothing more
    const { text, closedAfterMs } = await rawExchange(t.runtime.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n');
    // THEN the server answers 408 and closes, well before Node's 60 s default
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(closedAfterMs).toBeLessThan(8_000);
  });

  it('cuts off a client that sends its body too slowly', async () => {
    const { closedAfterMs } = await rawExchange(
      t.runtime.url,
      `POST /alertmanager HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"vers`,
    );
    expect(closedAfterMs).toBeLessThan(8_000);
  });
});

/**
 * Holds each delivery at its claim until `release()`, so requests are still being handled when stop()
 * is called; `claimed` resolves once `expected` deliveries are held there.
 */
function heldAtClaim(store: StateStore, expected: number, hold: Promise<void>, claimed: () => void) {
  let held = 0;
  return new Proxy(store, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (name !== 'claimDelivery' || typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        held += 1;
        if (held === expected) claimed();
        await hold;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

describe('Local runtime: stop()', () => {
  it('lets deliveries in flight finish and answer before it closes the store', async () => {
    // GIVEN three distinct deliveries being handled, each held at its claim
    const dataDir = await mkdtemp(join(tmpdir(), 'responder-drain-'));
    try {
      const claimed = deferred();
      const release = deferred();
      const first = await startTestRuntime({
        dataDir,
        wrapStore: (store) => heldAtClaim(store, 3, release.promise, claimed.resolve),
      });
      const deliveries = ['a', 'b', 'c'].map((suffix, index) => {
        const event = loadEvent('firing.json');
        event.groupKey = `{}:{alertname="Drain-${suffix}"}`;
        event.groupLabels = { alertname: `Drain-${suffix}` };
        event.commonLabels = { ...(event.commonLabels as object), alertname: `Drain-${suffix}` };
        for (const alert of event.alerts) {
          alert.labels = { ...(alert.labels as object), alertname: `Drain-${suffix}` };
          alert.fingerprint = `d${index}`.padEnd(16, '0');
        }
        return first.post('/alertmanager', event);
      });
      // each delivery has reached the store: all three are being handled
      await claimed.promise;

      // WHEN the runtime is stopped while they are in flight, and they go on once it has stopped
      // taking connections (so the rest of their work, every store call, happens during stop())
      const stopping = first.runtime.stop();
      await waitFor('the server to stop taking connections', async () =>
        fetch(`${first.runtime.url}/healthz`).then(
          () => false,
          () => true,
        ),
      );
      release.resolve();
      await stopping;
      const answers = await Promise.all(deliveries);

      // THEN every client got its answer, and every incident is in the store after a restart
      expect(answers.map((answer) => answer.status)).toEqual([202, 202, 202]);
      const second = await startTestRuntime({ dataDir });
      const list = await second.get('/api/incidents');
      await second.stop();
      expect(list.body.incidents.map((incident: { id: string }) => incident.id).sort()).toEqual(
        answers.map((answer) => answer.body.incident.id).sort(),
      );
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('stops waiting for a request that does not finish within drainMs', async () => {
    // GIVEN a delivery stuck on a store call that never returns
    const stuck = deferred();
    const release = deferred();
    const t = await startTestRuntime({
      drainMs: 300,
      wrapStore: (store) => heldAtClaim(store, 1, release.promise, stuck.resolve),
    });
    const delivery = t.post('/alertmanager', loadEvent('firing.json')).then(
      (answer) => answer.status,
      () => 'connection closed',
    );
    await stuck.promise;
    // WHEN
    const started = Date.now();
    await t.stop();
    // THEN stop() returned after about drainMs, and the client saw its connection close (it retries)
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await delivery).toBe('connection closed');
    release.resolve();
  });
});
