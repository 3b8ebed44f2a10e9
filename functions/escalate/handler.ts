import { createActionHandler } from '../../src/aws/action-handler.ts';
import { escalatorFromEnv } from '../../src/aws/escalator.ts';
import { createEscalateAction } from './escalate-incident.ts';

// The one action function that pages: it gets the SNS client and escalator the others go without.
export const handler = await createActionHandler('escalate', createEscalateAction, {
  escalator: escalatorFromEnv,
});
