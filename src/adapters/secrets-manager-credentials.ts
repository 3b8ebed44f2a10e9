import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CredentialSource, WebhookCredential } from '../http/auth.ts';
import { type Clock, DependencyUnavailableError } from '../ports.ts';

export interface SecretsManagerCredentialSourceProps {
  readonly client: SecretsManagerClient;
  readonly secretId: string;
  /** Username accepted with basic auth when the secret does not name one. */
  readonly defaultUsername: string;
  /** How long a container reuses the value; a rotated token is picked up within this time. */
  readonly cacheSeconds: number;
  readonly clock: Clock;
}

/** Reads the webhook credential ({"token", "username"?}) from Secrets Manager, cached per container. */
export class SecretsManagerCredentialSource implements CredentialSource {
  private cached?: { value: WebhookCredential; until: number };
  private inflight?: Promise<WebhookCredential>;

  constructor(private readonly props: SecretsManagerCredentialSourceProps) {}

  async get(): Promise<WebhookCredential> {
    const now = this.props.clock.now().getTime();
    if (this.cached && this.cached.until > now) return this.cached.value;
    this.inflight ??= this.fetch().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async fetch(): Promise<WebhookCredential> {
    let secretString: string | undefined;
    try {
      const result = await this.props.client.send(
        new GetSecretValueCommand({ SecretId: this.props.secretId }),
      );
      secretString = result.SecretString;
    } catch (error) {
      throw new DependencyUnavailableError('webhook credential (Secrets Manager)', error);
    }
    const value = parseCredential(secretString, this.props.defaultUsername);
    this.cached = { value, until: this.props.clock.now().getTime() + this.props.cacheSeconds * 1000 };
    return value;
  }
}

/** Accepts {"token": "...", "username": "..."} or a bare token string. Never echoes the value in errors. */
export function parseCredential(
  secretString: string | undefined,
  defaultUsername: string,
): WebhookCredential {
  if (!secretString) throw new Error('the webhook credential secret has no SecretString');
  const trimmed = secretString.trim();
  if (!trimmed.startsWith('{')) return { token: trimmed, username: defaultUsername };
  let parsed: { token?: unknown; username?: unknown };
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    throw new Error('the webhook credential secret is neither JSON nor a bare token');
  }
  if (typeof parsed.token !== 'string' || parsed.token.length < 16) {
    throw new Error('the webhook credential secret needs a "token" of at least 16 characters');
  }
  return {
    token: parsed.token,
    username: typeof parsed.username === 'string' && parsed.username ? parsed.username : defaultUsername,
  };
}

export function staticCredentialSource(credential: WebhookCredential): CredentialSource {
  return { get: async () => credential };
}
