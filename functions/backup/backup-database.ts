import { recordRequestOnly } from '../../src/actions/run-action.ts';

/** pg_dump streamed to S3. Until the backup issue lands, requests are recorded only. */
export const backupDatabase = recordRequestOnly('backup');
