import { recordRequestOnly } from '../../src/actions/run-action.ts';

/** Paging along the escalation matrix through SNS. Until the escalation issue lands, requests are recorded only. */
export const escalateIncident = recordRequestOnly('escalate');
