import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, type ResponderConfig, type ResponderConfigInput } from '../../src/config/schema.ts';
import { consoleLog } from '../../src/local/console-log.ts';
import { type LocalRuntime, type LocalRuntimeOptions, startLocalRuntime } from '../../src/local/runtime.ts';
import { type StateStore, silentLog } from '../../src/ports.ts';

export const TEST_TOKEN = 'test-token-0123456789abcdef';

/** A config with one route per action kind, so tests can see each kind requested. */
export function testConfig(overrides: Partial<ResponderConfigInput> = {}): ResponderConfig {
  return parseConfig({
    service: 'payments-api',
    aws: { region: 'eu-west-1', drRegion: 'eu-central-1' },
    routes: [
      {
        name: 'primary-site-down',
        matchers: ['alertname="PrimarySiteDown"'],
        actions: [{ kind: 'failover', params: { to: 'dr' } }, { kind: 'escalate' }],
      },
      {
        name: 'database-trouble',
        matchers: ['alertname=~"Postgres.*"'],
        actions: [{ kind: 'probe', params: { targets: ['database'] } }, { kind: 'escalate' }],
      },
      { name: 'backup-missing', matchers: ['alertname="BackupMissing"'], actions: [{ kind: 'backup' }] },
      { name: 'page', matchers: [], actions: [{ kind: 'escalate' }], on: ['firing', 'resolved'] },
    ],
    ...overrides,
  });
}

export function loadEvent(
  name: string,
): Record<string, unknown> & { alerts: Array<Record<string, unknown>> } {
  return JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'events', name), 'utf8'));
}

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers and assert on them
export type Json = any;

export interface TestRuntime {
  readonly runtime: LocalRuntime;
  post(
    path: string,
    body: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: Json }>;
  get(path: string, headers?: Record<string, string>): Promise<{ status: number; body: Json }>;
  stop(): Promise<void>;
}

export async function startTestRuntime(
  options: Partial<LocalRuntimeOptions> & { config?: ResponderConfig; keepDataDir?: boolean } = {},
): Promise<TestRuntime> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'responder-test-')));
  const runtime = await startLocalRuntime({
    config: options.config ?? testConfig(),
    // RESPONDER_TEST_LOG=debug shows the runtime's log while a test runs.
    log: process.env.RESPONDER_TEST_LOG ? consoleLog(process.env.RESPONDER_TEST_LOG as 'debug') : silentLog,
    port: 0,
    token: TEST_TOKEN,
    timers: false,
    retryDelaysMs: [10, 20],
    ...options,
    dataDir,
  });
  const auth = { authorization: `Bearer ${TEST_TOKEN}` };
  const request = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const response = await fetch(`${runtime.url}${path}`, {
      method,
      headers: { ...auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // keep text
    }
    return { status: response.status, body: parsed as Json };
  };
  return {
    runtime,
    post: (path, body, headers) => request('POST', path, body, headers),
    get: (path, headers) => request('GET', path, undefined, headers),
    async stop() {
      await runtime.stop();
      if (!options.keepDataDir && !options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Audit entries of one type for an incident (or the system trail for today when no id). */
export async function auditOf(store: StateStore, incidentId: string, type?: string) {
  const entries = await store.listAudit(incidentId);
  return type ? entries.filter((entry) => entry.type === type) : entries;
}
