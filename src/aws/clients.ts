import type { Tracer } from '@aws-lambda-powertools/tracer';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDbStateStore } from '../adapters/dynamodb-state-store.ts';
import { secretCredentialSource } from '../adapters/secrets-manager-credentials.ts';
import { SecretsManagerSecretStore } from '../adapters/secrets-manager-secret-store.ts';
import { requireEnv } from '../config/bundled.ts';
import type { ResponderConfig } from '../config/schema.ts';
import { systemClock } from '../ports.ts';

/** Short timeouts: Alertmanager waits on the webhook, and a 503 it can retry beats a hung request. */
const requestHandler = { connectionTimeout: 1000, requestTimeout: 3000 };

export function stateStoreFromEnv(tracer: Tracer) {
  const client = tracer.captureAWSv3Client(new DynamoDBClient({ maxAttempts: 3, requestHandler }));
  return new DynamoDbStateStore({ client, tableName: requireEnv('STATE_TABLE_NAME') });
}

/** One secret store per container, shared by everything that reads secrets. */
export function secretStore(tracer: Tracer, config: ResponderConfig) {
  return new SecretsManagerSecretStore({
    client: tracer.captureAWSv3Client(new SecretsManagerClient({ maxAttempts: 3, requestHandler })),
    cacheSeconds: config.webhook.credentialCacheSeconds,
    clock: systemClock,
  });
}

export function webhookCredentialsFromEnv(secrets: SecretsManagerSecretStore, config: ResponderConfig) {
  return secretCredentialSource(secrets, requireEnv('WEBHOOK_SECRET_ARN'), config.webhook.basicAuthUsername);
}
