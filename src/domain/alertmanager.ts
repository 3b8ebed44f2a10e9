import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import { describeIssuePath } from './issue-path.ts';
import './validation.ts';

/** Alertmanager's "zero time", sent as endsAt while an alert is firing. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Longer label names are refused: no real label is that long, and DynamoDB caps attribute names. */
export const MAX_LABEL_NAME_LENGTH = 1_024;

/**
 * A label or annotation set (webhook payloads; incidents carried to the primary region's escalate
 * function). Checked by hand rather than with z.record, which silently drops a `__proto__` key; here
 * it is refused by name, and every other name (`constructor`...) is an own property
 * (Object.fromEntries), so lookups never reach Object.prototype.
 */
export const labelSet = z.pipe(
  z.unknown().check(
    z.superRefine((raw, ctx) => {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        ctx.addIssue({ code: 'custom', message: 'expected an object of string values' });
        return;
      }
      for (const [name, value] of Object.entries(raw)) {
        if (typeof value !== 'string') {
          ctx.addIssue({ code: 'custom', path: [name], message: 'expected a string' });
        } else if (name === '__proto__') {
          // No real label has this name (Prometheus drops `__` names), JavaScript objects turn it into a
          // prototype and DynamoDB's marshaller into an empty value: refused by name rather than lost.
          ctx.addIssue({ code: 'custom', path: [name], message: 'the name __proto__ is reserved' });
        } else if (name.length === 0 || name.length > MAX_LABEL_NAME_LENGTH) {
          ctx.addIssue({
            code: 'custom',
            path: [name.slice(0, 40)],
            message: `expected a name of 1 to ${MAX_LABEL_NAME_LENGTH} characters`,
          });
        }
      }
    }),
  ),
  // Only reached once every value is a string.
  z.transform((raw) => Object.fromEntries(Object.entries(raw as object)) as Record<string, string>),
);
const timestamp = z.iso.datetime({ offset: true, message: 'expected an RFC 3339 timestamp' });
const alertStatus = z.enum(['firing', 'resolved'], { message: 'expected "firing" or "resolved"' });

export const alertSchema = z.object({
  status: alertStatus,
  labels: labelSet,
  annotations: labelSet,
  startsAt: timestamp,
  endsAt: timestamp,
  generatorURL: z._default(z.string(), ''),
  fingerprint: z
    .string()
    .check(
      z.minLength(1, 'expected a non-empty fingerprint'),
      z.maxLength(512, 'expected a fingerprint of at most 512 characters'),
    ),
});

/** The webhook body Alertmanager sends (`version: "4"`). Unknown fields are ignored, as Alertmanager may add some. */
export const webhookPayloadSchema = z.object({
  version: z.literal('4', { message: 'expected "4" (Alertmanager webhook payload version 4)' }),
  groupKey: z.string().check(z.minLength(1, 'expected a non-empty groupKey')),
  truncatedAlerts: z._default(z.number().check(z.int(), z.minimum(0)), 0),
  status: alertStatus,
  receiver: z.string(),
  groupLabels: labelSet,
  commonLabels: labelSet,
  commonAnnotations: labelSet,
  externalURL: z.string(),
  alerts: z.array(alertSchema).check(z.minLength(1, 'expected at least one alert')),
});

export type WebhookPayload = z.output<typeof webhookPayloadSchema>;
export type Alert = WebhookPayload['alerts'][number];

export type PayloadCheck = { ok: true; payload: WebhookPayload } | { ok: false; errors: string[] };

export function checkPayload(body: unknown): PayloadCheck {
  const result = webhookPayloadSchema.safeParse(body);
  if (result.success) {
    // One alert per fingerprint (the last one sent wins): a repeated alert is not two alerts.
    const byFingerprint = new Map(result.data.alerts.map((alert) => [alert.fingerprint, alert]));
    return { ok: true, payload: { ...result.data, alerts: [...byFingerprint.values()] } };
  }
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
