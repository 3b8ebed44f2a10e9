import { RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsManagerVersions } from '../../src/adapters/secrets-manager-versions.ts';
import { createActionHandler } from '../../src/aws/action-handler.ts';
import { OWN_SECRET_ENV, ownRotations } from '../../src/config/rotations.ts';
import type { ResponderConfig } from '../../src/config/schema.ts';
import { createRotateAction, handleRotationEvent } from './rotate-secret.ts';
import { isRotationEvent } from './rotation-steps.ts';

const client = new SecretsManagerClient({ maxAttempts: 3 });
const versions = new SecretsManagerVersions(client);

/** RotateSecret with immediate rotation: Secrets Manager then invokes this function for each step. */
async function startRotation(secretId: string) {
  const started = await client.send(new RotateSecretCommand({ SecretId: secretId, RotateImmediately: true }));
  return { token: started.VersionId ?? '', stepsHere: false };
}

// Responder's own secrets (the webhook credential, the ack-link key) are rotated as `generated`
// rotations on `secrets.own`: the stack creates them, so the config cannot name them; it passes their
// ARNs in OWN_WEBHOOK_SECRET_ARN / OWN_ACK_SECRET_ARN (lib/constructs/secret-rotation.ts), and they
// join `secrets.rotations` here, once per container.
let withOwn: ResponderConfig | undefined;
function rotationConfig(config: ResponderConfig): ResponderConfig {
  withOwn ??= {
    ...config,
    secrets: {
      ...config.secrets,
      rotations: [
        ...config.secrets.rotations,
        ...ownRotations(config, {
          webhookCredential: process.env[OWN_SECRET_ENV.webhookCredential],
          ackSigningKey: process.env[OWN_SECRET_ENV.ackSigningKey],
        }),
      ],
    },
  };
  return withOwn;
}

/**
 * Secrets Manager invokes this function with `{Step, SecretId, ClientRequestToken}` (its schedule, or
 * RotateSecret); alert routes and the CLI send action requests, which start a rotation.
 */
export const handler = await createActionHandler(
  'rotate',
  (env) =>
    createRotateAction({
      config: rotationConfig(env.config),
      versions,
      secrets: env.secrets,
      log: env.log,
      startRotation,
    }),
  {
    otherEvents: {
      matches: isRotationEvent,
      handle: (event, env) =>
        handleRotationEvent(event as Parameters<typeof handleRotationEvent>[0], {
          config: rotationConfig(env.config),
          versions,
          secrets: env.secrets,
          log: env.log,
          startRotation,
          incidents: env.incidents,
          audit: env.audit,
          clock: env.clock,
          dispatcher: env.dispatcher,
        }),
    },
  },
);
