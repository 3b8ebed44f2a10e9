import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SecretGeneration } from '../ports.ts';

/**
 * Signed acknowledge links: `/ack/{incidentId}.{tier}.{expiry}.{signature}`. The signature is an
 * HMAC-SHA256 (truncated to 128 bits, base64url) over the incident id, the tier the page went to and
 * the expiry, with a key kept in Secrets Manager. Short enough for an SMS, and a phone needs no login.
 */
export interface AckToken {
  readonly incidentId: string;
  /** The tier or route whose page carried the link: the acknowledgement says who it reached. */
  readonly tier: string;
  readonly expiresAt: Date;
}

export type AckVerification =
  | { readonly ok: true; readonly token: AckToken }
  | { readonly ok: false; readonly reason: 'malformed' | 'bad-signature' | 'expired' };

const TOKEN = /^(\d{8}-[0-9a-f]{8})\.([a-z0-9+-]{1,41})\.([0-9a-z]{1,10})\.([A-Za-z0-9_-]{22})$/;

function signature(key: string, incidentId: string, tier: string, expiresSeconds: number): string {
  return createHmac('sha256', key)
    .update(`responder-ack/v1|${incidentId}|${tier}|${expiresSeconds}`)
    .digest()
    .subarray(0, 16)
    .toString('base64url');
}

export function signAckToken(key: string, token: AckToken): string {
  const expires = Math.floor(token.expiresAt.getTime() / 1000);
  return `${token.incidentId}.${token.tier}.${expires.toString(36)}.${signature(key, token.incidentId, token.tier, expires)}`;
}

/** Checks the signature before the expiry, so a forged token learns nothing from the answer. */
export function verifyAckToken(key: string, text: string, now: Date): AckVerification {
  const parts = TOKEN.exec(text);
  if (!parts) return { ok: false, reason: 'malformed' };
  const [, incidentId = '', tier = '', expiry = '', given = ''] = parts;
  const expires = Number.parseInt(expiry, 36);
  const expected = Buffer.from(signature(key, incidentId, tier, expires));
  if (!timingSafeEqual(expected, Buffer.from(given))) return { ok: false, reason: 'bad-signature' };
  if (expires * 1000 <= now.getTime()) return { ok: false, reason: 'expired' };
  return { ok: true, token: { incidentId, tier, expiresAt: new Date(expires * 1000) } };
}

/** Reads the signing key: the secret's `key` field when it is JSON, else the whole string. */
export function ackKeyOf(secretString: string): string {
  let key = secretString;
  try {
    const parsed = JSON.parse(secretString) as unknown;
    if (parsed && typeof parsed === 'object' && typeof (parsed as { key?: unknown }).key === 'string') {
      key = (parsed as { key: string }).key;
    }
  } catch {
    // a plain string secret is the key itself
  }
  if (key.length < 32) {
    throw new Error('the ack signing secret is shorter than 32 characters: store a long random key');
  }
  return key;
}

/** The keys a link may carry a signature of: the current one and, after a rotation, the one it replaced. */
export interface AckKeys {
  readonly current: string;
  /** The key before the last rotation, and when it was replaced (AWSCURRENT's version was created). */
  readonly previous?: { readonly key: string; readonly replacedAt: Date };
}

/**
 * The ack keys in the secret's AWSCURRENT and AWSPREVIOUS versions. The previous key counts only
 * when it is a usable key and the current version's creation date is known (else: the current alone).
 */
export function ackKeysOf(secret: {
  readonly current: SecretGeneration;
  readonly previous?: SecretGeneration;
}): AckKeys {
  const current = ackKeyOf(secret.current.value);
  const replacedAt = secret.current.createdAt;
  if (!secret.previous || !replacedAt) return { current };
  try {
    const key = ackKeyOf(secret.previous.value);
    return key === current ? { current } : { current, previous: { key, replacedAt } };
  } catch {
    return { current };
  }
}

/** What checking one signed link says (ack and approve links alike). */
type LinkVerification =
  | { readonly ok: true; readonly token: { readonly expiresAt: Date } }
  | { readonly ok: false; readonly reason: string };

/**
 * Checks a signed link against the current key, then the previous one: links signed before the key
 * was rotated keep working until they expire. The previous key signed its links before `replacedAt`
 * (give or take a signer's cached copy), so none of them expires later than that plus
 * `maxLifetimeMs`; a link that does was made with the old key after it was replaced (a leaked key)
 * and is refused.
 */
export function verifyWithKeys<V extends LinkVerification>(
  keys: AckKeys,
  verify: (key: string) => V,
  maxLifetimeMs: number,
): V {
  const result = verify(keys.current);
  if (result.ok || result.reason !== 'bad-signature' || !keys.previous) return result;
  const old = verify(keys.previous.key);
  if (old.ok) {
    const latest = keys.previous.replacedAt.getTime() + maxLifetimeMs;
    return old.token.expiresAt.getTime() <= latest ? old : result;
  }
  return old.reason === 'expired' ? old : result;
}

/** An ack link's token, checked with the current key, then the previous one (`verifyWithKeys`). */
export function verifyAckTokenWithKeys(
  keys: AckKeys,
  text: string,
  now: Date,
  maxLifetimeMs: number,
): AckVerification {
  return verifyWithKeys(keys, (key) => verifyAckToken(key, text, now), maxLifetimeMs);
}
