import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

const PG_BIN_DIRS = [
  '/usr/lib/postgresql/17/bin',
  '/usr/lib/postgresql/16/bin',
  '/usr/lib/postgresql/15/bin',
];

/** initdb/pg_ctl from the system's PostgreSQL, or undefined when the package is not installed. */
export function findPostgresBinaries(): { initdb: string; pgCtl: string; pgBasebackup: string } | undefined {
  for (const dir of PG_BIN_DIRS) {
    if (existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) {
      return {
        initdb: join(dir, 'initdb'),
        pgCtl: join(dir, 'pg_ctl'),
        pgBasebackup: join(dir, 'pg_basebackup'),
      };
    }
  }
  for (const name of ['initdb', 'pg_ctl', 'pg_basebackup']) {
    try {
      execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'pipe' });
    } catch {
      return undefined;
    }
  }
  return { initdb: 'initdb', pgCtl: 'pg_ctl', pgBasebackup: 'pg_basebackup' };
}

export interface PostgresCluster {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  readonly connectionString: string;
  /** Fast shutdown; `start()` brings it back with the same data. */
  stop(): void;
  start(): void;
  /**
   * Throws this cluster's data away and copies `source` with `pg_basebackup -R`: it comes back as a
   * streaming standby of `source` (how an old primary is rebuilt after a failover).
   */
  rebuildAsStandbyOf(source: PostgresCluster): void;
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * As root the cluster runs as `postgres`, which must pass through `folder` (the private data folder)
 * to reach its own folder inside: the postgres group may pass (0710), but not list or read anything.
 */
export function letPostgresPassThrough(folder: string): void {
  if (!isRoot()) return;
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(folder, statSync(folder).uid, gid);
  chmodSync(folder, 0o710);
}

/**
 * A PostgreSQL cluster of its own in `root` on 127.0.0.1:`port`, made with the system's initdb and
 * pg_ctl (created once, started each time). initdb and postgres refuse to run as root, so as root the
 * cluster belongs to the `postgres` user that Debian's package creates.
 */
export function startPostgresCluster(options: {
  root: string;
  port: number;
  password: string;
  /** A new cluster starts as a streaming standby of this one (`pg_basebackup -R`), not with initdb. */
  standbyOf?: PostgresCluster;
}): PostgresCluster {
  const binaries = findPostgresBinaries();
  if (!binaries)
    throw new Error(
      'PostgreSQL is not installed: apt-get install -y postgresql (it provides initdb and pg_ctl)',
    );
  const { root, port, password } = options;
  const data = join(root, 'data');
  const asOwner = (command: string, args: string[], env?: NodeJS.ProcessEnv) =>
    isRoot()
      ? execFileSync('runuser', ['-u', 'postgres', '--', command, ...args], { stdio: 'pipe', env })
      : execFileSync(command, args, { stdio: 'pipe', env });
  // The password travels in PGPASSWORD (never argv); -R writes primary_conninfo for the standby.
  const basebackup = (source: PostgresCluster, into = data) =>
    asOwner(
      binaries.pgBasebackup,
      [
        '-h',
        source.host,
        '-p',
        String(source.port),
        '-U',
        source.user,
        '-D',
        into,
        '-R',
        '-X',
        'stream',
        '-c',
        'fast',
      ],
      { ...process.env, PGPASSWORD: source.password },
    );
  mkdirSync(root, { recursive: true, mode: 0o700 });
  if (isRoot()) {
    try {
      execFileSync('runuser', ['-u', 'postgres', '--', 'test', '-x', join(root, '..')], { stdio: 'pipe' });
    } catch {
      throw new Error(
        `the postgres user cannot reach ${root}: make its parent folders traversable (chmod o+x) or choose another RESPONDER_DATA_DIR`,
      );
    }
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(root, uid, gid);
  }
  if (!existsSync(join(data, 'PG_VERSION')) && options.standbyOf) {
    basebackup(options.standbyOf);
  } else if (!existsSync(join(data, 'PG_VERSION'))) {
    const pwfile = join(root, 'pwfile');
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (isRoot())
      chownSync(pwfile, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()), 0);
    asOwner(binaries.initdb, [
      '-D',
      data,
      '-U',
      'postgres',
      '--auth=scram-sha-256',
      `--pwfile=${pwfile}`,
      '-E',
      'UTF8',
      '--no-sync',
    ]);
  }
  const start = () =>
    asOwner(binaries.pgCtl, [
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
      asOwner(binaries.pgCtl, ['-D', data, '-m', 'fast', '-w', 'stop']);
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
    rebuildAsStandbyOf(source) {
      // The copy is made beside the data first: a copy that fails leaves this cluster as it was.
      const fresh = `${data}.rebuilding`;
      asOwner('rm', ['-rf', fresh]);
      try {
        basebackup(source, fresh);
      } catch (error) {
        asOwner('rm', ['-rf', fresh]);
        throw error;
      }
      stop();
      rmSync(data, { recursive: true, force: true });
      renameSync(fresh, data);
      start();
    },
  };
}
