import { createActionHandler } from '../../src/aws/action-handler.ts';
import { backupDatabase } from './backup-database.ts';

export const handler = await createActionHandler('backup', () => backupDatabase);
