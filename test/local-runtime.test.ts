import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startLocalRuntime } from '../src/local/runtime.ts';
import { silentLog } from '../src/ports.ts';
import { loadEvent, startTestRuntime, testConfig } from './support/runtime.ts';

describe('Local runtime', () => {
  it('keeps incidents across a restart on the same data folder', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'responder-restart-'));
    try {
      const first = await startTestRuntime({ dataDir });
      const opened = await first.post('/alertmanager', loadEvent('firing.json'));
      await first.stop();
      const second = await startTestRuntime({ dataDir });
      const list = await second.get('/api/incidents');
      const duplicate = await second.post('/alertmanager', loadEvent('firing.json'));
      await second.stop();
      expect(list.body.incidents.map((incident: { id: string }) => incident.id)).toEqual([
        opened.body.incident.id,
      ]);
      expect(duplicate.status).toBe(200); // the dedupe key survived too
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses a second runtime on a data folder in use, with what to do', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'responder-twice-'));
    const first = await startTestRuntime({ dataDir });
    try {
      await expect(startTestRuntime({ dataDir })).rejects.toThrow(
        /another responder \(pid \d+\) is using .*: stop it, or set RESPONDER_DATA_DIR/,
      );
      expect((await first.get('/healthz')).status).toBe(200);
    } finally {
      await first.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('says which port is taken, and leaves nothing running', async () => {
    // GIVEN a port held by something else
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const dataDir = await mkdtemp(join(tmpdir(), 'responder-port-'));
    try {
      // WHEN / THEN
      await expect(
        startLocalRuntime({
          config: testConfig(),
          log: silentLog,
          port,
          dataDir,
          timers: false,
          token: 'x'.repeat(20),
        }),
      ).rejects.toThrow(`port ${port} on 127.0.0.1 is in use`);
      // the data folder is free again: a runtime on another port starts
      const next = await startTestRuntime({ dataDir });
      await next.stop();
    } finally {
      blocker.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
