import { type RaiseDeps, raiseIncident } from '../../src/incidents/raise-incident.ts';
import type { FailoverWarning } from './failover-dns.ts';

/**
 * Pages what the humans must know although the failover went on: an old primary that could not be
 * fenced may come back and take writes. A P1 of its own, one per failover request.
 */
export function failoverWarningPager(deps: RaiseDeps) {
  return async (warning: FailoverWarning): Promise<void> => {
    await raiseIncident(
      {
        groupKey: `action:failover:warning:${warning.requestId}`,
        severity: 'P1',
        title: warning.title,
        labels: { alertname: 'FailoverNotFenced', kind: 'failover', subject: 'database', to: warning.to },
        summary: warning.summary,
        fingerprint: `failover-not-fenced-${warning.requestId}`,
        at: deps.clock.now().toISOString(),
        receiver: 'responder-failover',
        resolvedBecause: 'resolved by an operator',
        auditData: { requestId: warning.requestId, to: warning.to },
        actor: 'failover-function',
        escalation: {
          actionId: `${warning.requestId}-not-fenced-escalate`,
          trigger: 'alert',
          params: { source: 'failover' },
        },
      },
      deps,
    );
  };
}
