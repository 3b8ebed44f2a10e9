import { recordRequestOnly } from '../../src/actions/run-action.ts';

/** Four-step Secrets Manager rotation. Until the rotation issue lands, requests are recorded only. */
export const rotateSecret = recordRequestOnly('rotate');
