import { backupDatabase } from '../../functions/backup/backup-database.ts';
import { escalateIncident } from '../../functions/escalate/escalate-incident.ts';
import { failoverDns } from '../../functions/failover/failover-dns.ts';
import { runProbes } from '../../functions/probe/run-probes.ts';
import { rotateSecret } from '../../functions/rotate/rotate-secret.ts';
import type { ActionKind } from '../config/schema.ts';
import type { PerformAction } from './run-action.ts';

/** Each action kind's body, as the local runtime runs them in-process. */
export const CAPABILITIES: Readonly<Record<ActionKind, PerformAction>> = {
  probe: runProbes,
  backup: backupDatabase,
  rotate: rotateSecret,
  failover: failoverDns,
  escalate: escalateIncident,
};
