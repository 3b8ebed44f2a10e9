import { createHmac, timingSafeEqual } from 'node:crypto';

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
