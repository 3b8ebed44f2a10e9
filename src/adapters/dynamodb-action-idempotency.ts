import { IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import type { ActionIdempotency } from '../ports.ts';
import { STATE_KEY_PREFIXES, STATE_TABLE_KEYS } from './state-table-schema.ts';

/** How long an action id is remembered, covering EventBridge and Lambda async retries (up to 24 h). */
const ACTION_MEMORY_SECONDS = 2 * 86400;

/**
 * Where there is no Lambda context (the local runtime), an action in progress holds its id for
 * Lambda's own 15-minute limit; the action handler registers each invocation's context instead.
 */
const WITHOUT_LAMBDA = { getRemainingTimeInMillis: () => 900_000 } as Context;

export interface DynamoDbActionIdempotencyProps {
  readonly client: DynamoDBClient;
  readonly tableName: string;
}

/**
 * Powertools idempotency records for action requests, in the state table: all under one partition
 * key (`STATE_KEY_PREFIXES.actionIdempotency`, which IAM's `dynamodb:LeadingKeys` names), sorted by
 * `action#<hash of the action id>`, and removed by the table's TTL on `expiresAt`.
 */
export function dynamoDbActionIdempotency(props: DynamoDbActionIdempotencyProps): ActionIdempotency {
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName: props.tableName,
    awsSdkV3Client: props.client,
    keyAttr: STATE_TABLE_KEYS.partitionKey,
    sortKeyAttr: STATE_TABLE_KEYS.sortKey,
    staticPkValue: STATE_KEY_PREFIXES.actionIdempotency,
    expiryAttr: STATE_TABLE_KEYS.ttl,
  });
  const config = new IdempotencyConfig({
    eventKeyJmesPath: 'actionId',
    throwOnNoIdempotencyKey: true,
    expiresAfterSeconds: ACTION_MEMORY_SECONDS,
    lambdaContext: WITHOUT_LAMBDA,
  });
  return { persistenceStore, config };
}
