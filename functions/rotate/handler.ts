import { RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsManagerVersions } from '../../src/adapters/secrets-manager-versions.ts';
import { createActionHandler } from '../../src/aws/action-handler.ts';
import { withOwnRotations } from '../../src/aws/own-rotations.ts';
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

// Responder's own secrets join `secrets.rotations` once per container (src/aws/own-rotations.ts).
let withOwn: ResponderConfig | undefined;
function rotationConfig(config: ResponderConfig): ResponderConfig {
  withOwn ??= withOwnRotations(config);
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
          automation: env.automation,
          incidents: env.incidents,
          audit: env.audit,
          clock: env.clock,
          dispatcher: env.dispatcher,
        }),
    },
  },
);
