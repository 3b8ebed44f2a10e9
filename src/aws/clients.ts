import type { Tracer } from '@aws-lambda-powertools/tracer';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { dynamoDbStateStore } from '../adapters/dynamodb-state-store.ts';
import { secretCredentialSource } from '../adapters/secrets-manager-credentials.ts';
import { SecretsManagerSecretStore } from '../adapters/secrets-manager-secret-store.ts';
import { SnsPager, topicArnsFromEnv } from '../adapters/sns-pager.ts';
import { requireEnv } from '../config/bundled.ts';
import type { ResponderConfig } from '../config/schema.ts';
import { ackKeyOf } from '../escalation/ack-link.ts';
import { Escalator } from '../escalation/escalator.ts';
import {
  type AuditTrail,
  type EscalationStore,
  type FloodLimits,
  type IncidentStore,
  type Log,
  systemClock,
} from '../ports.ts';

/** Short timeouts: Alertmanager waits on the webhook, and a 503 it can retry beats a hung request. */
const requestHandler = { connectionTimeout: 1000, requestTimeout: 3000 };

/** The state table's client and name, for the stores over it (one client per container). */
export function stateTableFromEnv(tracer: Tracer) {
  const client = tracer.captureAWSv3Client(new DynamoDBClient({ maxAttempts: 3, requestHandler }));
  return { client, tableName: requireEnv('STATE_TABLE_NAME') };
}

export function stateStoreFromEnv(tracer: Tracer) {
  return dynamoDbStateStore(stateTableFromEnv(tracer));
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

/**
 * The escalator of a deployed function: SNS topics from ESCALATION_TOPICS, links under PUBLIC_URL,
 * the ack-link key from ACK_SECRET_ARN. Functions the stack does not wire for paging fail when they
 * try, naming the variable.
 */
export function escalatorFromEnv(
  tracer: Tracer,
  config: ResponderConfig,
  store: IncidentStore & EscalationStore & AuditTrail & FloodLimits,
  secrets: SecretsManagerSecretStore,
  log: Log,
) {
  const client = tracer.captureAWSv3Client(new SNSClient({ maxAttempts: 3, requestHandler }));
  return new Escalator({
    config,
    incidents: store,
    escalations: store,
    audit: store,
    floodLimits: store,
    log,
    clock: systemClock,
    pager: new SnsPager({ client, topicArns: topicArnsFromEnv(process.env.ESCALATION_TOPICS) }),
    links: {
      publicUrl: process.env.PUBLIC_URL ?? '',
      ackKey: async () => ackKeyOf(await secrets.getSecretString(requireEnv('ACK_SECRET_ARN'))),
    },
  });
}
