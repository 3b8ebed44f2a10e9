import { recordRequestOnly } from '../../src/actions/run-action.ts';

/** Route 53 failover to the DR site and back. Until the failover issue lands, requests are recorded only. */
export const failoverDns = recordRequestOnly('failover');
