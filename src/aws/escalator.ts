import { SNSClient } from '@aws-sdk/client-sns';
import type { SecretsManagerSecretStore } from '../adapters/secrets-manager-secret-store.ts';
import { SnsPager, topicArnsFromEnv } from '../adapters/sns-pager.ts';
import { requireEnv } from '../config/bundled.ts';
import type { ResponderConfig } from '../config/schema.ts';
import { ackKeysOf } from '../escalation/ack-link.ts';
import { Escalator } from '../escalation/escalator.ts';
import {
  type AuditTrail,
  type EscalationStore,
  type FloodLimits,
  type IncidentStore,
  type Log,
  systemClock,
} from '../ports.ts';
import { requestHandler } from './clients.ts';
import type { Tracing } from './powertools.ts';

/** What a function's escalator is built over: its own store, secrets and log. */
export interface EscalatorDeps {
  readonly tracing: Tracing;
  readonly config: ResponderConfig;
  readonly store: IncidentStore & EscalationStore & AuditTrail & FloodLimits;
  readonly secrets: SecretsManagerSecretStore;
  readonly log: Log;
}

/**
 * The escalator of a deployed function: SNS topics from ESCALATION_TOPICS, links under PUBLIC_URL,
 * the ack-link key from ACK_SECRET_ARN. Functions the stack does not wire for paging fail when they
 * try, naming the variable. In a module of its own so that only the functions that page (api,
 * escalate) bundle the SNS client and the escalation engine.
 */
export function escalatorFromEnv({ tracing, config, store, secrets, log }: EscalatorDeps) {
  const client = tracing.captureAWSv3Client(new SNSClient({ maxAttempts: 3, requestHandler }));
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
      // One cached read of AWSCURRENT and AWSPREVIOUS for signing and checking, so a link this
      // container signs is checked against the same key.
      ackKey: async () =>
        ackKeysOf(await secrets.getCurrentAndPrevious(requireEnv('ACK_SECRET_ARN'))).current,
      ackKeys: async () => ackKeysOf(await secrets.getCurrentAndPrevious(requireEnv('ACK_SECRET_ARN'))),
    },
  });
}
