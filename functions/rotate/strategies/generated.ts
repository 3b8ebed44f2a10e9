import { randomBytes, randomInt } from 'node:crypto';
import type { RotationConfig } from '../../../src/config/rotations.ts';
import { parseSecretJson, type StrategyFactory } from '../strategy.ts';

type GeneratedConfig = Extract<RotationConfig, { strategy: 'generated' }>;

const DEFAULT_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A fresh random value: `bytes` encoded, or `length` characters of `alphabet` (uniform, no modulo bias). */
export function generateValue(config: GeneratedConfig): string {
  if (config.length !== undefined || config.alphabet !== undefined) {
    const alphabet = [...new Set(config.alphabet ?? DEFAULT_ALPHABET)];
    return Array.from({ length: config.length ?? 40 }, () => alphabet[randomInt(alphabet.length)]).join('');
  }
  return randomBytes(config.bytes ?? 32).toString(config.encoding);
}

/**
 * Signing keys, HMAC secrets and API tokens: there is no server to change, so setSecret has nothing
 * to do and testSecret checks the value's shape. Consumers accept AWSCURRENT and AWSPREVIOUS during
 * their grace period (Responder's own webhook credential and ack-link key do).
 */
export const generatedStrategy: StrategyFactory<GeneratedConfig> = (config) => {
  const place = (current: string, value: string): string => {
    if (!config.field) return value;
    const json = parseSecretJson(config.secret, current);
    return JSON.stringify({ ...json, [config.field]: value });
  };
  const fieldOf = (secret: string): string | undefined => {
    if (!config.field) return secret;
    const field = parseSecretJson(config.secret, secret)[config.field];
    return typeof field === 'string' ? field : undefined;
  };
  return {
    async preflight(current) {
      if (config.field) parseSecretJson(config.secret, current);
    },
    async createValue(current) {
      return place(current, generateValue(config));
    },
    async setValue() {
      // Nothing to set: consumers read the secret.
    },
    async testValue(pending) {
      const value = fieldOf(pending);
      if (!value || value.length < 16) {
        throw new Error(`the pending value of ${config.secret} has no usable ${config.field ?? 'value'}`);
      }
    },
    async works(value) {
      return (fieldOf(value)?.length ?? 0) >= 16;
    },
    async describe() {
      const what =
        config.length !== undefined
          ? `${config.length} characters`
          : `${config.bytes ?? 32} random bytes (${config.encoding})`;
      return [
        `createSecret: a new value of ${what}${config.field ? ` in field "${config.field}"` : ''}, stored as AWSPENDING`,
        'setSecret: nothing to set (consumers read the secret)',
        'testSecret: the new value has the expected shape',
        `finishSecret: AWSCURRENT moves to it; consumers accept AWSPREVIOUS for ${config.graceMinutes} minutes`,
      ];
    },
  };
};
