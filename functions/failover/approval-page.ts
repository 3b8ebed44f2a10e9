import { type RaiseDeps, raiseIncident } from '../../src/incidents/raise-incident.ts';
import type { FailoverApproval } from '../../src/ports.ts';

/**
 * Opens (or updates) the P1 incident of a failover that waits for approval, and pages through the
 * escalation policy: the page says what to run to approve, until when, and the gate results now.
 */
export function approvalPager(
  deps: RaiseDeps,
  /**
   * A signed approve link for the request, made here (the local runtime). Without it (the DR region,
   * which holds no ack-link key) the escalate request asks the escalate function that pages to add
   * one (`params.approve`).
   */
  linkFor?: (approval: FailoverApproval) => Promise<string | undefined>,
) {
  return async (approval: FailoverApproval): Promise<string | undefined> => {
    const link = await linkFor?.(approval).catch(() => undefined);
    const gates = approval.gates
      .map((g) => `${g.gate}: ${g.ok ? 'passes' : 'REFUSED'} (${g.detail})`)
      .join('\n');
    const target = approval.to === 'dr' ? 'the DR site' : 'the primary site';
    const incident = await raiseIncident(
      {
        groupKey: `action:failover:approval`,
        severity: 'P1',
        title: `Failover to ${target} waits for approval until ${approval.expiresAt}`,
        labels: { alertname: 'FailoverApproval', kind: 'failover', subject: 'dns', to: approval.to },
        summary: `Approve with: responder failover approve ${approval.requestId}${link ? ` or open ${link}` : ''}  (every gate runs again when you approve)\n${gates}`,
        fingerprint: `failover-approval-${approval.requestId}`,
        at: approval.requestedAt,
        receiver: 'responder-failover',
        resolvedBecause: 'the failover was approved or ended',
        auditData: { requestId: approval.requestId, to: approval.to },
        actor: 'failover-function',
        escalation: {
          actionId: `${approval.requestId}-approval-escalate`,
          trigger: 'alert',
          params: {
            source: 'failover',
            ...(linkFor ? {} : { approve: { requestId: approval.requestId, expiresAt: approval.expiresAt } }),
          },
        },
      },
      deps,
    );
    return incident?.id;
  };
}
