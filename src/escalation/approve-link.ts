import { createHmac, timingSafeEqual } from 'node:crypto';
import { type AckKeys, verifyWithKeys } from './ack-link.ts';

/**
 * Signed approve links for a failover waiting for approval: `/approve/{request}.{expiry}.{signature}`,
 * the request id base64url-encoded, the signature an HMAC-SHA256 (128 bits, base64url) with the
 * ack-link key under its own label, so an ack link can never pass for an approve link.
 */
export interface ApproveToken {
  readonly requestId: string;
  readonly expiresAt: Date;
}

export type ApproveVerification =
  | { readonly ok: true; readonly token: ApproveToken }
  | { readonly ok: false; readonly reason: 'malformed' | 'bad-signature' | 'expired' };

const TOKEN = /^([A-Za-z0-9_-]{8,280})\.([0-9a-z]{1,10})\.([A-Za-z0-9_-]{22})$/;

function signature(key: string, requestId: string, expiresSeconds: number): string {
  return createHmac('sha256', key)
    .update(`responder-approve/v1|${requestId}|${expiresSeconds}`)
    .digest()
    .subarray(0, 16)
    .toString('base64url');
}

export function signApproveToken(key: string, token: ApproveToken): string {
  const expires = Math.floor(token.expiresAt.getTime() / 1000);
  return `${Buffer.from(token.requestId).toString('base64url')}.${expires.toString(36)}.${signature(key, token.requestId, expires)}`;
}

/** Checks the signature before the expiry, so a forged token learns nothing from the answer. */
export function verifyApproveToken(key: string, text: string, now: Date): ApproveVerification {
  const parts = TOKEN.exec(text);
  if (!parts) return { ok: false, reason: 'malformed' };
  const [, encoded = '', expiry = '', given = ''] = parts;
  const requestId = Buffer.from(encoded, 'base64url').toString('utf8');
  const expires = Number.parseInt(expiry, 36);
  const expected = Buffer.from(signature(key, requestId, expires));
  if (!timingSafeEqual(expected, Buffer.from(given))) return { ok: false, reason: 'bad-signature' };
  if (expires * 1000 <= now.getTime()) return { ok: false, reason: 'expired' };
  return { ok: true, token: { requestId, expiresAt: new Date(expires * 1000) } };
}

/** An approve link's token, checked with the current key, then the one before the last rotation. */
export function verifyApproveTokenWithKeys(
  keys: AckKeys,
  text: string,
  now: Date,
  maxLifetimeMs: number,
): ApproveVerification {
  return verifyWithKeys(keys, (key) => verifyApproveToken(key, text, now), maxLifetimeMs);
}
