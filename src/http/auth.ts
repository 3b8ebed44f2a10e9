import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The shared credential Alertmanager and operators present: a Bearer token, or basic auth with it as password. */
export interface WebhookCredential {
  readonly token: string;
  readonly username: string;
  /**
   * The credential before the last rotation, accepted too while its grace period lasts
   * (`secrets.own.graceMinutes`), so Alertmanager's credentials_file can follow the rotation.
   */
  readonly previous?: { readonly token: string; readonly username: string };
}

export interface CredentialSource {
  get(): Promise<WebhookCredential>;
}

// Comparing fixed-length MACs keeps the comparison constant-time even when the lengths differ.
const comparisonKey = randomBytes(32);
const mac = (value: string) => createHmac('sha256', comparisonKey).update(value, 'utf8').digest();

export function constantTimeEqual(a: string, b: string): boolean {
  return timingSafeEqual(mac(a), mac(b));
}

export type AuthResult =
  | {
      ok: true;
      principal: string /** Accepted with the previous credential, in its grace period. */;
      previous?: true;
    }
  | { ok: false; reason: string };

/**
 * Checks an Authorization header against the credential, in either of Alertmanager's http_config
 * modes, and against the previous one while it is still accepted (both are always compared).
 */
export function authenticate(header: string | undefined, credential: WebhookCredential): AuthResult {
  const result = authenticateOne(header, credential);
  if (!credential.previous) return result;
  const previous = authenticateOne(header, credential.previous);
  if (result.ok || !previous.ok) return result;
  return { ...previous, previous: true };
}

function authenticateOne(
  header: string | undefined,
  credential: { readonly token: string; readonly username: string },
): AuthResult {
  if (!header) return { ok: false, reason: 'missing Authorization header' };
  // Transports join repeated headers with ", "; neither a token nor base64 holds a comma, so a comma
  // means several credentials were sent, and none of them is taken on trust.
  if (header.includes(',')) return { ok: false, reason: 'more than one Authorization value' };
  if (credential.token.trim().length === 0) return { ok: false, reason: 'no credential is configured' };
  const space = header.indexOf(' ');
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const value = space < 0 ? '' : header.slice(space + 1).trim();
  if (value.length === 0) return { ok: false, reason: 'empty credential' };
  if (scheme === 'bearer') {
    return constantTimeEqual(value, credential.token)
      ? { ok: true, principal: 'bearer' }
      : { ok: false, reason: 'invalid bearer token' };
  }
  if (scheme === 'basic') {
    // Strict base64: Buffer.from() would skip junk characters and accept a forged suffix.
    if (!BASE64.test(value) || value.length % 4 !== 0) {
      return { ok: false, reason: 'malformed basic credentials' };
    }
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return { ok: false, reason: 'malformed basic credentials' };
    const userOk = constantTimeEqual(decoded.slice(0, colon), credential.username);
    const passOk = constantTimeEqual(decoded.slice(colon + 1), credential.token);
    return userOk && passOk
      ? { ok: true, principal: `basic:${credential.username}` }
      : { ok: false, reason: 'invalid basic credentials' };
  }
  return { ok: false, reason: `unsupported authorization scheme '${scheme}'` };
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Only a Bearer challenge: a `Basic` one makes browsers prompt for, and then cache and replay,
 * credentials, which a cross-site page could ride on. Alertmanager sends basic auth unprompted.
 */
export const UNAUTHORIZED_HEADERS = {
  'www-authenticate': 'Bearer realm="responder"',
};
