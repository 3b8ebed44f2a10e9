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
      { graceMinutes: 60, clock },
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
    // One read of each label, AWSCURRENT and AWSPREVIOUS, per cache period.
    expect(secrets).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
    for (const VersionStage of ['AWSCURRENT', 'AWSPREVIOUS']) {
      expect(secrets).toHaveReceivedCommandWith(GetSecretValueCommand, {
        SecretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:responder-webhook-AbCdEf',
        VersionStage,
      });
    }
  });

  const notFound = () =>
    Object.assign(
      new Error("Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS"),
      {
        name: 'ResourceNotFoundException',
      },
    );

  it('picks up a rotated token once the cache expires', async () => {
    secrets.on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' }).rejects(notFound());
    secrets
      .on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' })
      .resolvesOnce({ SecretString: JSON.stringify({ token: 'old-token-0123456789' }) })
      .resolves({ SecretString: JSON.stringify({ token: 'new-token-0123456789', username: 'am' }) });
    const credentials = source();
    expect((await credentials.get()).token).toBe('old-token-0123456789');
    now += 301_000;
    expect(await credentials.get()).toEqual({ token: 'new-token-0123456789', username: 'am' });
  });

  it('accepts AWSPREVIOUS until graceMinutes after AWSCURRENT was created, then only AWSCURRENT', async () => {
    // GIVEN a rotation 59 minutes ago: the new version was created then
    const rotatedAt = new Date(now - 59 * 60_000);
    secrets.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' }).resolves({
      SecretString: JSON.stringify({ token: 'new-token-0123456789', username: 'alertmanager' }),
      CreatedDate: rotatedAt,
    });
    secrets.on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' }).resolves({
      SecretString: JSON.stringify({ token: 'old-token-0123456789', username: 'alertmanager' }),
      CreatedDate: new Date(now - 90 * 86_400_000),
    });
    const credentials = source();
    // WHEN Alertmanager still sends the old token, or already the new one
    const within = await credentials.get();
    // THEN both are accepted; the old one is marked as such
    expect(authenticate('Bearer new-token-0123456789', within)).toEqual({ ok: true, principal: 'bearer' });
    expect(authenticate('Bearer old-token-0123456789', within)).toEqual({
      ok: true,
      principal: 'bearer',
      previous: true,
    });
    expect(authenticate(basic('alertmanager', 'old-token-0123456789'), within).ok).toBe(true);
    // WHEN the grace period (60 minutes after the rotation) is over, though the cache is still warm
    now = rotatedAt.getTime() + 60 * 60_000;
    const after = await credentials.get();
    expect(authenticate('Bearer old-token-0123456789', after).ok).toBe(false);
    expect(authenticate('Bearer new-token-0123456789', after).ok).toBe(true);
    expect(secrets).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
  });

  it('accepts only AWSCURRENT when there is no AWSPREVIOUS, or its creation date is unknown', async () => {
    secrets.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' }).resolves({
      SecretString: JSON.stringify({ token: 'new-token-0123456789' }),
    });
    secrets.on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' }).resolves({
      SecretString: JSON.stringify({ token: 'old-token-0123456789' }),
    });
    expect(await source().get()).toEqual({ token: 'new-token-0123456789', username: 'alertmanager' });
    secrets.reset();
    secrets.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' }).resolves({
      SecretString: JSON.stringify({ token: 'new-token-0123456789' }),
      CreatedDate: new Date(now),
    });
    secrets.on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' }).rejects(notFound());
    expect(await source().get()).toEqual({ token: 'new-token-0123456789', username: 'alertmanager' });
  });

  it('an AWSPREVIOUS that cannot be read for throttling is an outage too (503), not a silent lock-out', async () => {
    secrets.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' }).resolves({
      SecretString: JSON.stringify({ token: 'new-token-0123456789' }),
      CreatedDate: new Date(now),
    });
    secrets
      .on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' })
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await expect(source().get()).rejects.toBeInstanceOf(DependencyUnavailableError);
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
