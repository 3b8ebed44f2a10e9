import * as z from 'zod/mini';
import { SEVERITIES } from './severity.ts';
import './validation.ts';

export const ACTION_KINDS = ['probe', 'backup', 'rotate', 'failover', 'escalate'] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

/** Kinds that change something in production; the kill switch turns these into recorded skips. */
export const REMEDIATION_KINDS: readonly ActionKind[] = ['backup', 'rotate', 'failover'];

/** EventBridge `source` and `detail-type` for work handed from ingest and schedules to the action functions. */
export const EVENT_SOURCE = 'responder';
export const ACTION_REQUESTED = 'Action Requested';

export const actionRequestSchema = z.object({
  actionId: z.string().check(z.minLength(8), z.maxLength(200)),
  kind: z.enum(ACTION_KINDS),
  trigger: z.enum(['alert', 'schedule', 'operator', 'probe']),
  requestedAt: z.iso.datetime({ offset: true }),
  dryRun: z.boolean(),
  params: z._default(z.record(z.string(), z.unknown()), {}),
  rule: z.optional(z.string()),
  incidentId: z.optional(z.string()),
  severity: z.optional(z.enum(SEVERITIES)),
  alerts: z._default(
    z.array(
      z.object({
        fingerprint: z.string(),
        status: z.enum(['firing', 'resolved']),
        labels: z.record(z.string(), z.string()),
      }),
    ),
    [],
  ),
});

export type ActionRequest = z.output<typeof actionRequestSchema>;

/** What a capability reports back; `summary` goes into the audit trail as the operator will read it. */
export interface ActionOutcome {
  readonly status: 'completed' | 'recorded' | 'failed';
  readonly summary: string;
  /** Written into the audit trail with the summary: keep it small. */
  readonly data?: Record<string, unknown>;
  /** Returned to a synchronous caller (the CLI, the API), not audited. */
  readonly result?: unknown;
  /** What was acted on (a database, a secret); groups incidents for failed remediations. */
  readonly subject?: string;
}

/** The EventBridge envelope; the local dispatcher builds the same shape so handlers see one event type. */
export interface ActionRequestedEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': typeof ACTION_REQUESTED;
  readonly source: typeof EVENT_SOURCE;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: string[];
  readonly detail: ActionRequest;
}
