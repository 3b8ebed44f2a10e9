import type { S3Client } from '@aws-sdk/client-s3';
import { createBackupAction } from '../../functions/backup/backup-database.ts';
import { createEscalateAction } from '../../functions/escalate/escalate-incident.ts';
import { approvalPager } from '../../functions/failover/approval-page.ts';
import { postgresFailoverFor } from '../../functions/failover/database-engine.ts';
import type { DrillParts } from '../../functions/failover/drill.ts';
import { createFailoverAction } from '../../functions/failover/failover-dns.ts';
import { failoverWarningPager } from '../../functions/failover/warning-page.ts';
import { probeTarget } from '../../functions/probe/probe-targets.ts';
import { createProbeAction } from '../../functions/probe/run-probes.ts';
import { createRotateAction } from '../../functions/rotate/rotate-secret.ts';
import type { CapabilityFactory } from '../actions/environment.ts';
import type { StateTableSecretStore } from '../adapters/state-table-secret-store.ts';
import type { ActionKind } from '../config/schema.ts';
import type { BackupCatalog, DnsRecordSet, DnsZone, FailoverApproval, FailoverStore } from '../ports.ts';

/** What the local runtime's capabilities need beyond the shared environment: the embedded S3. */
export interface LocalCapabilityParts {
  readonly s3: S3Client;
  readonly backupBucket: string;
  readonly backupCatalog: BackupCatalog;
  /** The failover switch, lock and approvals, and the local DNS zone (`records` mode). */
  readonly failoverStore: FailoverStore;
  readonly dnsZone: DnsZone;
  /** A signed approve link for a failover waiting for approval. */
  readonly approveLink?: (approval: FailoverApproval) => Promise<string | undefined>;
  /** What the local DNS listener answers for a record, once it runs. */
  readonly resolveDns?: (name: string, type: DnsRecordSet['type']) => Promise<string[]>;
  /** The local secret store, with versions and staging labels. */
  readonly secretVersions: StateTableSecretStore;
  /** The failover's waits (failback probes, verification polls): scaled in tests and demos. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** The drill's extras: rebuilding the demo's standby, the report under the data folder. */
  readonly drill?: Omit<DrillParts, 'markers'>;
}

/**
 * Each action kind's body, built from the environment; the local runtime runs them in-process. The
 * table lives with the local runtime, its one user, so that src/ never imports functions/ below the
 * composition roots (each Lambda's handler names its own capability).
 */
export function localCapabilities(
  parts: LocalCapabilityParts,
): Readonly<Record<ActionKind, CapabilityFactory>> {
  return {
    probe: createProbeAction,
    backup: (env) =>
      createBackupAction({
        config: env.config,
        s3: parts.s3,
        bucket: parts.backupBucket,
        catalog: parts.backupCatalog,
        secrets: env.secrets,
        clock: env.clock,
        log: env.log,
        // No Fargate here: a `runner: fargate` database is dumped in-process.
      }),
    rotate: (env) =>
      createRotateAction({
        config: env.config,
        versions: parts.secretVersions,
        secrets: env.secrets,
        log: env.log,
        // Locally the four steps run in-process, in order, against the local secret store.
        startRotation: async (secretId) => ({
          token: await parts.secretVersions.startRotation(secretId),
          stepsHere: true,
        }),
      }),
    failover: (env) => {
      const targets = new Map(env.config.probes.targets.map((target) => [target.name, target]));
      // Locally only postgres-standby has an engine: RDS and Aurora have no local stand-in, so the
      // database gate refuses them; the logins, when given, still carry the drill's marker rows.
      const database = env.config.failover
        ? postgresFailoverFor(env.config.failover, env.secrets)
        : undefined;
      return createFailoverAction({
        database: env.config.failover?.database?.engine === 'postgres-standby' ? database : undefined,
        markers: database,
        sleep: parts.sleep,
        ...parts.drill,
        config: env.config,
        store: parts.failoverStore,
        zone: parts.dnsZone,
        probe: (names) =>
          Promise.all(
            names.flatMap((name) => {
              const target = targets.get(name);
              return target ? [probeTarget(target, { secrets: env.secrets, clock: env.clock })] : [];
            }),
          ),
        resolve: parts.resolveDns,
        audit: env.audit,
        clock: env.clock,
        log: env.log,
        requestApproval: approvalPager(env, parts.approveLink),
        warn: failoverWarningPager(env),
      });
    },
    escalate: createEscalateAction,
  };
}
