import { recordRequestOnly } from '../../src/actions/run-action.ts';

/** Health probes (HTTP, TCP, PostgreSQL, Redis, TLS, DNS). Until the probes issue lands, requests are recorded only. */
export const runProbes = recordRequestOnly('probe');
