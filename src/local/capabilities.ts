import { backupDatabase } from '../../functions/backup/backup-database.ts';
import { createEscalateAction } from '../../functions/escalate/escalate-incident.ts';
import { failoverDns } from '../../functions/failover/failover-dns.ts';
import { createProbeAction } from '../../functions/probe/run-probes.ts';
import { rotateSecret } from '../../functions/rotate/rotate-secret.ts';
import type { CapabilityFactory } from '../actions/environment.ts';
import type { ActionKind } from '../config/schema.ts';

/**
 * Each action kind's body, built from the environment; the local runtime runs them in-process. The
 * table lives with the local runtime, its one user, so that src/ never imports functions/ below the
 * composition roots (each Lambda's handler names its own capability).
 */
export const CAPABILITIES: Readonly<Record<ActionKind, CapabilityFactory>> = {
  probe: createProbeAction,
  backup: () => backupDatabase,
  rotate: () => rotateSecret,
  failover: () => failoverDns,
  escalate: createEscalateAction,
};
