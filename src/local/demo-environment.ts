import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { StateTableSecretStore } from '../adapters/state-table-secret-store.ts';
import type { Log } from '../ports.ts';
import {
  findPostgresBinaries,
  letPostgresPassThrough,
  type PostgresCluster,
  startPostgresCluster,
} from './postgres-cluster.ts';

export const DEMO_PORTS = { primary: 18081, dr: 18082, postgres: 15432 } as const;
export const DEMO_DB_SECRET = 'responder/demo-db';

/** A stand-in for the service's API: the health endpoints the runbooks curl every five minutes. */
function demoSite(name: string): Server {
  return createServer((req, res) => {
    const json = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/api/v1/health') return json(200, { status: 'ok', site: name });
    if (req.url === '/api/v1/readiness') return json(200, { ready: true, site: name });
    if (req.url === '/api/v1/health/ping') return res.writeHead(200).end('pong');
    json(404, { error: 'not found' });
  });
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

export interface DemoEnvironment {
  stop(): Promise<void>;
}

/**
 * Brings up what the example config probes, so a new user sees real results at once: a primary and a
 * DR site on loopback and a PostgreSQL cluster kept in the data folder, whose password is stored as
 * the local secret responder/demo-db. Parts that cannot start are reported and skipped.
 */
export async function startDemoEnvironment(options: {
  dataDir: string;
  secrets: StateTableSecretStore;
  log: Log;
}): Promise<DemoEnvironment> {
  const { log } = options;
  const sites: Server[] = [];
  for (const [name, port] of [
    ['primary', DEMO_PORTS.primary],
    ['dr', DEMO_PORTS.dr],
  ] as const) {
    const site = demoSite(name);
    try {
      await listen(site, port);
      sites.push(site);
    } catch (error) {
      log.warn(`demo ${name} site not started: 127.0.0.1:${port} is taken (${(error as Error).message})`);
    }
  }
  let postgres: PostgresCluster | undefined;
  if (findPostgresBinaries()) {
    const passwordFile = join(options.dataDir, 'demo-db-password');
    if (!existsSync(passwordFile))
      writeFileSync(passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
    const password = readFileSync(passwordFile, 'utf8').trim();
    try {
      letPostgresPassThrough(options.dataDir);
      postgres = startPostgresCluster({
        root: join(options.dataDir, 'demo-postgres'),
        port: DEMO_PORTS.postgres,
        password,
      });
      await options.secrets.putSecretString(
        DEMO_DB_SECRET,
        JSON.stringify({ username: postgres.user, password }),
      );
    } catch (error) {
      log.warn(`demo PostgreSQL not started: ${(error as Error).message.split('\n')[0]}`);
    }
  } else {
    log.warn(
      'demo PostgreSQL not started: install it with apt-get install -y postgresql (npm test does this)',
    );
  }
  return {
    async stop() {
      postgres?.stop();
      await Promise.all(sites.map((site) => new Promise<void>((resolve) => site.close(() => resolve()))));
    },
  };
}
