import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findBinary, freePort, spawnLogged, stopProcess, waitFor } from './processes.ts';

const run = promisify(execFile);

export interface AlertmanagerServer {
  readonly url: string;
  /** Fires (or, with `endsAt` in the past, resolves) an alert with amtool. */
  amtool(
    labels: Record<string, string>,
    options?: { annotations?: Record<string, string>; endsAt?: Date },
  ): Promise<void>;
  logs(): string;
  stop(): Promise<void>;
}

/**
 * A real Alertmanager (Debian's prometheus-alertmanager) on a free loopback port, clustering off,
 * whose only receiver posts to `webhookUrl` with the Bearer token, as a production config would.
 */
export async function startAlertmanager(options: {
  webhookUrl: string;
  token: string;
}): Promise<AlertmanagerServer> {
  const binary = findBinary('prometheus-alertmanager', 'prometheus-alertmanager');
  const amtool = findBinary('amtool', 'prometheus-alertmanager');
  const dir = mkdtempSync(join(tmpdir(), 'responder-am-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'alertmanager.yml'),
    `route:
  receiver: responder
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: responder
    webhook_configs:
      - url: '${options.webhookUrl}'
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: '${options.token}'
`,
  );
  const { child, output } = spawnLogged(binary, [
    `--config.file=${join(dir, 'alertmanager.yml')}`,
    `--storage.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    `--web.external-url=http://127.0.0.1:${port}`,
    '--cluster.listen-address=',
    '--log.level=debug',
  ]);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor('alertmanager', async () => (await fetch(`${url}/-/ready`)).ok);
  } catch (error) {
    await stopProcess(child);
    throw new Error(`${(error as Error).message}\n${output()}`);
  }
  return {
    url,
    async amtool(labels, opts = {}) {
      const args = [`--alertmanager.url=${url}`, 'alert', 'add'];
      for (const [name, value] of Object.entries(labels)) args.push(`${name}=${value}`);
      for (const [name, value] of Object.entries(opts.annotations ?? {}))
        args.push(`--annotation=${name}=${value}`);
      if (opts.endsAt) args.push(`--end=${opts.endsAt.toISOString()}`);
      await run(amtool, args);
    },
    logs: output,
    async stop() {
      await stopProcess(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
