import { createActionHandler } from '../../src/aws/action-handler.ts';
import { createEscalateAction } from './escalate-incident.ts';

export const handler = createActionHandler('escalate', createEscalateAction);
