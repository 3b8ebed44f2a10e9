import type { RotationConfig, SecretsConfig } from './rotations.ts';

/** The ARNs of Responder's own secrets that the stack created and rotates (absent: not rotated here). */
export interface OwnSecretArns {
  /** The webhook and API credential, `{"token","username"}`. */
  readonly webhookCredential?: string;
  /** The ack-link HMAC key, `{"key"}`. */
  readonly ackSigningKey?: string;
}

/** The environment variables the stack passes the rotate function the own secrets' ARNs in. */
export const OWN_SECRET_ENV = {
  webhookCredential: 'OWN_WEBHOOK_SECRET_ARN',
  ackSigningKey: 'OWN_ACK_SECRET_ARN',
} as const satisfies Record<keyof OwnSecretArns, string>;

/**
 * Responder's own secrets as `generated` rotations on `secrets.own` (schedule, window, grace): the
 * webhook credential's `token` (48 characters, as the stack generates it; `username` is kept) and the
 * ack-link `key` (64 characters). The rotate function adds these to `secrets.rotations` at init, with
 * the ARNs the stack passes it (`OWN_SECRET_ENV`): the config cannot name secrets the stack creates.
 */
export function ownRotations(
  config: { readonly secrets: SecretsConfig },
  arns: OwnSecretArns,
): RotationConfig[] {
  const { schedule, window, graceMinutes } = config.secrets.own;
  // Written out rather than parsed: this runs in Lambda bundles that carry no config schema (zod).
  const own = (secret: string, field: string, length: number): RotationConfig => ({
    secret,
    strategy: 'generated',
    schedule,
    window,
    connectTimeoutSeconds: 5,
    field,
    length,
    encoding: 'base64url',
    graceMinutes,
  });
  return [
    ...(arns.webhookCredential ? [own(arns.webhookCredential, 'token', 48)] : []),
    ...(arns.ackSigningKey ? [own(arns.ackSigningKey, 'key', 64)] : []),
  ];
}
