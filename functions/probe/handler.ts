import { createActionHandler } from '../../src/aws/action-handler.ts';
import { createProbeAction } from './run-probes.ts';

export const handler = createActionHandler('probe', createProbeAction);
