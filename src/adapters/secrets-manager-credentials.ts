import type { CredentialSource, WebhookCredential } from '../http/auth.ts';
import type { SecretStore } from '../ports.ts';

/** The webhook credential kept in a secret ({"token", "username"?}), read through the (caching) secret store. */
export function secretCredentialSource(
  secrets: SecretStore,
  secretId: string,
  defaultUsername: string,
): CredentialSource {
  return { get: async () => parseCredential(await secrets.getSecretString(secretId), defaultUsername) };
}

/** Accepts {"token": "...", "username": "..."} or a bare token string. Never echoes the value in errors. */
export function parseCredential(
  secretString: string | undefined,
  defaultUsername: string,
): WebhookCredential {
  if (!secretString) throw new Error('the webhook credential secret has no SecretString');
  const trimmed = secretString.trim();
  if (!trimmed.startsWith('{')) {
    // A blank or short secret would let an empty or guessable token in.
    if (trimmed.length < 16) {
      throw new Error('the webhook credential secret holds a bare token shorter than 16 characters');
    }
    return { token: trimmed, username: defaultUsername };
  }
  let parsed: { token?: unknown; username?: unknown };
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    throw new Error('the webhook credential secret is neither JSON nor a bare token');
  }
  if (typeof parsed.token !== 'string' || parsed.token.trim().length < 16) {
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
