import type { Severity } from './severity.ts';

/** What a message tells its topic: a page, or the news that someone acknowledged or it resolved. */
export type NoticeEvent = 'page' | 'acknowledged' | 'resolved';

export type EscalationStatus = 'paging' | 'acknowledged' | 'resolved';

/** One message sent to one topic; `key` makes it at-most-once per incident. */
export interface SentNotice {
  readonly key: string;
  readonly event: NoticeEvent;
  /** The tier ("on-call") or extra route ("security") the topic was paged for. */
  readonly tier: string;
  readonly topic: string;
  readonly at: string;
  readonly messageId?: string;
}

export interface Acknowledgement {
  readonly by: string;
  readonly at: string;
  /** "api", "cli", or "link:team-lead" for a signed link from the team-lead page. */
  readonly via: string;
}

/**
 * One incident's escalation, kept in the state store: no timer anywhere holds it. The sweeper pages
 * the next tier when its time has come; every write names the version it read.
 */
export interface Escalation {
  readonly incidentId: string;
  readonly severity: Severity;
  readonly startedAt: string;
  readonly status: EscalationStatus;
  readonly sent: readonly SentNotice[];
  readonly acknowledged?: Acknowledgement;
  readonly resolvedAt?: string;
  /** When the sweeper next has work here; absent when there is none (the sweep index skips it). */
  readonly dueAt?: string;
  /** Held while a sender publishes, so two sweepers never send the same tier. */
  readonly lease?: { readonly owner: string; readonly until: string };
  /** Epoch seconds when an ended escalation is forgotten, with its incident (DynamoDB TTL). */
  readonly expiresAt?: number;
  readonly version: number;
}
