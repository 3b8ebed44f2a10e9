import { createActionHandler } from '../../src/aws/action-handler.ts';
import { runProbes } from './run-probes.ts';

export const handler = createActionHandler('probe', runProbes);
