import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseCredential, secretCredentialSource } from '../src/adapters/secrets-manager-credentials.ts';
import { SecretsManagerSecretStore } from '../src/adapters/secrets-manager-secret-store.ts';
import { authenticate, constantTimeEqual } from '../src/http/auth.ts';
import { DependencyUnavailableError } from '../src/ports.ts';

const credential = { token: 'a-long-enough-test-token', username: 'alertmanager' };
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('Function: authenticate', () => {
  it.each([
    ['Bearer a-long-enough-test-token', true],
    ['bearer a-long-enough-test-token', true],
    [basic('alertmanager', 'a-long-enough-test-token'), true],
    [undefined, false],
    ['', false],
    ['Bearer', false],
    ['Bearer a-long-enough-test-toke', false],
    ['Bearer a-long-enough-test-token-and-more', false],
    ['Token a-long-enough-test-token', false],
    [basic('root', 'a-long-enough-test-token'), false],
    [basic('alertmanager', 'wrong'), false],
    ['Basic not-base64-colonless', false],
  ])('%s -> %s', (header, ok) => {
    expect(authenticate(header, credential).ok).toBe(ok);
  });

  it('compares secrets of different lengths without throwing', () => {
    expect(constantTimeEqual('short', 'a much longer value')).toBe(false);
    expect(constantTimeEqual('same', 'same')).toBe(true);
  });
});

describe('Class: SecretsManagerSecretStore, as the webhook credential', () => {
  const secrets = mockClient(SecretsManagerClient);
  let now = 0;
  const clock = { now: () => new Date(now) };
  beforeEach(() => {
    secrets.reset();
    now = Date.parse('2026-11-23T03:00:00Z');
  });

  const source = () =>
    secretCredentialSource(
      new SecretsManagerSecretStore({
        client: new SecretsManagerClient({ region: 'eu-west-1' }),
        cacheSeconds: 300,
        clock,
      }),
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:responder-webhook-AbCdEf',
      'alertmanager',
    );

  it('reads the secret once per container and caches it for the configured time', async () => {
    // GIVEN
    secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ token: 'x'.repeat(32) }) });
    const credentials = source();
    // WHEN
    const [a, b] = await Promise.all([credentials.get(), credentials.get()]);
    now += 299_000;
    await credentials.get();
    // THEN
    expect(a).toEqual({ token: 'x'.repeat(32), username: 'alertmanager' });
    expect(b).toEqual(a);
    expect(secrets).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    expect(secrets).toHaveReceivedCommandWith(GetSecretValueCommand, {
      SecretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:responder-webhook-AbCdEf',
    });
  });

  it('picks up a rotated token once the cache expires', async () => {
    secrets
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: JSON.stringify({ token: 'old-token-0123456789' }) })
      .resolves({ SecretString: JSON.stringify({ token: 'new-token-0123456789', username: 'am' }) });
    const credentials = source();
    expect((await credentials.get()).token).toBe('old-token-0123456789');
    now += 301_000;
    expect(await credentials.get()).toEqual({ token: 'new-token-0123456789', username: 'am' });
  });

  it('reports Secrets Manager throttling as a dependency outage (the webhook answers 503)', async () => {
    secrets
      .on(GetSecretValueCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await expect(source().get()).rejects.toBeInstanceOf(DependencyUnavailableError);
  });

  it('says which secret is missing, without retrying as if it were an outage', async () => {
    secrets.on(GetSecretValueCommand).rejects(
      Object.assign(new Error('Secrets Manager can not find the specified secret.'), {
        name: 'ResourceNotFoundException',
      }),
    );
    const read = source().get();
    await expect(read).rejects.toThrow(
      /cannot read secret arn:aws:secretsmanager:.*responder-webhook-AbCdEf \(ResourceNotFoundException\)/,
    );
    await expect(read).rejects.not.toBeInstanceOf(DependencyUnavailableError);
  });

  it('never echoes a malformed secret in its error', () => {
    expect(() => parseCredential('{"token": "short"}', 'am')).toThrow(/at least 16 characters/);
    expect(() => parseCredential('{"token": "s3cr3t-value"', 'am')).toThrow(/neither JSON nor a bare token/);
    expect(() => parseCredential('{"token": "s3cr3t-value"', 'am')).not.toThrow(/s3cr3t/);
    expect(parseCredential('bare-token-value-123', 'am')).toEqual({
      token: 'bare-token-value-123',
      username: 'am',
    });
  });
});
