import { OWN_SECRET_ENV, ownRotations } from '../config/own-secrets.ts';
import type { ResponderConfig } from '../config/schema.ts';

/**
 * The config with Responder's own secrets (the webhook credential, the ack-link key) among
 * `secrets.rotations`, as `generated` rotations on `secrets.own`: the stack creates those secrets, so
 * the config cannot name them; it passes their ARNs in OWN_WEBHOOK_SECRET_ARN / OWN_ACK_SECRET_ARN
 * (lib/constructs/secret-rotation.ts) to the rotate function and the API.
 */
export function withOwnRotations(
  config: ResponderConfig,
  env: NodeJS.ProcessEnv = process.env,
): ResponderConfig {
  return {
    ...config,
    secrets: {
      ...config.secrets,
      rotations: [
        ...config.secrets.rotations,
        ...ownRotations(config, {
          webhookCredential: env[OWN_SECRET_ENV.webhookCredential],
          ackSigningKey: env[OWN_SECRET_ENV.ackSigningKey],
        }),
      ],
    },
  };
}
