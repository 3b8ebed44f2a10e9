import type { Severity } from './severity.ts';

export type IncidentStatus = 'open' | 'resolved';

export interface IncidentAlert {
  readonly fingerprint: string;
  readonly status: 'firing' | 'resolved';
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly generatorURL: string;
}

export interface Incident {
  readonly id: string;
  readonly groupId: string;
  readonly groupKey: string;
  readonly status: IncidentStatus;
  readonly severity: Severity;
  readonly title: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly receiver: string;
  readonly externalURL: string;
  readonly alerts: IncidentAlert[];
  readonly truncatedAlerts: number;
  readonly openedAt: string;
  readonly updatedAt: string;
  readonly resolvedAt?: string;
  readonly deliveries: number;
  /** Epoch seconds when a resolved incident is forgotten (DynamoDB TTL): resolution + auditRetentionDays. */
  readonly expiresAt?: number;
  /** Optimistic-concurrency counter: every write must name the version it read. */
  readonly version: number;
}

export interface AuditEntry {
  readonly at: string;
  readonly incidentId?: string;
  readonly type: string;
  readonly message: string;
  readonly actor: string;
  readonly data?: Record<string, unknown>;
}

/** Epoch seconds at which a resolved incident (and its escalation) expires: resolution plus retention. */
export function expiryOf(resolvedAt: string, retentionDays: number): number {
  return Math.floor(Date.parse(resolvedAt) / 1000) + retentionDays * 86400;
}
