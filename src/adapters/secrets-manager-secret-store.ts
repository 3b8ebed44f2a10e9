import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { type Clock, DependencyUnavailableError, type SecretStore } from '../ports.ts';

export interface SecretsManagerSecretStoreProps {
  readonly client: SecretsManagerClient;
  /** How long a container reuses a value; a rotated secret is picked up within this time. */
  readonly cacheSeconds: number;
  readonly clock: Clock;
}

/** Errors that waiting will not fix: the secret is missing or this function may not read it. */
const PERMANENT = new Set(['ResourceNotFoundException', 'AccessDeniedException', 'DecryptionFailure']);

/** Reads secrets (the AWSCURRENT version) from Secrets Manager, cached per container and per secret. */
export class SecretsManagerSecretStore implements SecretStore {
  private readonly cache = new Map<string, { value: string; until: number }>();
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(private readonly props: SecretsManagerSecretStoreProps) {}

  async getSecretString(secretId: string): Promise<string> {
    const cached = this.cache.get(secretId);
    if (cached && cached.until > this.props.clock.now().getTime()) return cached.value;
    let pending = this.inflight.get(secretId);
    if (!pending) {
      pending = this.fetch(secretId).finally(() => this.inflight.delete(secretId));
      this.inflight.set(secretId, pending);
    }
    return pending;
  }

  private async fetch(secretId: string): Promise<string> {
    let value: string | undefined;
    try {
      value = (await this.props.client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString;
    } catch (error) {
      const name = (error as { name?: string }).name ?? '';
      if (PERMANENT.has(name)) {
        throw new Error(
          `cannot read secret ${secretId} (${name}): check its name and this function's access`,
        );
      }
      // The dependency's name reaches unauthenticated callers in 503 bodies: no secret ids in it.
      throw new DependencyUnavailableError(
        'secret store (Secrets Manager)',
        new Error(`reading ${secretId}: ${(error as Error)?.message ?? String(error)}`, { cause: error }),
      );
    }
    if (!value) throw new Error(`secret ${secretId} has no SecretString (binary secrets are not supported)`);
    this.cache.set(secretId, {
      value,
      until: this.props.clock.now().getTime() + this.props.cacheSeconds * 1000,
    });
    return value;
  }
}
