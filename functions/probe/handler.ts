import { createActionHandler } from '../../src/aws/action-handler.ts';
import { createProbeAction } from './run-probes.ts';

export const handler = await createActionHandler('probe', createProbeAction);
