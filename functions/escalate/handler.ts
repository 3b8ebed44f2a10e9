import { createActionHandler } from '../../src/aws/action-handler.ts';
import { escalateIncident } from './escalate-incident.ts';

export const handler = createActionHandler('escalate', () => escalateIncident);
