import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import type { ResponderConfig } from '../src/config/schema.ts';
import { esbuildOptions } from './bundling.ts';

const ROOT = join(import.meta.dirname, '..');

/**
 * AWS's Lambda base image for Node.js 22 (Amazon Linux 2023, arm64 and x86_64): the Lambda runtime
 * interface is in it, and its Node.js runs the Fargate task too.
 */
export const BACKUP_IMAGE_BASE = 'public.ecr.aws/lambda/nodejs:22';

/**
 * Amazon Linux 2023's PostgreSQL client package (pg_dump, pg_restore, psql). pg_dump refuses servers of
 * a newer major version, so this is the newest major AL2023 ships: raise it (e.g. `postgresql18`) when
 * AL2023 ships the next one and a database is upgraded to it (`dnf list 'postgresql*'` in the base
 * image shows what there is). It dumps servers back to 9.2.
 */
export const POSTGRESQL_CLIENT_PACKAGE = 'postgresql17';

/** The backup code in the image: the Lambda handler and the Fargate task's entry point. */
export const BACKUP_ENTRIES = {
  /** `functions/backup/handler.ts`, exporting `handler`: the image's CMD `handler.handler`. */
  handler: join(ROOT, 'functions', 'backup', 'handler.ts'),
  /** `functions/backup/task.ts`, run as `node task.mjs` by the Fargate task. */
  task: join(ROOT, 'functions', 'backup', 'task.ts'),
} as const;

/** Where the image keeps the bundles: the base image's LAMBDA_TASK_ROOT. */
export const BACKUP_TASK_ROOT = '/var/task';

export interface BackupImageOptions {
  /** Bundle the code with esbuild; without, the folder holds the Dockerfile and empty stand-ins (tests that skip bundling). */
  readonly bundle: boolean;
  /** Bundle `functions/backup/task.ts` too (a database runs on Fargate); it must exist then. */
  readonly task: boolean;
  /** @default POSTGRESQL_CLIENT_PACKAGE */
  readonly postgresqlPackage?: string;
}

/** The generated Dockerfile: the base image, the distribution's PostgreSQL client, the bundles. */
export function backupDockerfile(files: readonly string[], postgresqlPackage = POSTGRESQL_CLIENT_PACKAGE) {
  return [
    '# Generated at synthesis by lib/backup-image.ts (DatabaseBackups): do not edit.',
    `FROM ${BACKUP_IMAGE_BASE}`,
    '# pg_dump and pg_restore from the distribution: no binary in the repository, the right one for',
    '# the architecture, and a version check in the build (dnf is microdnf in the minimal image).',
    `RUN dnf install -y ${postgresqlPackage} && dnf clean all && pg_dump --version && pg_restore --version`,
    `COPY ${files.join(' ')} ${BACKUP_TASK_ROOT}/`,
    '# Lambda: handler.mjs exports handler. The Fargate task overrides this with `node task.mjs`.',
    'CMD ["handler.handler"]',
    '',
  ].join('\n');
}

/**
 * Stages the backup image's build context: the esbuild bundles (the same options as every function:
 * ESM, node22, minified, source maps, the config baked in) and the Dockerfile. Docker builds it at
 * deploy time only (`cdk deploy`, through the asset manifest): synthesis stays offline.
 */
export function stageBackupImage(config: ResponderConfig, options: BackupImageOptions): string {
  const directory = mkdtempSync(join(tmpdir(), 'responder-backup-image-'));
  const entries: Array<[string, string]> = [['handler.mjs', BACKUP_ENTRIES.handler]];
  if (options.task) {
    if (options.bundle && !existsSync(BACKUP_ENTRIES.task)) {
      throw new Error(
        `${BACKUP_ENTRIES.task} is missing: a database with runner "fargate" runs it as the task's entry point`,
      );
    }
    entries.push(['task.mjs', BACKUP_ENTRIES.task]);
  }
  const files: string[] = [];
  for (const [file, entry] of entries) {
    const outfile = join(directory, file);
    if (options.bundle) {
      buildSync({ ...esbuildOptions(entry, config), outfile });
      files.push(file, `${file}.map`);
    } else {
      writeFileSync(outfile, `// not bundled: synthesis without bundling (${entry})\n`);
      files.push(file);
    }
  }
  writeFileSync(join(directory, 'Dockerfile'), backupDockerfile(files, options.postgresqlPackage));
  return directory;
}
