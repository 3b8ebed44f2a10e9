import type { Acknowledgement } from '../../src/domain/escalation.ts';
import type { Incident } from '../../src/domain/incident.ts';
import { personName } from '../../src/domain/text.ts';
import type { AckResult, Escalator } from '../../src/escalation/escalator.ts';
import type { HttpRequest, HttpResponse } from '../../src/http/types.ts';
import type { EscalationStore, IncidentStore, Log } from '../../src/ports.ts';

/** The link is the credential: keep it out of referrers, caches and frames. */
export const HTML_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
};

export const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

export function html(
  statusCode: number,
  title: string,
  body: string,
  headers: Record<string, string> = {},
): HttpResponse {
  return {
    statusCode,
    headers: { ...HTML_HEADERS, ...headers },
    body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex"><title>${escapeHtml(title)}</title><style>body{font:17px/1.45 system-ui,sans-serif;max-width:34rem;margin:1.5rem auto;padding:0 1rem;color:#111}h1{font-size:1.3rem}.sev{font-weight:700}input,button{font:inherit;padding:.7rem;width:100%;box-sizing:border-box;margin:.3rem 0}button{background:#b00020;color:#fff;border:0;border-radius:6px}.muted{color:#555}</style></head><body>${body}</body></html>`,
  };
}

function summary(incident: Incident): string {
  return `<p><span class="sev">${escapeHtml(incident.severity)}</span> ${escapeHtml(incident.title)}</p><p class="muted">Incident ${escapeHtml(incident.id)}, ${escapeHtml(incident.status)} since ${escapeHtml(incident.openedAt)}</p>`;
}

const alreadyResolved = (statusCode: number, incident: Incident) =>
  html(statusCode, 'Resolved', `<h1>Already resolved</h1>${summary(incident)}`);

const alreadyAcknowledged = (incident: Incident, ack: Acknowledgement | undefined) =>
  html(
    200,
    'Acknowledged',
    `<h1>Already acknowledged</h1>${summary(incident)}<p>By ${escapeHtml(ack?.by ?? '')} at ${escapeHtml(ack?.at ?? '')}.</p>`,
  );

const FORBIDDEN = () =>
  html(
    403,
    'Link not valid',
    '<h1>This acknowledge link is not valid</h1><p>It has expired or was altered. Acknowledge with <code>responder ack &lt;incident&gt;</code> or <code>POST /api/incidents/{id}/ack</code>.</p>',
  );

/** Reads "by" from the form a phone posts; anything odd becomes a plain, short name. */
function nameFrom(req: HttpRequest, tier: string): string {
  const form = new URLSearchParams(req.body.toString('utf8').slice(0, 4096));
  const by = personName(form.get('by') ?? '');
  return by || `a recipient of the ${tier} page`;
}

/**
 * `GET /ack/{token}` shows the incident and a button; `POST /ack/{token}` acknowledges. A GET never
 * acknowledges: mail scanners and link previews fetch links, and must not silence a page.
 */
export async function handleAckLink(
  req: HttpRequest,
  token: string,
  deps: {
    readonly escalator: Escalator;
    readonly incidents: IncidentStore;
    readonly escalations: EscalationStore;
    readonly log: Log;
  },
): Promise<HttpResponse> {
  if (req.method !== 'GET' && req.method !== 'POST') {
    return html(405, 'Method not allowed', '<h1>Method not allowed</h1>', { allow: 'GET, POST' });
  }
  const verified = await deps.escalator.verifyLink(token);
  if (!verified.ok) {
    deps.log.warn('ack link refused', { reason: verified.reason });
    return FORBIDDEN();
  }
  const { incidentId, tier } = verified.token;
  const incident = await deps.incidents.getIncident(incidentId);
  if (!incident) return FORBIDDEN();
  if (req.method === 'GET') {
    const escalation = await deps.escalations.getEscalation(incidentId);
    if (incident.status === 'resolved') return alreadyResolved(200, incident);
    if (escalation?.acknowledged) return alreadyAcknowledged(incident, escalation.acknowledged);
    return html(
      200,
      `Acknowledge ${incident.severity}`,
      `<h1>Acknowledge this incident?</h1>${summary(incident)}<form method="post"><label>Your name<input name="by" maxlength="80" autocomplete="name"></label><button type="submit">Acknowledge: stop paging the next tier</button></form>`,
    );
  }
  const by = nameFrom(req, tier);
  const result: AckResult = await deps.escalator.acknowledge(incidentId, by, `link:${tier}`);
  switch (result.outcome) {
    case 'acknowledged':
      return html(
        200,
        'Acknowledged',
        `<h1>Acknowledged</h1>${summary(incident)}<p>By ${escapeHtml(by)}. No further tiers will be paged; those already paged are being told.</p>`,
      );
    case 'already-acknowledged':
      return alreadyAcknowledged(incident, result.escalation.acknowledged);
    case 'resolved':
      return alreadyResolved(409, incident);
    case 'no-incident':
      return FORBIDDEN();
  }
}
