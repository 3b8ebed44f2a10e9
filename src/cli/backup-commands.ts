import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BackupManifest } from '../domain/backups.ts';
import { printable, printableJson } from '../local/terminal-text.ts';
import { type Command, call, connectionHelp, dataDir, UsageError } from './client.ts';

const MIB = 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function size(bytes: number | undefined): string {
  if (bytes === undefined) return '-';
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= MIB) return `${(bytes / MIB).toFixed(1)} MiB`;
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

function backupTable(backups: readonly BackupManifest[]): string {
  if (backups.length === 0) return 'no backups';
  const rows = backups.map((b) => [
    b.id,
    b.status,
    size(b.bytes),
    b.verification ? `${b.verification.level}${b.verification.ok ? '' : ' (failed)'}` : '-',
    b.finishedAt ?? '-',
    b.error ? printable(b.error).slice(0, 100) : '',
  ]);
  const header = ['BACKUP', 'STATUS', 'SIZE', 'VERIFIED', 'FINISHED', 'ERROR'];
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((row) => printable(row[i] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => printable(cell).padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/**
 * Where `responder restore` reads the dump from: the local runtime's embedded S3 (its data folder
 * says where) or, with RESPONDER_URL set, AWS S3 with the caller's own credentials.
 */
async function s3For(manifest: BackupManifest) {
  const { S3Client } = await import('@aws-sdk/client-s3');
  const endpoints = join(dataDir(), 'endpoints.json');
  if (!process.env.RESPONDER_URL && existsSync(endpoints)) {
    const local = JSON.parse(readFileSync(endpoints, 'utf8')) as { s3: string; region: string };
    return new S3Client({
      endpoint: local.s3,
      region: local.region,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
  }
  if (!manifest.bucket) throw new Error(`backup ${manifest.id} names no bucket`);
  return new S3Client({});
}

/**
 * `--to`: a `postgresql://user[:password]@host[:port]/database` URL, or a database name on the server
 * PGHOST/PGPORT/PGUSER name. The password comes from the URL or PGPASSWORD, never from the command's
 * own options, so it stays out of shell history.
 */
export function restoreTarget(to: string, env: NodeJS.ProcessEnv = process.env) {
  if (/^postgres(ql)?:\/\//.test(to)) {
    const url = new URL(to);
    const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
    if (!database)
      throw new UsageError('--to: name the database in the URL (postgresql://user@host:port/database)');
    return {
      host: url.hostname || '127.0.0.1',
      port: Number(url.port || 5432),
      user: decodeURIComponent(url.username) || env.PGUSER || 'postgres',
      password: decodeURIComponent(url.password) || env.PGPASSWORD || '',
      database,
    };
  }
  if (!/^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/.test(to)) {
    throw new UsageError('--to: give a postgresql:// URL or a database name');
  }
  return {
    host: env.PGHOST || '127.0.0.1',
    port: Number(env.PGPORT || 5432),
    user: env.PGUSER || 'postgres',
    password: env.PGPASSWORD || '',
    database: to,
  };
}

export const backupCommands: Record<string, Command> = {
  rotate: {
    summary: 'rotate a configured secret now (the four Secrets Manager steps)',
    usage: 'responder rotate <secret> [--dry-run] [--json]',
    help: `Rotates a secret in secrets.rotations (POST /api/rotations). Locally the four steps (createSecret,
setSecret, testSecret, finishSecret) run now and each is printed; a failed step is repaired at once
(AWSPENDING removed, or the rotation finished when the new value is the one that works). In AWS the
rotation is started (RotateSecret) and Secrets Manager runs the steps; failures open an incident.
--dry-run prints what each step would do. Exits 1 when the rotation failed. ${connectionHelp}`,
    options: { 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } },
    async run(values, positionals) {
      const secret = positionals[0];
      if (!secret) throw new UsageError('name the secret to rotate');
      const result = await call(
        'POST',
        '/api/rotations',
        JSON.stringify({ secret, dryRun: values['dry-run'] === true }),
      );
      if (result.status !== 200) {
        console.error(`${result.status} ${printableJson(result.body)}`);
        return 1;
      }
      const body = result.body as {
        status: string;
        summary: string;
        result?: { steps?: string[]; dryRun?: boolean } | null;
      };
      if (values.json) console.log(printableJson(body, 2));
      else {
        // A dry run's summary lists the steps itself.
        if (!body.result?.dryRun) for (const step of body.result?.steps ?? []) console.log(printable(step));
        console.log(printable(body.summary));
      }
      return body.status === 'failed' ? 1 : 0;
    },
  },
  backup: {
    summary: 'back up a configured database now, and show its progress',
    usage: 'responder backup <database> [--verify restore] [--dry-run] [--json]',
    help: `Starts a backup of a database in backups.databases (POST /api/backups) and follows it in the
catalog: bytes so far and MB/s while pg_dump streams to S3, then the verification and the result.
--verify restore also restores it into the database's scratch database and compares row counts.
--dry-run checks the connection and versions and prints what it would do. Exits 1 unless the backup
is verified (a request while another backup of the database runs is skipped). ${connectionHelp}`,
    options: { verify: { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } },
    async run(values, positionals) {
      const database = positionals[0];
      if (!database) throw new UsageError('name the database to back up');
      if (values.verify !== undefined && values.verify !== 'restore' && values.verify !== 'list') {
        throw new UsageError("--verify takes 'list' or 'restore'");
      }
      const automation = await call('GET', '/api/automation');
      if (automation.status === 200 && (automation.body as { effective?: boolean }).effective === false) {
        console.error('automation is disabled (responder automation): the backup would be skipped');
        return 1;
      }
      const started = await call(
        'POST',
        '/api/backups',
        JSON.stringify({ database, verify: values.verify, dryRun: values['dry-run'] === true }),
      );
      if (started.status === 200) {
        const result = started.body as { result?: { outcome?: { summary?: string } } };
        console.log(
          values.json ? printableJson(started.body, 2) : printable(result.result?.outcome?.summary ?? ''),
        );
        return 0;
      }
      if (started.status !== 202) {
        console.error(`${started.status} ${printableJson(started.body)}`);
        return 1;
      }
      const { actionId } = started.body as { actionId: string };
      const begun = Date.now();
      let seen = false;
      for (;;) {
        await sleep(1000);
        const listed = await call('GET', `/api/backups?database=${encodeURIComponent(database)}&limit=10`);
        const entry = (listed.body as { backups?: BackupManifest[] }).backups?.find(
          (b) => b.actionId === actionId,
        );
        if (!entry) {
          if (!seen && Date.now() - begun > 60_000) {
            console.error(
              'the backup did not start within a minute: see the audit trail and the runtime log',
            );
            return 1;
          }
          continue;
        }
        seen = true;
        if (entry.status === 'running') {
          const seconds = Math.max((Date.now() - Date.parse(entry.startedAt)) / 1000, 0.001);
          const rate = ((entry.bytes ?? 0) / MIB / seconds).toFixed(1);
          if (!values.json)
            process.stderr.write(`\r${entry.id}: ${size(entry.bytes ?? 0)} uploaded, ${rate} MB/s   `);
          continue;
        }
        if (!values.json) process.stderr.write('\n');
        if (values.json) console.log(printableJson(entry, 2));
        else {
          console.log(backupTable([entry]));
          if (entry.verification) console.log(`verification: ${printable(entry.verification.detail)}`);
          if (entry.stderrTail && entry.status === 'failed')
            console.log(`pg_dump said:\n${printable(entry.stderrTail)}`);
        }
        return entry.status === 'verified' ? 0 : 1;
      }
    },
  },
  backups: {
    summary: 'list backups from the catalog, newest first',
    usage: 'responder backups [--db NAME] [--verified] [--limit N] [--json]',
    help: `Lists the backup catalog (GET /api/backups): every configured database's backups, or one
database's with --db; --verified lists only backups proven restorable. ${connectionHelp}`,
    options: {
      db: { type: 'string' },
      verified: { type: 'boolean' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
    },
    async run(values) {
      const query = new URLSearchParams();
      if (values.db) query.set('database', values.db as string);
      if (values.verified) query.set('verified', 'true');
      if (values.limit) query.set('limit', values.limit as string);
      const result = await call('GET', `/api/backups?${query}`);
      if (result.status !== 200) {
        console.error(`${result.status} ${printableJson(result.body)}`);
        return 1;
      }
      const { backups } = result.body as { backups: BackupManifest[] };
      console.log(values.json ? printableJson(backups, 2) : backupTable(backups));
      return 0;
    },
  },
  restore: {
    summary: 'restore a backup into a database (never over its source unless forced)',
    usage:
      'responder restore <backup-id | database@latest> --to <postgresql://URL | database> [--force-overwrite-source] [--json]',
    help: `Reads the backup's manifest from the catalog (GET /api/backups/{id}), streams the dump from S3 into
pg_restore here (its SHA-256 checked on the way), and prints the tables and rows restored. The target
database is created when missing; one that already has tables is refused. --to is a postgresql:// URL
or a database name on the server PGHOST/PGPORT/PGUSER name; the password comes from the URL or
PGPASSWORD. The backup's source database is refused unless --force-overwrite-source, which drops and
recreates it. Needs pg_restore (postgresql-client) and, against AWS, credentials that may read the
backup bucket. ${connectionHelp}`,
    options: {
      to: { type: 'string' },
      'force-overwrite-source': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    async run(values, positionals) {
      const ref = positionals[0];
      if (!ref) throw new UsageError('name the backup: <database>@<timestamp> or <database>@latest');
      if (typeof values.to !== 'string') throw new UsageError('--to names the database to restore into');
      const target = restoreTarget(values.to);
      const found = await call('GET', `/api/backups/${encodeURIComponent(ref)}`);
      if (found.status !== 200) {
        console.error(`${found.status} ${printableJson(found.body)}`);
        return 1;
      }
      const manifest = found.body as BackupManifest;
      if (manifest.status !== 'verified') {
        console.error(
          `backup ${manifest.id} is ${manifest.status}, not verified: choose a verified one (responder backups --verified)`,
        );
        return 1;
      }
      const source = manifest.source;
      const overSource =
        source !== undefined &&
        source.database === target.database &&
        source.port === target.port &&
        (source.host === target.host ||
          [source.host, target.host].every((h) => ['127.0.0.1', 'localhost', '::1'].includes(h)));
      if (overSource && !values['force-overwrite-source']) {
        console.error(
          `refusing to restore over the source database ${source.database} on ${source.host}:${source.port}: restore into another database, or pass --force-overwrite-source to drop and replace it`,
        );
        return 1;
      }
      const { restoreBackup } = await import('../../functions/backup/restore.ts');
      const s3 = await s3For(manifest);
      try {
        console.error(
          `restoring ${manifest.id} (${size(manifest.bytes)}) into ${target.database} on ${target.host}:${target.port}...`,
        );
        const restored = await restoreBackup({
          s3,
          manifest,
          target,
          connectTimeoutSeconds: 10,
          timeoutMs: 6 * 3600_000,
          recreate: overSource,
        });
        if (values.json) console.log(printableJson(restored, 2));
        else {
          const rows = restored.tables.reduce((sum, t) => sum + t.rows, 0);
          for (const table of restored.tables)
            console.log(`${printable(table.table).padEnd(40)} ${table.rows}`);
          console.log(
            `restored ${manifest.id} into ${target.database}: ${restored.tables.length} tables, ${rows} rows, SHA-256 checked, in ${(restored.durationMs / 1000).toFixed(1)} s`,
          );
        }
        return 0;
      } finally {
        s3.destroy();
      }
    },
  },
};
