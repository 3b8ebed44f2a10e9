import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  type Clock,
  DependencyUnavailableError,
  type RotatedSecretReader,
  type SecretGeneration,
  type SecretStore,
} from '../ports.ts';

export interface SecretsManagerSecretStoreProps {
  readonly client: SecretsManagerClient;
  /** How long a container reuses a value; a rotated secret is picked up within this time. */
  readonly cacheSeconds: number;
  readonly clock: Clock;
}

/** Errors that waiting will not fix: the secret is missing or this function may not read it. */
const PERMANENT = new Set(['ResourceNotFoundException', 'AccessDeniedException', 'DecryptionFailure']);

type Generations = Awaited<ReturnType<RotatedSecretReader['getCurrentAndPrevious']>>;

/**
 * Reads secrets (the AWSCURRENT version, or AWSCURRENT and AWSPREVIOUS with their creation dates)
 * from Secrets Manager, cached per container and per secret for `cacheSeconds`.
 */
export class SecretsManagerSecretStore implements SecretStore, RotatedSecretReader {
  private readonly cache = new Map<string, { value: string; until: number }>();
  private readonly inflight = new Map<string, Promise<string>>();
  private readonly generations = new Map<string, { value: Generations; until: number }>();
  private readonly inflightGenerations = new Map<string, Promise<Generations>>();

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

  /**
   * AWSCURRENT and AWSPREVIOUS, each with its version's CreatedDate (two GetSecretValue calls, cached
   * together so both are seen as of one moment). No version labelled AWSPREVIOUS: `previous` absent.
   */
  async getCurrentAndPrevious(secretId: string): Promise<Generations> {
    const cached = this.generations.get(secretId);
    if (cached && cached.until > this.props.clock.now().getTime()) return cached.value;
    let pending = this.inflightGenerations.get(secretId);
    if (!pending) {
      pending = this.fetchGenerations(secretId).finally(() => this.inflightGenerations.delete(secretId));
      this.inflightGenerations.set(secretId, pending);
    }
    return pending;
  }

  private async fetchGenerations(secretId: string): Promise<Generations> {
    const [current, previous] = await Promise.allSettled([
      this.version(secretId, 'AWSCURRENT'),
      this.version(secretId, 'AWSPREVIOUS'),
    ]);
    if (current.status === 'rejected') throw this.readError(secretId, current.reason);
    if (
      previous.status === 'rejected' &&
      (previous.reason as { name?: string }).name !== 'ResourceNotFoundException'
    ) {
      throw this.readError(secretId, previous.reason);
    }
    const value: Generations = {
      current: current.value,
      ...(previous.status === 'fulfilled' ? { previous: previous.value } : {}),
    };
    this.generations.set(secretId, {
      value,
      until: this.props.clock.now().getTime() + this.props.cacheSeconds * 1000,
    });
    return value;
  }

  private async version(secretId: string, stage: string): Promise<SecretGeneration> {
    const got = await this.props.client.send(
      new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }),
    );
    if (!got.SecretString) {
      throw new Error(`secret ${secretId} has no SecretString (binary secrets are not supported)`);
    }
    return { value: got.SecretString, ...(got.CreatedDate ? { createdAt: new Date(got.CreatedDate) } : {}) };
  }

  private async fetch(secretId: string): Promise<string> {
    let value: string | undefined;
    try {
      value = (await this.props.client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString;
    } catch (error) {
      throw this.readError(secretId, error);
    }
    if (!value) throw new Error(`secret ${secretId} has no SecretString (binary secrets are not supported)`);
    this.cache.set(secretId, {
      value,
      until: this.props.clock.now().getTime() + this.props.cacheSeconds * 1000,
    });
    return value;
  }

  /** Errors that waiting will not fix name the secret; the rest are an outage the caller may retry. */
  private readError(secretId: string, error: unknown): Error {
    if (error instanceof Error && /has no SecretString/.test(error.message)) return error;
    const name = (error as { name?: string }).name ?? '';
    if (PERMANENT.has(name)) {
      return new Error(`cannot read secret ${secretId} (${name}): check its name and this function's access`);
    }
    // The dependency's name reaches unauthenticated callers in 503 bodies: no secret ids in it.
    return new DependencyUnavailableError(
      'secret store (Secrets Manager)',
      new Error(`reading ${secretId}: ${(error as Error)?.message ?? String(error)}`, { cause: error }),
    );
  }
}
