import type { Acknowledgement, NoticeEvent } from '../domain/escalation.ts';
import type { Incident, IncidentAlert } from '../domain/incident.ts';
import { oneLine, safeHttpUrl } from '../domain/text.ts';
import type { Page, PageMessages } from '../ports.ts';

/** SNS limits: a subject of at most 100 characters, a message of at most 256 KB (262,144 bytes). */
export const SNS_SUBJECT_MAX = 100;
export const SNS_MESSAGE_MAX_BYTES = 262_144;
/** Kept free of the 256 KB for the subject, the attributes and the request's own framing. */
const HEADROOM_BYTES = 4_096;
/** Two concatenated GSM-7 segments: long enough for a title and the ack link, short enough for a phone. */
export const SMS_MAX_CHARS = 306;

export interface PageContext {
  readonly event: NoticeEvent;
  readonly incident: Incident;
  readonly service: string;
  readonly topic: string;
  /** The tier or extra route this message goes to, its position and the number of tiers. */
  readonly tier: { readonly name: string; readonly level: number; readonly of: number };
  readonly respondWithin: string;
  /** Why this tier is paged now ("first tier", "nobody acknowledged within 15 minutes"...). */
  readonly reason: string;
  readonly links: {
    readonly incident: string;
    readonly ack?: string;
    readonly ackExpiresAt?: string;
  };
  readonly acknowledged?: Acknowledgement;
  readonly resolvedAt?: string;
}

/**
 * The SNS `Message` for `MessageStructure: 'json'`: a body for each protocol the stack subscribes
 * (email, SMS, HTTPS); `default` serves any other subscription added by hand. Every body counts
 * toward the one 256 KB limit, so the JSON document is not repeated for http, sqs and lambda.
 */
export function snsMessageOf(messages: PageMessages): string {
  return JSON.stringify({
    default: messages.default,
    email: messages.email,
    sms: messages.sms,
    https: messages.json,
  });
}

export function pageBytes(page: Page): number {
  const attributes = Object.entries(page.attributes).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value) + 'String'.length,
    0,
  );
  return Buffer.byteLength(snsMessageOf(page.messages)) + Buffer.byteLength(page.subject) + attributes;
}

/**
 * Printable ASCII on one line: accents folded, dashes made '-', any run of whitespace (line breaks
 * included) one space, and anything else left replaced by `replacement`.
 */
function foldAscii(text: string, replacement: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[\u2013\u2014]/g, '-')
    .replace(/\s+/g, ' ')
    .replace(/[^\x20-\x7e]/g, replacement)
    .trim();
}

/** SNS subjects must be printable ASCII without line breaks: fold accents, drop the rest, cut with "...". */
export function toSubject(text: string): string {
  const ascii = foldAscii(text, '?');
  const subject =
    ascii.length > SNS_SUBJECT_MAX ? `${ascii.slice(0, SNS_SUBJECT_MAX - 3).trimEnd()}...` : ascii;
  return /^[A-Za-z0-9[(!"#$%&'*+,./:;<=>?@\\^_`{|}~-]/.test(subject)
    ? subject
    : `Responder ${subject}`.slice(0, SNS_SUBJECT_MAX);
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, Math.max(0, max - 1))}…` : text;
}

/** SMS and attribute text: printable ASCII (GSM-7 safe), the rest dropped. */
function asciiOnly(text: string): string {
  return foldAscii(text, '');
}

/** How much of the incident a message carries: lowered step by step until the page fits SNS. */
interface Budget {
  readonly alerts: number;
  readonly field: number;
  readonly labels: number;
}

const FULL: Budget = { alerts: Number.POSITIVE_INFINITY, field: 4_000, labels: 100 };

/**
 * Alert text on one line with its links taken out: a title must not carry a second "Acknowledge:"
 * link into the lines and SMS where the real one is. Linear: `\b` and a fixed scheme list.
 */
function plain(text: string): string {
  return oneLine(text).replace(/\b(?:https?|ftp|file|javascript|data):\/*\S*/gi, '[link]');
}

/** Multi-line alert text (a description) kept readable, every line indented under its field. */
function quoted(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line) => oneLine(line))
    .join('\n      | ');
}

function headline(ctx: PageContext): string {
  const { incident } = ctx;
  const service = plain(ctx.service);
  const title = plain(incident.title);
  switch (ctx.event) {
    case 'page':
      return `[${incident.severity}] ${service}: ${title}`;
    case 'acknowledged':
      // Who comes first: a long title must not push the name out of a 100-character subject.
      return `[${incident.severity} ACK] ${plain(ctx.acknowledged?.by ?? 'someone')} acknowledged ${service}: ${title}`;
    case 'resolved':
      return `[RESOLVED ${incident.severity}] ${service}: ${title}`;
  }
}

function labelLines(labels: Record<string, string>, budget: Budget): string[] {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  const shown = entries
    .slice(0, budget.labels)
    .map(([k, v]) => `${oneLine(cut(k, budget.field))}=${oneLine(cut(v, budget.field))}`);
  if (entries.length > shown.length) shown.push(`(${entries.length - shown.length} more labels)`);
  return shown;
}

function alertBlock(alert: IncidentAlert, budget: Budget): string {
  const lines = [`- [${alert.status}] ${labelLines(alert.labels, budget).join(' ')}`];
  for (const [name, value] of Object.entries(alert.annotations))
    lines.push(`    ${oneLine(cut(name, 100))}: ${quoted(cut(value, budget.field))}`);
  const source = safeHttpUrl(alert.generatorURL);
  lines.push(`    since ${alert.startsAt}${source ? `  source: ${cut(source, budget.field)}` : ''}`);
  return lines.join('\n');
}

function statusLine(ctx: PageContext): string {
  switch (ctx.event) {
    case 'page':
      return `Paged: ${ctx.tier.name} (tier ${ctx.tier.level + 1} of ${ctx.tier.of}): ${ctx.reason}`;
    case 'acknowledged':
      // The name is whatever the acknowledger typed: say so, and keep it to one plain line.
      return `Acknowledged at ${ctx.acknowledged?.at} via ${plain(ctx.acknowledged?.via ?? '')} by "${plain(ctx.acknowledged?.by ?? '')}" (the name they gave). No further tiers will be paged.`;
    case 'resolved':
      return `Resolved at ${ctx.resolvedAt ?? ctx.incident.resolvedAt ?? 'now'}. The escalation has ended.`;
  }
}

function emailOf(ctx: PageContext, budget: Budget, note: string | undefined): string {
  const { incident } = ctx;
  const alerts = incident.alerts.slice(0, budget.alerts);
  const firing = incident.alerts.filter((alert) => alert.status === 'firing').length;
  // Responder's own lines (the links above all) come before any alert text, and alert text is kept
  // to indented or one-line fields, so nothing an alert carries can pass for them.
  const lines = [cut(headline(ctx), budget.field)];
  if (ctx.event === 'page' && ctx.links.ack) {
    lines.push(
      `Acknowledge: ${ctx.links.ack}${ctx.links.ackExpiresAt ? ` (works until ${ctx.links.ackExpiresAt})` : ''}`,
    );
  }
  lines.push(
    `Details: ${ctx.links.incident}`,
    '',
    statusLine(ctx),
    `Severity: ${incident.severity} (respond within ${plain(ctx.respondWithin)})`,
    `Incident: ${incident.id}, ${incident.status}, opened ${incident.openedAt}`,
  );
  const alertmanager = safeHttpUrl(incident.externalURL);
  if (alertmanager) lines.push(`Alertmanager: ${cut(alertmanager, budget.field)}`);
  lines.push('', `Labels: ${labelLines(incident.labels, budget).join(' ') || '(none)'}`);
  for (const [name, value] of Object.entries(incident.annotations))
    lines.push(`  ${oneLine(cut(name, 100))}: ${quoted(cut(value, budget.field))}`);
  if (incident.alerts.length > 0) {
    const more = incident.truncatedAlerts ? `, ${incident.truncatedAlerts} more not kept` : '';
    lines.push('', `Alerts (${firing} firing, ${incident.alerts.length - firing} resolved${more}):`);
    for (const alert of alerts) lines.push(alertBlock(alert, budget));
  }
  if (note) lines.push('', note);
  return lines.join('\n');
}

function smsOf(ctx: PageContext): string {
  const link = ctx.event === 'page' && ctx.links.ack ? ` Ack: ${ctx.links.ack}` : '';
  const text = asciiOnly(
    plain(
      ctx.event === 'page'
        ? `${ctx.incident.severity} ${ctx.service}: ${ctx.incident.title}`
        : ctx.event === 'acknowledged'
          ? `ACK ${ctx.incident.severity} ${ctx.service}: "${ctx.acknowledged?.by}" acknowledged ${ctx.incident.title}`
          : `RESOLVED ${ctx.incident.severity} ${ctx.service}: ${ctx.incident.title}`,
    ),
  );
  const room = Math.max(20, SMS_MAX_CHARS - link.length);
  return `${text.length > room ? `${text.slice(0, room - 3)}...` : text}${link}`.slice(0, SMS_MAX_CHARS);
}

function jsonOf(ctx: PageContext, budget: Budget, note: string | undefined): string {
  const { incident } = ctx;
  const capRecord = (record: Record<string, string>) =>
    Object.fromEntries(
      Object.entries(record)
        .slice(0, budget.labels)
        .map(([k, v]) => [k, cut(v, budget.field)]),
    );
  const alerts = incident.alerts.slice(0, budget.alerts);
  return JSON.stringify({
    schema: 'responder.page/v1',
    event: ctx.event,
    text: cut(headline(ctx), budget.field),
    incident: {
      id: incident.id,
      title: cut(incident.title, budget.field),
      severity: incident.severity,
      status: incident.status,
      service: ctx.service,
      openedAt: incident.openedAt,
      resolvedAt: ctx.resolvedAt ?? incident.resolvedAt ?? null,
      labels: capRecord(incident.labels),
      annotations: capRecord(incident.annotations),
    },
    tier: { ...ctx.tier, topic: ctx.topic, reason: ctx.reason },
    respondWithin: ctx.respondWithin,
    acknowledged: ctx.acknowledged ?? null,
    links: {
      incident: ctx.links.incident,
      ack: ctx.event === 'page' ? (ctx.links.ack ?? null) : null,
      ackExpiresAt: ctx.event === 'page' ? (ctx.links.ackExpiresAt ?? null) : null,
      alertmanager: safeHttpUrl(incident.externalURL) || null,
    },
    alerts: alerts.map((alert) => ({
      status: alert.status,
      fingerprint: alert.fingerprint,
      labels: capRecord(alert.labels),
      annotations: capRecord(alert.annotations),
      startsAt: alert.startsAt,
      endsAt: alert.endsAt,
      generatorURL: safeHttpUrl(alert.generatorURL) || null,
    })),
    truncated: note ? { alertsOmitted: incident.alerts.length - alerts.length, note } : null,
  });
}

function attributesOf(ctx: PageContext): Record<string, string> {
  const value = (text: string) => cut(asciiOnly(text) || '-', 256);
  return {
    severity: ctx.incident.severity,
    tier: value(ctx.tier.name),
    incident_id: ctx.incident.id,
    service: value(ctx.service),
    event: ctx.event,
  };
}

function compose(ctx: PageContext, budget: Budget): Page {
  const omitted = ctx.incident.alerts.length - Math.min(ctx.incident.alerts.length, budget.alerts);
  const trimmed = budget !== FULL;
  const note = trimmed
    ? `Truncated to fit SNS's 256 KB message limit${omitted ? `: ${omitted} of ${ctx.incident.alerts.length} alerts left out` : ''}; the full incident: ${ctx.links.incident}`
    : undefined;
  return {
    topic: ctx.topic,
    subject: toSubject(headline(ctx)),
    messages: {
      default: `${cut(headline(ctx), 1000)}\n${ctx.event === 'page' && ctx.links.ack ? `Acknowledge: ${ctx.links.ack}\n` : ''}Details: ${ctx.links.incident}\n${statusLine(ctx)}`,
      email: emailOf(ctx, budget, note),
      sms: smsOf(ctx),
      json: jsonOf(ctx, budget, note),
    },
    attributes: attributesOf(ctx),
  };
}

const fits = (page: Page) => pageBytes(page) <= SNS_MESSAGE_MAX_BYTES - HEADROOM_BYTES;

/**
 * Builds the page or notice for one topic. A page never fails for its size: when the incident is
 * too big for SNS, alerts are left out (as many as needed, found by bisection), then long fields and
 * label lists are cut, and the message says so and links the full incident.
 */
export function buildPage(input: PageContext): Page {
  // Free text outside the budgeted fields is bounded up front, so the smallest page always fits.
  const ctx: PageContext = {
    ...input,
    service: cut(input.service, 200),
    reason: cut(input.reason, 1_000),
    respondWithin: cut(input.respondWithin, 200),
    incident: {
      ...input.incident,
      title: cut(input.incident.title, 2_000),
      externalURL: cut(input.incident.externalURL, 2_000),
    },
  };
  const full = compose(ctx, FULL);
  if (fits(full)) return full;
  for (const field of [1_000, 200, 40]) {
    const base = { field, labels: field === 40 ? 10 : 50 };
    if (!fits(compose(ctx, { ...base, alerts: 0 }))) continue;
    let low = 0;
    let high = ctx.incident.alerts.length;
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      if (fits(compose(ctx, { ...base, alerts: mid }))) low = mid;
      else high = mid - 1;
    }
    return compose(ctx, { ...base, alerts: low });
  }
  // Nothing of the incident fits (absurd label sets): send the headline and the link only.
  return compose(
    { ...ctx, incident: { ...ctx.incident, labels: {}, annotations: {}, alerts: [] } },
    {
      alerts: 0,
      field: 40,
      labels: 0,
    },
  );
}
