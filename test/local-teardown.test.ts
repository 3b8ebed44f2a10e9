import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startLocalRuntime } from '../src/local/runtime.ts';
import { Teardown } from '../src/local/teardown.ts';
import { silentLog } from '../src/ports.ts';
import { testConfig } from './support/runtime.ts';

describe('Class: Teardown', () => {
  it('stops newest first, and a step that fails does not stop the rest', async () => {
    const stopped: string[] = [];
    const teardown = new Teardown();
    teardown.add('a', () => stopped.push('a'));
    teardown.add('b', () => {
      throw new Error('b is stuck');
    });
    teardown.add('c', async () => stopped.push('c'));
    await teardown.run(silentLog);
    expect(stopped).toEqual(['c', 'a']);
    await teardown.run(silentLog);
    expect(stopped).toEqual(['c', 'a']);
  });
});

describe('Function: startLocalRuntime', () => {
  it('a start that fails half-way leaves nothing behind: the same data folder starts again at once', async () => {
    // GIVEN a start that fails after dynalite, s3rver and the table are up
    const dataDir = await mkdtemp(join(tmpdir(), 'responder-teardown-'));
    try {
      const options = { config: testConfig(), log: silentLog, port: 0, timers: false, dataDir };
      await expect(
        startLocalRuntime({
          ...options,
          wrapDispatcher: () => {
            throw new Error('the bus would not start');
          },
        }),
      ).rejects.toThrow(/the bus would not start/);
      // WHEN the same folder is started again (LevelDB and the data-folder claim allow one owner)
      const runtime = await startLocalRuntime(options);
      // THEN it starts and works
      expect((await fetch(`${runtime.url}/healthz`)).status).toBe(200);
      await runtime.stop();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
