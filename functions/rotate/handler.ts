import { createActionHandler } from '../../src/aws/action-handler.ts';
import { rotateSecret } from './rotate-secret.ts';

export const handler = await createActionHandler('rotate', () => rotateSecret);
