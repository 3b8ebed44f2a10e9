/**
 * The Fargate entry point (`node task.mjs` in the backup image): one backup of a `runner: fargate`
 * database, for dumps that do not fit in Lambda's 15 minutes. The backup function starts it with the
 * request in BACKUP_REQUEST; it runs the same body under its own action id (`<id>-task`), so it has
 * the kill switch, the audit trail, the catalog and the incident on failure like any other run.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { runActionRequest } from '../../src/actions/run-action.ts';
import { dynamoDbActionIdempotency } from '../../src/adapters/dynamodb-action-idempotency.ts';
import { DynamoDbBackupCatalog } from '../../src/adapters/dynamodb-backup-catalog.ts';
import { dynamoDbStateStore } from '../../src/adapters/dynamodb-state-store.ts';
import { EventBridgeDispatcher } from '../../src/adapters/eventbridge-dispatcher.ts';
import { StateTable } from '../../src/adapters/state-table.ts';
import { secretStore } from '../../src/aws/clients.ts';
import { powertools } from '../../src/aws/powertools.ts';
import { bundledConfig, requireEnv } from '../../src/config/bundled.ts';
import { actionRequestSchema } from '../../src/domain/actions.ts';
import { systemClock } from '../../src/ports.ts';
import { createBackupAction } from './backup-database.ts';

async function main(): Promise<number> {
  const config = bundledConfig();
  const { tracing, log } = await powertools('responder-backup-task');
  const parsed = actionRequestSchema.safeParse(JSON.parse(requireEnv('BACKUP_REQUEST')));
  if (!parsed.success) {
    log.error('malformed BACKUP_REQUEST', { issues: parsed.error.issues.map((issue) => issue.message) });
    return 2;
  }
  const request = { ...parsed.data, actionId: `${parsed.data.actionId}-task` };
  const client = new DynamoDBClient({ maxAttempts: 3 });
  const tableName = requireEnv('STATE_TABLE_NAME');
  const store = dynamoDbStateStore({ client, tableName });
  const secrets = secretStore(tracing, config);
  const perform = createBackupAction({
    config,
    s3: new S3Client({
      maxAttempts: 3,
      requestHandler: { connectionTimeout: 5000, requestTimeout: 120_000 },
    }),
    bucket: requireEnv('BACKUP_BUCKET'),
    catalog: new DynamoDbBackupCatalog(new StateTable({ client, tableName })),
    secrets,
    clock: systemClock,
    log,
  });
  const result = await runActionRequest('backup', request, perform, {
    config,
    incidents: store,
    audit: store,
    automation: store,
    idempotency: dynamoDbActionIdempotency({ client, tableName }),
    clock: systemClock,
    log,
    dispatcher: new EventBridgeDispatcher(
      new EventBridgeClient({ maxAttempts: 3 }),
      requireEnv('EVENT_BUS_NAME'),
    ),
  });
  log.info('backup task finished', { result });
  return result.status === 'done' && result.outcome.status === 'failed' ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(JSON.stringify({ level: 'ERROR', message: 'backup task failed', error: error.message }));
    process.exit(1);
  },
);
