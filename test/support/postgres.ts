import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary, freePort, isRoot } from './processes.ts';

const PG_BIN_DIRS = [
  '/usr/lib/postgresql/17/bin',
  '/usr/lib/postgresql/16/bin',
  '/usr/lib/postgresql/15/bin',
];

export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  readonly connectionString: string;
  /** Stops the server (fast shutdown); `start()` brings it back with the same data. */
  stop(): void;
  start(): void;
  /** Stops the server and deletes the cluster. */
  destroy(): void;
}

/**
 * A throwaway PostgreSQL cluster on a free loopback port, made with the system's initdb and pg_ctl.
 * initdb and postgres refuse to run as root, so as root the cluster belongs to the `postgres` user.
 */
export async function startPostgres(options: { password?: string } = {}): Promise<PostgresServer> {
  const initdb = findBinary('initdb', 'postgresql', PG_BIN_DIRS);
  const pgCtl = findBinary('pg_ctl', 'postgresql', PG_BIN_DIRS);
  const root = mkdtempSync(join(tmpdir(), 'responder-pg-'));
  const data = join(root, 'data');
  const password = options.password ?? 'responder-test-password';
  const port = await freePort();
  writeFileSync(join(root, 'pwfile'), `${password}\n`);

  const asOwner = (command: string, args: string[]) => {
    if (isRoot()) {
      execFileSync('runuser', ['-u', 'postgres', '--', command, ...args], { stdio: 'pipe' });
    } else {
      execFileSync(command, args, { stdio: 'pipe' });
    }
  };
  if (isRoot()) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(root, uid, gid);
    chownSync(join(root, 'pwfile'), uid, gid);
  }
  asOwner(initdb, [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=scram-sha-256',
    `--pwfile=${join(root, 'pwfile')}`,
    '-E',
    'UTF8',
    '--no-sync',
  ]);
  const start = () =>
    asOwner(pgCtl, [
      '-D',
      data,
      '-l',
      join(root, 'server.log'),
      '-o',
      `-c listen_addresses=127.0.0.1 -p ${port} -k ${root} -c fsync=off -c full_page_writes=off`,
      '-w',
      '-t',
      '30',
      'start',
    ]);
  const stop = () => {
    try {
      asOwner(pgCtl, ['-D', data, '-m', 'fast', '-w', 'stop']);
    } catch {
      // already stopped
    }
  };
  start();
  return {
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password,
    database: 'postgres',
    connectionString: `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    stop,
    start,
    destroy() {
      stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
