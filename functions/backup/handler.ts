import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDbBackupCatalog } from '../../src/adapters/dynamodb-backup-catalog.ts';
import { StateTable } from '../../src/adapters/state-table.ts';
import { createActionHandler } from '../../src/aws/action-handler.ts';
import { requireEnv } from '../../src/config/bundled.ts';
import { createBackupAction } from './backup-database.ts';
import { ECSClient, fargateRunnerFromEnv, fargateStarter } from './fargate-task.ts';

// A part upload that hangs fails after two minutes rather than holding the backup to its timeout.
const s3 = new S3Client({
  maxAttempts: 3,
  requestHandler: { connectionTimeout: 5000, requestTimeout: 120_000 },
});
const catalog = new DynamoDbBackupCatalog(
  new StateTable({
    client: new DynamoDBClient({ maxAttempts: 3 }),
    tableName: requireEnv('STATE_TABLE_NAME'),
  }),
);
const runner = fargateRunnerFromEnv();

export const handler = await createActionHandler('backup', (env) =>
  createBackupAction({
    config: env.config,
    s3,
    bucket: process.env.BACKUP_BUCKET ?? '',
    catalog,
    secrets: env.secrets,
    clock: env.clock,
    log: env.log,
    startTask: runner ? fargateStarter(new ECSClient({ maxAttempts: 3 }), runner) : undefined,
  }),
);
