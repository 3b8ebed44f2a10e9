import { createHash } from 'node:crypto';
import { z } from 'zod';
import { describeIssuePath } from '../issue-path.ts';

/** Alertmanager's "zero time", sent as endsAt while an alert is firing. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

const labelSet = z.record(z.string(), z.string());
const timestamp = z.iso.datetime({ offset: true, message: 'expected an RFC 3339 timestamp' });
const alertStatus = z.enum(['firing', 'resolved'], { message: 'expected "firing" or "resolved"' });

export const alertSchema = z.object({
  status: alertStatus,
  labels: labelSet,
  annotations: labelSet,
  startsAt: timestamp,
  endsAt: timestamp,
  generatorURL: z.string().default(''),
  fingerprint: z.string().min(1, 'expected a non-empty fingerprint'),
});

/** The webhook body Alertmanager sends (`version: "4"`). Unknown fields are ignored, as Alertmanager may add some. */
export const webhookPayloadSchema = z.object({
  version: z.literal('4', { message: 'expected "4" (Alertmanager webhook payload version 4)' }),
  groupKey: z.string().min(1, 'expected a non-empty groupKey'),
  truncatedAlerts: z.number().int().min(0).default(0),
  status: alertStatus,
  receiver: z.string(),
  groupLabels: labelSet,
  commonLabels: labelSet,
  commonAnnotations: labelSet,
  externalURL: z.string(),
  alerts: z.array(alertSchema).min(1, 'expected at least one alert'),
});

export type WebhookPayload = z.output<typeof webhookPayloadSchema>;
export type Alert = WebhookPayload['alerts'][number];

export type PayloadCheck = { ok: true; payload: WebhookPayload } | { ok: false; errors: string[] };

export function checkPayload(body: unknown): PayloadCheck {
  const result = webhookPayloadSchema.safeParse(body);
  if (result.success) return { ok: true, payload: result.data };
  return {
    ok: false,
    errors: result.error.issues
      .slice(0, 20)
      .map((issue) => `${describeIssuePath(issue.path, '(body)')}: ${issue.message}`),
  };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Identifies one delivery: Alertmanager retries, HA peers and repeat_interval re-sends carry the same
 * group, status and alerts, so they hash to the same key.
 */
export function deliveryKeyOf(payload: WebhookPayload): string {
  const alerts = payload.alerts
    .map((alert) => `${alert.fingerprint}|${alert.startsAt}|${alert.endsAt}`)
    .sort();
  return sha256(JSON.stringify([payload.groupKey, payload.status, alerts]));
}
