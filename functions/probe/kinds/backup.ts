import type { BackupTarget } from '../../../src/config/probe-targets.ts';
import { fail, type ProbeKindRunner, pass } from '../probe-result.ts';

/**
 * Backup freshness: the newest verified backup of the database is at most `maxAgeHours` old, so a
 * schedule that silently stopped (or backups that keep failing verification) pages someone.
 */
export const probeBackup: ProbeKindRunner<BackupTarget> = async (target, { backups, clock }) => {
  if (!backups) return fail('the backup catalog is not wired to this probe');
  const latest = await backups.latestVerified(target.database);
  if (!latest) {
    return fail(`no verified backup of ${target.database} yet`, { ageHours: null });
  }
  const finished = Date.parse(latest.finishedAt ?? latest.startedAt);
  const age = (clock.now().getTime() - finished) / 3_600_000;
  const ageHours = Math.round(age * 10) / 10;
  const observed = { ageHours, bytes: latest.bytes ?? null, backupId: latest.id };
  return age <= target.maxAgeHours
    ? pass(`newest verified backup ${latest.id} is ${ageHours} h old`, observed)
    : fail(
        `newest verified backup ${latest.id} is ${ageHours} h old (more than ${target.maxAgeHours} h): check the backup schedule and recent failures`,
        observed,
      );
};
