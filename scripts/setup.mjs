#!/usr/bin/env node
// Makes a fresh clone runnable: `npm start` and `npm test` call this first (prestart/pretest), and so
// does .ci/run. Plain Node, no dependencies, since it runs before any are installed.
//   --node    install npm dependencies when node_modules is missing or older than package-lock.json
//   --system  install the servers the tests start (PostgreSQL, Redis, Alertmanager) with apt-get
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));

function run(command, commandArgs) {
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(
      `setup: '${command} ${commandArgs.join(' ')}' failed (exit ${result.status ?? result.signal})`,
    );
    process.exit(result.status ?? 1);
  }
}

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

if (args.has('--node')) {
  const installed = join(root, 'node_modules', '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  if (!existsSync(installed) || statSync(lock).mtimeMs > statSync(installed).mtimeMs) {
    // `npm install`, not `npm ci`: the registry mirror here lacks some of Biome's optional
    // per-platform packages, which npm ci reports as a lockfile mismatch; install skips them and
    // leaves package-lock.json as it is.
    console.log('setup: installing npm dependencies (npm install, from package-lock.json)');
    run('npm', ['install', '--no-audit', '--no-fund']);
  }
}

if (args.has('--system')) {
  const pgBins = existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql').filter((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`))
    : [];
  const missing = [];
  if (pgBins.length === 0) missing.push('postgresql');
  if (!has('redis-server')) missing.push('redis-server');
  if (!has('prometheus-alertmanager') || !has('amtool')) missing.push('prometheus-alertmanager');
  if (!has('openssl')) missing.push('openssl');
  if (missing.length > 0) {
    const asRoot = process.getuid?.() === 0;
    if (!asRoot && !has('sudo')) {
      console.error(
        `setup: the tests need ${missing.join(', ')}; install them: apt-get install -y ${missing.join(' ')}`,
      );
      process.exit(1);
    }
    console.log(`setup: installing ${missing.join(', ')} with apt-get`);
    process.env.DEBIAN_FRONTEND = 'noninteractive';
    const apt = (aptArgs) => (asRoot ? run('apt-get', aptArgs) : run('sudo', ['-E', 'apt-get', ...aptArgs]));
    apt(['update', '-qq']);
    apt(['install', '-y', '-qq', '--no-install-recommends', ...missing]);
  }
}
