import * as z from 'zod/mini';
import { labelSet } from '../domain/alertmanager.ts';
import { describeIssuePath } from '../domain/issue-path.ts';
import { SEVERITIES } from '../domain/severity.ts';
import '../domain/validation.ts';

/**
 * The bounds of an incident carried in an escalate request (`params.incident`). The sender cuts to
 * them (`raiseIncident`), the escalate function refuses anything beyond them: it arrives over the
 * bus, and what is recorded and paged must fit a state-table item and a page.
 */
export const CARRIED_LIMITS = {
  groupKey: 1_024,
  title: 1_024,
  summary: 16_384,
  fingerprint: 512,
  receiver: 200,
  resolvedBecause: 1_024,
  actor: 100,
  labels: 64,
  labelValue: 1_024,
  auditEntries: 16,
  auditName: 64,
  auditValue: 1_024,
} as const;

const L = CARRIED_LIMITS;
const text = (max: number, min = 1) =>
  z
    .string()
    .check(
      z.minLength(min, min === 1 ? 'expected a non-empty string' : `expected at least ${min} characters`),
      z.maxLength(max, `expected at most ${max} characters`),
    );
const timestamp = z.iso.datetime({ offset: true, message: 'expected an RFC 3339 timestamp' });
const labels = labelSet.check(
  z.refine((set) => Object.keys(set).length <= L.labels, `expected at most ${L.labels} labels`),
  z.refine(
    (set) => Object.values(set).every((value) => value.length <= L.labelValue),
    `expected label values of at most ${L.labelValue} characters`,
  ),
);
const auditData = z
  .record(text(L.auditName), z.union([text(L.auditValue, 0), z.number(), z.boolean(), z.null()]))
  .check(
    z.refine(
      (data) => Object.keys(data).length <= L.auditEntries,
      `expected at most ${L.auditEntries} entries`,
    ),
  );

/** What an `IncidentSource` says, as JSON on the bus: everything but its escalation request. */
export const carriedIncidentSchema = z.object({
  status: z.enum(['firing', 'resolved'], { message: 'expected "firing" or "resolved"' }),
  groupKey: text(L.groupKey),
  severity: z.enum(SEVERITIES, { message: `expected one of ${SEVERITIES.join(', ')}` }),
  title: text(L.title),
  labels,
  summary: text(L.summary, 0),
  fingerprint: text(L.fingerprint),
  at: timestamp,
  startsAt: z.optional(timestamp),
  receiver: text(L.receiver),
  resolvedBecause: text(L.resolvedBecause, 0),
  auditData,
  actor: text(L.actor),
});

export type CarriedIncident = z.output<typeof carriedIncidentSchema>;

/**
 * `params.approve` beside a carried approval incident: the failover request waiting for approval,
 * whose signed approve link the escalate function adds to the page (the ack-link key is in its
 * region, not the sender's).
 */
const approveLinkSchema = z.object({
  requestId: z.string().check(z.regex(/^[A-Za-z0-9_.:-]{8,200}$/)),
  expiresAt: timestamp,
});

export type ApproveLinkRequest = z.output<typeof approveLinkSchema>;

/** `params.approve` when it is one; anything else asks for no link. */
export function readApproveLinkRequest(raw: unknown): ApproveLinkRequest | undefined {
  const parsed = approveLinkSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

export type CarriedIncidentCheck =
  | { readonly ok: true; readonly incident: CarriedIncident }
  | { readonly ok: false; readonly problems: readonly string[] };

/** Reads `params.incident` of an escalate request; each problem names its field (at most five). */
export function readCarriedIncident(raw: unknown): CarriedIncidentCheck {
  const parsed = carriedIncidentSchema.safeParse(raw);
  if (parsed.success) return { ok: true, incident: parsed.data };
  return {
    ok: false,
    problems: parsed.error.issues
      .slice(0, 5)
      .map((issue) => `${describeIssuePath(issue.path, 'incident')}: ${issue.message.slice(0, 200)}`),
  };
}
