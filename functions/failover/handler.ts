import { createActionHandler } from '../../src/aws/action-handler.ts';
import { failoverDns } from './failover-dns.ts';

export const handler = await createActionHandler('failover', () => failoverDns);
