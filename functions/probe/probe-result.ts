import type { ProbeTarget } from '../../src/config/probe-targets.ts';
import type { Observed } from '../../src/domain/probes.ts';

export type { Observed, ProbeResult } from '../../src/domain/probes.ts';

import type { BackupCatalog, Clock, SecretStore } from '../../src/ports.ts';

/** What a probe kind reports before the runner adds the target, timing and clock. */
export interface ProbeOutcome {
  readonly ok: boolean;
  readonly detail: string;
  readonly observed?: Observed;
}

export interface ProbeContext {
  /** Aborted when the target's timeout passes: the probe must release its sockets. */
  readonly signal: AbortSignal;
  readonly secrets: SecretStore;
  readonly clock: Clock;
  /** The backup catalog, for backup freshness targets; absent where none is wired. */
  readonly backups?: BackupCatalog;
}

export type ProbeKindRunner<T extends ProbeTarget = ProbeTarget> = (
  target: T,
  context: ProbeContext,
) => Promise<ProbeOutcome>;

export const pass = (detail: string, observed: Observed = {}): ProbeOutcome => ({
  ok: true,
  detail,
  observed,
});
export const fail = (detail: string, observed: Observed = {}): ProbeOutcome => ({
  ok: false,
  detail,
  observed,
});

/** Describes a socket or driver error the way an operator reads it: code first. */
export function describeError(error: unknown): string {
  const e = error as { code?: string; message?: string };
  if (e?.code && e.message && !e.message.includes(e.code)) return `${e.code}: ${e.message}`;
  return e?.message ?? String(error);
}

/** Parses a secret that is either JSON with the field, or the bare value. */
export function secretField(secret: string, field: string): string | undefined {
  const trimmed = secret.trim();
  if (!trimmed.startsWith('{')) return trimmed;
  try {
    const value = (JSON.parse(trimmed) as Record<string, unknown>)[field];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
