import type { Tracer } from '@aws-lambda-powertools/tracer';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDbStateStore } from '../adapters/dynamodb-state-store.ts';
import { SecretsManagerCredentialSource } from '../adapters/secrets-manager-credentials.ts';
import { requireEnv } from '../config/bundled.ts';
import type { ResponderConfig } from '../config/schema.ts';
import { systemClock } from '../ports.ts';

/** Short timeouts: Alertmanager waits on the webhook, and a 503 it can retry beats a hung request. */
const requestHandler = { connectionTimeout: 1000, requestTimeout: 3000 };

export function stateStoreFromEnv(tracer: Tracer) {
  const client = tracer.captureAWSv3Client(new DynamoDBClient({ maxAttempts: 3, requestHandler }));
  return new DynamoDbStateStore({ client, tableName: requireEnv('STATE_TABLE_NAME') });
}

export function webhookCredentialsFromEnv(tracer: Tracer, config: ResponderConfig) {
  return new SecretsManagerCredentialSource({
    client: tracer.captureAWSv3Client(new SecretsManagerClient({ maxAttempts: 3, requestHandler })),
    secretId: requireEnv('WEBHOOK_SECRET_ARN'),
    defaultUsername: config.webhook.basicAuthUsername,
    cacheSeconds: config.webhook.credentialCacheSeconds,
    clock: systemClock,
  });
}
