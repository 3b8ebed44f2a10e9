import type { RotationConfig } from '../../src/config/rotations.ts';
import type { Log, SecretStore } from '../../src/ports.ts';

/**
 * What one rotation strategy does at each of Secrets Manager's four steps. Values are the secret
 * strings as stored (JSON for PostgreSQL and Redis). Every method must be safe to repeat: Secrets
 * Manager retries a step that failed or timed out, and the repair asks `works` at any moment.
 */
export interface RotationStrategy {
  /**
   * Before createSecret changes anything: the server answers with the current value, within the
   * config's connect timeout; a failure names the network (subnets, security groups), not the secret.
   */
  preflight(current: string): Promise<void>;
  /** createSecret: the pending value, from the current one (a new password, the other user). */
  createValue(current: string): Promise<string>;
  /** setSecret: makes the pending value work on the server, keeping the current one working. */
  setValue(pending: string, current: string, previous: string | undefined): Promise<void>;
  /** testSecret: proves the pending value works (logs in, answers). */
  testValue(pending: string): Promise<void>;
  /** After finishSecret moved AWSCURRENT: drop what two rotations ago left (Redis's oldest password). */
  afterFinish?(current: string, previous: string | undefined): Promise<void>;
  /** Whether a value logs in right now: the repair's question. */
  works(value: string): Promise<boolean>;
  /** What each step would do, for a dry run: one line per step. */
  describe(current: string): Promise<string[]>;
}

export interface StrategyContext {
  /** Reads other secrets (the master or admin secret) at AWSCURRENT. */
  readonly secrets: SecretStore;
  readonly log: Log;
}

export type StrategyFactory<C extends RotationConfig = RotationConfig> = (
  config: C,
  context: StrategyContext,
) => RotationStrategy;

/** A secret's JSON, with a clear error for one that is not. */
export function parseSecretJson(secretId: string, value: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(value) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // below
  }
  throw new Error(`secret ${secretId} is not a JSON object: store it as {"username": ..., "password": ...}`);
}
