import type { CredentialSource, WebhookCredential } from '../http/auth.ts';
import type { Clock, RotatedSecretReader } from '../ports.ts';

export interface CredentialGrace {
  /** How long AWSPREVIOUS is accepted after AWSCURRENT's version was created (`secrets.own.graceMinutes`). */
  readonly graceMinutes: number;
  readonly clock: Clock;
}

/**
 * The webhook credential kept in a secret ({"token", "username"?}), read through the (caching)
 * secret store: AWSCURRENT, and AWSPREVIOUS until `graceMinutes` after AWSCURRENT's version was
 * created (when that date is unknown, or the previous value is unreadable, only AWSCURRENT). Removing
 * AWSPREVIOUS from its version ends the grace at once (once the cache expires).
 */
export function secretCredentialSource(
  secrets: RotatedSecretReader,
  secretId: string,
  defaultUsername: string,
  grace: CredentialGrace,
): CredentialSource {
  return {
    get: async () => {
      const { current, previous } = await secrets.getCurrentAndPrevious(secretId);
      const credential = parseCredential(current.value, defaultUsername);
      const until = current.createdAt ? current.createdAt.getTime() + grace.graceMinutes * 60_000 : 0;
      if (!previous || grace.clock.now().getTime() >= until) return credential;
      let before: WebhookCredential;
      try {
        before = parseCredential(previous.value, defaultUsername);
      } catch {
        return credential;
      }
      if (before.token === credential.token && before.username === credential.username) return credential;
      return { ...credential, previous: { token: before.token, username: before.username } };
    },
  };
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
