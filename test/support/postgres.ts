import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PostgresCluster, startPostgresCluster } from '../../src/local/postgres-cluster.ts';
import { freePort } from './processes.ts';

export interface PostgresServer extends PostgresCluster {
  /** The server's log (pg_ctl -l): what `log_statement` writes. */
  readonly logFile: string;
  /** Stops the server and deletes the cluster. */
  destroy(): void;
}

/** A throwaway cluster on a free loopback port, in a temporary folder removed by destroy(). */
export async function startPostgres(
  options: { password?: string; standbyOf?: PostgresCluster } = {},
): Promise<PostgresServer> {
  const root = mkdtempSync(join(tmpdir(), 'responder-pg-'));
  const cluster = startPostgresCluster({
    root,
    port: await freePort(),
    password: options.password ?? options.standbyOf?.password ?? 'responder-test-password',
    standbyOf: options.standbyOf,
  });
  return {
    ...cluster,
    logFile: join(root, 'server.log'),
    destroy() {
      cluster.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
