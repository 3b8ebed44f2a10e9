import { z } from 'zod';
import { ACTION_KINDS, SEVERITIES } from '../config/schema.ts';

/** EventBridge `source` and `detail-type` for work handed from ingest and schedules to the action functions. */
export const EVENT_SOURCE = 'responder';
export const ACTION_REQUESTED = 'Action Requested';

export const actionRequestSchema = z.object({
  actionId: z.string().min(8).max(200),
  kind: z.enum(ACTION_KINDS),
  trigger: z.enum(['alert', 'schedule', 'operator', 'probe']),
  requestedAt: z.iso.datetime({ offset: true }),
  dryRun: z.boolean(),
  params: z.record(z.string(), z.unknown()).default({}),
  rule: z.string().optional(),
  incidentId: z.string().optional(),
  severity: z.enum(SEVERITIES).optional(),
  alerts: z
    .array(
      z.object({
        fingerprint: z.string(),
        status: z.enum(['firing', 'resolved']),
        labels: z.record(z.string(), z.string()),
      }),
    )
    .default([]),
});

export type ActionRequest = z.output<typeof actionRequestSchema>;

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
