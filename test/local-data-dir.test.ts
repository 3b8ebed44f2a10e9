import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InProcessDispatcher } from '../src/local/in-process-dispatcher.ts';
import { scheduledRequest } from '../src/local/runtime.ts';
import { silentLog } from '../src/ports.ts';
import { waitFor } from './support/processes.ts';
import { loadEvent, startTestRuntime } from './support/runtime.ts';

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

/** Mode of the data folder and of everything directly inside it, by name. */
async function modesIn(dataDir: string): Promise<Record<string, number>> {
  const modes: Record<string, number> = { '.': await modeOf(dataDir) };
  for (const name of await readdir(dataDir)) modes[name] = await modeOf(join(dataDir, name));
  return modes;
}

describe('Local data folder', () => {
  let parent: string;
  beforeEach(async () => {
    parent = await mkdtemp(join(tmpdir(), 'responder-datadir-'));
  });
  afterEach(async () => {
    await rm(parent, { recursive: true, force: true });
  });

  it('is created owner-only, with the files the runtime writes 0600', async () => {
    // GIVEN a data folder that does not exist yet
    const dataDir = join(parent, 'fresh', '.responder');
    // WHEN the runtime starts, with its own token file, and pages someone
    const t = await startTestRuntime({ dataDir, token: '' });
    const opened = await t.post('/alertmanager', loadEvent('firing.json'), {
      authorization: `Bearer ${t.runtime.token}`,
    });
    expect(opened.status).toBe(202);
    await waitFor('the page in the outbox', async () => existsSync(join(dataDir, 'outbox.jsonl')));
    const running = await modesIn(dataDir);
    await t.stop();
    // THEN the folder is private; the parent made on the way is not, so others can still pass through it
    expect((await modeOf(join(parent, 'fresh'))) & 0o001).toBe(0o001);
    expect(running).toMatchObject({
      '.': 0o700,
      dynamodb: 0o700,
      s3: 0o700,
      'webhook-token': 0o600,
      'runtime.pid': 0o600,
      'outbox.jsonl': 0o600,
    });
  });

  it('tightens a data folder that was world-readable', async () => {
    // GIVEN a folder left by an older version: 0755 folders and 0644 files
    const dataDir = join(parent, '.responder');
    await mkdir(join(dataDir, 'dynamodb'), { recursive: true, mode: 0o755 });
    await mkdir(join(dataDir, 'demo-postgres'), { mode: 0o755 });
    await writeFile(join(dataDir, 'webhook-token'), 'an-old-token-0123456789\n', { mode: 0o644 });
    await writeFile(join(dataDir, 'outbox.jsonl'), '', { mode: 0o644 });
    await writeFile(join(dataDir, 'dead-letters.jsonl'), '', { mode: 0o666 });
    // WHEN the runtime starts on it
    const t = await startTestRuntime({ dataDir, token: '' });
    const running = await modesIn(dataDir);
    await t.stop();
    // THEN
    expect(t.runtime.token).toBe('an-old-token-0123456789');
    expect(running).toMatchObject({
      '.': 0o700,
      dynamodb: 0o700,
      s3: 0o700,
      'demo-postgres': 0o700,
      'webhook-token': 0o600,
      'outbox.jsonl': 0o600,
      'dead-letters.jsonl': 0o600,
    });
  });

  it('keeps dead letters owner-only', async () => {
    // GIVEN a handler that always fails
    const deadLetterFile = join(parent, 'dead-letters.jsonl');
    const fail = async () => {
      throw new Error('always');
    };
    const dispatcher = new InProcessDispatcher({
      handlers: { probe: fail, backup: fail, rotate: fail, failover: fail, escalate: fail },
      log: silentLog,
      region: 'eu-west-1',
      deadLetterFile,
      retryDelaysMs: [],
    });
    // WHEN a request is dead-lettered
    await dispatcher.dispatch([scheduledRequest('probe', new Date(), true)]);
    await dispatcher.idle();
    // THEN
    expect(await modeOf(deadLetterFile)).toBe(0o600);
  });
});
