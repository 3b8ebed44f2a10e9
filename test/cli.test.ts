import { execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { stopProcess, waitFor } from './support/processes.ts';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'responder.js');
const exec = promisify(execFile);

async function responder(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await exec('node', [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** Runs the CLI's main() in this process, with what it prints to the console captured. */
const inProcess = (args: string[]) => runCli(args);

/** Starts `responder dev` as a user would, and resolves with its URL once it prints it. */
function startDev(env: Record<string, string>) {
  const child = spawn('node', [BIN, 'dev'], { cwd: ROOT, env: { ...process.env, PORT: '0', ...env } });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const url = waitFor(
    'responder dev to print its URL',
    async () => /Webhook URL : (\S+)\/alertmanager/.exec(output)?.[1],
    60_000,
  );
  const stopped = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, url, stopped, output: () => output };
}

describe('CLI: responder', () => {
  let dataDir: string;
  let dev: ReturnType<typeof startDev> | undefined;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'responder-cli-'));
    // As a user's data folder would be: the demo PostgreSQL runs as the postgres user and must reach it.
    await chmod(dataDir, 0o755);
  });
  afterAll(async () => {
    // After a failed assertion dev is still up: Ctrl-C first, so it stops its demo PostgreSQL too
    // (SIGKILL after 15 s).
    if (dev) await stopProcess(dev.child, 15_000, 'SIGINT');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('prints usage, and --help for every command', async () => {
    // One real spawn of bin/responder.js; each command's help and the unknown command run main()
    // in-process (the same code the binary calls), as each spawn loads node, tsx and the runtime.
    const help = await responder(['--help']);
    expect(help.code).toBe(0);
    for (const command of [
      'dev',
      'send',
      'incidents',
      'probe',
      'ack',
      'rotate',
      'backup',
      'backups',
      'restore',
      'failover',
      'demo',
      'automation',
    ]) {
      expect(help.stdout).toMatch(new RegExp(`^  ${command}\\s`, 'm'));
      const own = await inProcess([command, '--help']);
      expect(own.code).toBe(0);
      expect(own.stdout).toMatch(new RegExp(`^Usage: responder ${command}`));
    }
    const unknown = await inProcess(['reboot']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'reboot'/);
  });

  it('refuses an invalid config with the field and the fix, exit code 2', async () => {
    const file = join(dataDir, 'bad.config.mjs');
    await writeFile(
      file,
      "export default { service: 'x', aws: { region: 'eu-west-1', drRegion: 'eu-west-1' } };\n",
    );
    const result = await responder(['dev'], {
      RESPONDER_CONFIG: file,
      RESPONDER_DATA_DIR: dataDir,
      PORT: '0',
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/aws\.drRegion: drRegion must differ from region/);
  });

  it('dev serves the sample events, send and incidents talk to it, Ctrl-C stops it, and a restart keeps incidents', async () => {
    // GIVEN responder dev with a generated token kept in the data folder
    // A scaled clock for the failover's own waits (failback probes, verification polls).
    const env = { RESPONDER_DATA_DIR: dataDir, RESPONDER_WEBHOOK_TOKEN: '', RESPONDER_TIME_SCALE: '0.1' };
    dev = startDev(env);
    const url = await dev.url;
    expect(dev.output()).toMatch(/Token {7}: \S{20,}/);
    expect(dev.output()).toMatch(/Try: npx responder send events\/firing\.json/);
    // the example config probes the demo environment npm start brings up: all healthy at once
    await waitFor('the first probe run', async () => dev?.output().includes('localhost-dns'));
    for (const target of ['api-health', 'api-readiness', 'dr-site-health', 'database', 'localhost-dns']) {
      expect(dev.output()).toMatch(new RegExp(`^${target}\\s+\\S+\\s+ok\\s+healthy`, 'm'));
    }
    // the data folder is private (the demo PostgreSQL, run as the postgres user under root, may only
    // pass through it), and so is everything the runtime and its embedded servers wrote inside
    expect((await stat(dataDir)).mode & 0o007).toBe(0);
    const inside = (await readdir(dataDir, { recursive: true })).filter(
      (name) => !name.startsWith('demo-postgres'),
    );
    expect(inside).toEqual(expect.arrayContaining(['webhook-token', 'dynamodb', 's3']));
    for (const name of inside) {
      expect({ name, mode: (await stat(join(dataDir, name))).mode & 0o077 }).toEqual({ name, mode: 0 });
    }
    const probed = await responder(['probe', '--target', 'database', '--json'], {
      ...env,
      RESPONDER_URL: url,
    });
    expect(probed.code).toBe(0);
    expect(JSON.parse(probed.stdout)).toEqual([
      expect.objectContaining({ target: 'database', ok: true, healthy: true }),
    ]);
    const cli = { ...env, RESPONDER_URL: url };

    // WHEN the demo's payments database is backed up, listed and restored into a new database
    expect(dev.output()).toMatch(/^payments-backup\s+backup\s+FAIL.*no verified backup of payments yet/m);
    const backup = await responder(['backup', 'payments'], cli);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stdout).toMatch(/^payments@\S+\s+verified\s+\S+ MiB\s+restore\s/m);
    expect(backup.stdout).toMatch(/restored into payments_verify: 2 tables, 51000 rows, all counts equal/);
    const listedBackups = JSON.parse(
      (await responder(['backups', '--db', 'payments', '--json'], cli)).stdout,
    );
    expect(listedBackups).toEqual([expect.objectContaining({ database: 'payments', status: 'verified' })]);
    const password = (await readFile(join(dataDir, 'demo-db-password'), 'utf8')).trim();
    // The local CLI finds the embedded S3 through the data folder (RESPONDER_URL points at this runtime).
    const local = {
      RESPONDER_DATA_DIR: dataDir,
      RESPONDER_WEBHOOK_TOKEN: '',
      PORT: new URL(url).port,
      PGPASSWORD: password,
    };
    const overSource = await responder(
      ['restore', 'payments@latest', '--to', 'postgresql://postgres@127.0.0.1:15432/payments'],
      local,
    );
    expect(overSource.code).toBe(1);
    expect(overSource.stderr).toMatch(/refusing to restore over the source database payments/);
    const restored = await responder(
      ['restore', 'payments@latest', '--to', 'postgresql://postgres@127.0.0.1:15432/payments_copy'],
      local,
    );
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/^public\.payments\s+50000$/m);
    expect(restored.stdout).toMatch(
      /restored payments@\S+ into payments_copy: 2 tables, 51000 rows, SHA-256 checked/,
    );

    // WHEN a sample event is sent twice
    const sent = await responder(['send', 'events/firing.json'], cli);
    const again = await responder(['send', 'events/firing.json'], cli);
    // THEN
    expect(sent.code).toBe(0);
    expect(sent.stdout).toMatch(/^202 /);
    expect(again.stdout).toMatch(/^200 [\s\S]*"duplicate"/);
    // (independent commands run side by side: each spawn loads node, tsx and the runtime)
    const [listed, table] = await Promise.all([
      responder(['incidents', '--json'], cli),
      responder(['incidents'], cli),
    ]);
    const incidents = JSON.parse(listed.stdout) as Array<{ id: string; status: string; severity: string }>;
    expect(incidents).toEqual([expect.objectContaining({ status: 'open', severity: 'P1' })]);
    expect(table.stdout).toMatch(/ID\s+STATUS\s+SEV/);
    expect(table.stdout).toContain(incidents[0]?.id);

    // WHEN on-call, paged into the outbox, acknowledges from the CLI
    const id = incidents[0]?.id as string;
    const outbox = await waitFor('the page in the outbox', async () => {
      const lines = await readFile(join(dataDir, 'outbox.jsonl'), 'utf8').catch(() => '');
      return lines.includes(id) && lines;
    });
    expect(JSON.parse(outbox.trim().split('\n')[0] ?? '{}')).toMatchObject({
      topic: 'on-call',
      attributes: { incident_id: id, severity: 'P1', event: 'page' },
    });
    const acked = await responder(['ack', id, '--by', 'alice'], cli);
    expect(acked.code).toBe(0);
    expect(acked.stdout).toContain(
      `${id} acknowledged by alice. No further tiers will be paged; telling on-call`,
    );
    const [twice, security, unknown] = await Promise.all([
      responder(['ack', id, '--by', 'bob'], cli),
      responder(['send', 'events/security-incident.json'], cli),
      responder(['ack', '20200101-00000000'], cli),
    ]);
    expect(twice.stdout).toContain('already acknowledged by alice');
    const securityId = JSON.parse(security.stdout.replace(/^\d+ /, '')).incident.id;
    // The SecretExposed route rotated the demo's JWT signing key: four steps, and a dry run changes nothing.
    const rotatedKey = await responder(['rotate', 'payments/jwt-signing-key', '--json'], cli);
    expect(rotatedKey.code, rotatedKey.stderr).toBe(0);
    expect(JSON.parse(rotatedKey.stdout)).toMatchObject({
      status: 'completed',
      secret: 'payments/jwt-signing-key',
    });
    const dryRotation = await responder(['rotate', 'payments/jwt-signing-key', '--dry-run'], cli);
    expect(dryRotation.stdout).toMatch(
      /^dry run: nothing changed; rotating payments\/jwt-signing-key \(generated\)/,
    );
    const anonymous = await responder(['ack', securityId], { ...cli, USER: '', USERNAME: '' });
    expect(anonymous.stdout + anonymous.stderr).toContain(
      `${securityId} acknowledged by ${userInfo().username}.`,
    );
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/404 .*no incident/s);

    // The demo never throws away the database that takes the writes
    const wrongWay = await responder(['demo', 'rebuild', 'primary'], cli);
    expect(wrongWay.code).toBe(1);
    expect(wrongWay.stderr).toMatch(/409 .*the DR database is not the writer/);
    // WHEN a failover drill runs there and back against the demo's PostgreSQL and its streaming standby
    const drill = await responder(['drill', 'failover', '--and-back'], cli);
    expect(drill.code, drill.stdout + drill.stderr).toBe(0);
    expect(drill.stdout).toMatch(/== to the DR site: completed/);
    expect(drill.stdout).toMatch(/== to the primary site: completed/);
    for (const step of [
      'lock',
      'planned',
      'dr-ready',
      'database',
      'fence',
      'promote',
      'move',
      'dns-answers',
      'site-passes',
    ]) {
      expect(drill.stdout).toMatch(new RegExp(`^ok +${step} \\(\\d+ ms\\)`, 'm'));
    }
    expect(drill.stdout).toMatch(/^RTO \d+\.\d s$/m);
    const markers = [...drill.stdout.matchAll(/^RPO [\d.]+ s; markers (\d+) of (\d+) made it across$/gm)];
    expect(markers).toHaveLength(2);
    for (const [, present, written] of markers) expect(present).toBe(written);
    expect(drill.stdout).toMatch(/old primary fenced: yes/);
    const [report] = await readdir(join(dataDir, 'drills'));
    expect(await readFile(join(dataDir, 'drills', String(report)), 'utf8')).toMatch(
      /^# Failover drill drill-\S+: PASSED/,
    );

    // WHEN the kill switch is flipped from the CLI
    const [noReason, off] = await Promise.all([
      responder(['automation', 'off'], cli),
      responder(['automation', 'off', '--reason', 'cli test'], cli),
    ]);
    expect(noReason.code).toBe(2);
    expect(off.code).toBe(0);
    expect(off.stdout).toMatch(/"effective": false/);

    // WHEN Ctrl-C
    dev.child.kill('SIGINT');
    expect(await dev.stopped).toBe(0);
    expect(dev.output()).toMatch(/Stopped\./);
    const down = await responder(['incidents'], cli);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach the responder/);

    // THEN a restart on the same data folder still has the incident and the same token
    dev = startDev(env);
    const restartedUrl = await dev.url;
    const after = await responder(['incidents', '--json'], { ...cli, RESPONDER_URL: restartedUrl });
    const kept = JSON.parse(after.stdout) as Array<{ id: string }>;
    expect(kept.map((incident) => incident.id).sort(), after.stdout).toEqual(
      [incidents[0]?.id, securityId].sort(),
    );
    dev.child.kill('SIGINT');
    expect(await dev.stopped).toBe(0);
  });
});
