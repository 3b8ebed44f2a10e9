import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { dynamoDbStateStore } from '../adapters/dynamodb-state-store.ts';
import { secretCredentialSource } from '../adapters/secrets-manager-credentials.ts';
import { SecretsManagerSecretStore } from '../adapters/secrets-manager-secret-store.ts';
import { requireEnv } from '../config/bundled.ts';
import type { ResponderConfig } from '../config/schema.ts';
import { systemClock } from '../ports.ts';
import type { Tracing } from './powertools.ts';

/** Short timeouts: Alertmanager waits on the webhook, and a 503 it can retry beats a hung request. */
export const requestHandler = { connectionTimeout: 1000, requestTimeout: 3000 };

/** The state table's client and name, for the stores over it (one client per container). */
export function stateTableFromEnv(tracing: Tracing) {
  const client = tracing.captureAWSv3Client(new DynamoDBClient({ maxAttempts: 3, requestHandler }));
  return { client, tableName: requireEnv('STATE_TABLE_NAME') };
}

export function stateStoreFromEnv(tracing: Tracing) {
  return dynamoDbStateStore(stateTableFromEnv(tracing));
}

/** One secret store per container, shared by everything that reads secrets. */
export function secretStore(tracing: Tracing, config: ResponderConfig) {
  return new SecretsManagerSecretStore({
    client: tracing.captureAWSv3Client(new SecretsManagerClient({ maxAttempts: 3, requestHandler })),
    cacheSeconds: config.webhook.credentialCacheSeconds,
    clock: systemClock,
  });
}

export function webhookCredentialsFromEnv(secrets: SecretsManagerSecretStore, config: ResponderConfig) {
  return secretCredentialSource(secrets, requireEnv('WEBHOOK_SECRET_ARN'), config.webhook.basicAuthUsername, {
    graceMinutes: config.secrets.own.graceMinutes,
    clock: systemClock,
  });
}
