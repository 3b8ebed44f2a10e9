import type { ActionResult } from '../../src/actions/run-action.ts';
import { personName } from '../../src/domain/text.ts';
import type { ApproveVerification } from '../../src/escalation/approve-link.ts';
import type { HttpRequest, HttpResponse } from '../../src/http/types.ts';
import type { Clock, Log } from '../../src/ports.ts';
import { escapeHtml, html } from './ack-pages.ts';
import { directFailoverCommand, type FailoverRoute, type StillRunning } from './failover-route.ts';

export interface ApproveLinkDeps {
  /** Checks a token's signature (the ack-link key, under its own label) and expiry. */
  readonly verify: (token: string) => Promise<ApproveVerification>;
  /** Approves the request: every gate runs again (`params.approve`). */
  readonly approve: (requestId: string, by: string) => Promise<ActionResult | StillRunning>;
  /** The DR region's failover function, named when it does not answer. */
  readonly direct?: FailoverRoute['direct'];
  readonly clock: Clock;
  readonly log: Log;
}

const FORBIDDEN = () =>
  html(
    403,
    'Link not valid',
    '<h1>This approve link is not valid</h1><p>It has expired or was altered. Approve with <code>responder failover approve &lt;request-id&gt;</code>, or request the failover again.</p>',
  );

/**
 * `GET /approve/{token}` shows the waiting failover and a button; `POST /approve/{token}` approves it
 * (every gate runs again). A GET never approves: mail scanners and link previews fetch links.
 */
export async function handleApproveLink(
  req: HttpRequest,
  token: string,
  deps: ApproveLinkDeps,
): Promise<HttpResponse> {
  if (req.method !== 'GET' && req.method !== 'POST' && req.method !== 'HEAD') {
    return { statusCode: 405, headers: { allow: 'GET, HEAD, POST' }, body: '' };
  }
  const verified = await deps.verify(token);
  if (!verified.ok) return FORBIDDEN();
  const { requestId, expiresAt } = verified.token;
  const id = escapeHtml(requestId);
  if (req.method !== 'POST') {
    return html(
      200,
      'Approve failover',
      `<h1>Approve the failover?</h1><p>Request <code>${id}</code>, until ${escapeHtml(expiresAt.toISOString())}. Every gate runs again when you approve: if the world changed, it is refused.</p><form method="post"><input name="by" placeholder="Your name" maxlength="80" autocomplete="name"><button type="submit">Approve failover</button></form>`,
    );
  }
  const form = new URLSearchParams(req.body.toString('utf8').slice(0, 4096));
  const by = personName(form.get('by') ?? '') || 'an approve link';
  let result: ActionResult | StillRunning;
  try {
    result = await deps.approve(requestId, by);
  } catch (error) {
    deps.log.error('failover approval by link not answered', { requestId, error: (error as Error).message });
    const command = deps.direct
      ? directFailoverCommand(deps.direct, { approve: requestId })
      : `responder failover approve ${requestId}`;
    return html(
      503,
      'Not approved',
      `<h1>The failover function did not answer</h1><p>Check what it did with <code>responder failover status</code>, then approve with <code>${escapeHtml(command)}</code>.</p>`,
    );
  }
  if (result.status === 'running') {
    deps.log.warn('failover approved by link, still running', { requestId, by });
    return html(
      202,
      'Approved',
      `<h1>Approved: the failover is running</h1><p>Every gate runs again, then DNS moves and is checked; that takes longer than this page waits. Follow it with <code>responder failover status</code>.</p>`,
    );
  }
  const summary = result.status === 'done' ? result.outcome.summary : `skipped: ${result.reason}`;
  const moved = result.status === 'done' && result.outcome.status === 'completed';
  deps.log.warn('failover approved by link', { requestId, by, moved });
  return html(
    200,
    moved ? 'Failed over' : 'Not failed over',
    `<h1>${moved ? 'Failed over' : 'Not failed over'}</h1><p>${escapeHtml(summary)}</p>`,
  );
}
