import { backupDatabase } from '../../functions/backup/backup-database.ts';
import { createEscalateAction } from '../../functions/escalate/escalate-incident.ts';
import { failoverDns } from '../../functions/failover/failover-dns.ts';
import { createProbeAction } from '../../functions/probe/run-probes.ts';
import { rotateSecret } from '../../functions/rotate/rotate-secret.ts';
import type { ActionKind } from '../config/schema.ts';
import type { ActionEnvironment } from './environment.ts';
import type { PerformAction } from './run-action.ts';

export type CapabilityFactory = (env: ActionEnvironment) => PerformAction;

/** Each action kind's body, built from the environment; the local runtime runs them in-process. */
export const CAPABILITIES: Readonly<Record<ActionKind, CapabilityFactory>> = {
  probe: createProbeAction,
  backup: () => backupDatabase,
  rotate: () => rotateSecret,
  failover: () => failoverDns,
  escalate: createEscalateAction,
};
