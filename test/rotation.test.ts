import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRotateAction, type RotateDeps } from '../functions/rotate/rotate-secret.ts';
import { ROTATION_STEPS, repairRotation, runRotationStep } from '../functions/rotate/rotation-steps.ts';
import { generatedStrategy } from '../functions/rotate/strategies/generated.ts';
import type { RotationStrategy } from '../functions/rotate/strategy.ts';
import { SecretsManagerVersions } from '../src/adapters/secrets-manager-versions.ts';
import { rotationSchema } from '../src/config/rotations.ts';
import { parseConfig } from '../src/config/schema.ts';
import { actionRequestSchema } from '../src/domain/actions.ts';
import { silentLog } from '../src/ports.ts';
import { startTestRuntime, type TestRuntime, testConfig } from './support/runtime.ts';

let counter = 0;
const rotateRequest = (secret: string, dryRun = false) =>
  actionRequestSchema.parse({
    actionId: `test-rotate-${Date.now()}-${++counter}`,
    kind: 'rotate',
    trigger: 'operator',
    requestedAt: new Date().toISOString(),
    dryRun,
    params: { secret },
  });

describe('Rotation: the local secret store keeps versions and labels as Secrets Manager does', () => {
  let t: TestRuntime;
  beforeAll(async () => {
    t = await startTestRuntime({
      config: testConfig({
        secrets: {
          rotations: [
            { secret: 'app/hmac', strategy: 'generated', bytes: 32 },
            { secret: 'app/token', strategy: 'generated', field: 'token', length: 40 },
          ],
        },
      }),
    });
  });
  afterAll(() => t?.stop());

  it('one version per label; AWSPREVIOUS follows AWSCURRENT; a second rotation waits for the first', async () => {
    const store = t.runtime.secrets;
    const first = await store.putSecretString('labels/x', 'one');
    const second = await store.putSecretString('labels/x', 'two');
    let described = await store.describeSecret('labels/x');
    expect(described.versions).toEqual(
      expect.arrayContaining([
        { versionId: first, stages: ['AWSPREVIOUS'] },
        { versionId: second, stages: ['AWSCURRENT'] },
      ]),
    );
    await expect(store.startRotation('labels/x')).rejects.toThrow(/not enabled for rotation/);
    await store.enableRotation('labels/x');
    const token = await store.startRotation('labels/x');
    await expect(store.startRotation('labels/x')).rejects.toThrow(/A previous rotation isn't complete/);
    await store.putPendingValue('labels/x', token, 'three');
    await store.putPendingValue('labels/x', token, 'three'); // the same again: nothing changes
    await expect(store.putPendingValue('labels/x', token, 'other')).rejects.toThrow(
      /already has another value/,
    );
    await expect(
      store.updateStage('labels/x', 'AWSCURRENT', { toVersionId: token, fromVersionId: first }),
    ).rejects.toThrow(/not on version/);
    await store.updateStage('labels/x', 'AWSCURRENT', { toVersionId: token, fromVersionId: second });
    described = await store.describeSecret('labels/x');
    expect(described.versions).toEqual(
      expect.arrayContaining([
        { versionId: second, stages: ['AWSPREVIOUS'] },
        { versionId: token, stages: ['AWSPENDING', 'AWSCURRENT'] },
      ]),
    );
    expect(described.versions.find((v) => v.versionId === first)).toBeUndefined();
    expect(await store.getSecretString('labels/x')).toBe('three');
  });

  it('rotates a generated secret: the new value is AWSCURRENT, the old one AWSPREVIOUS', async () => {
    await t.runtime.secrets.putSecretString('app/hmac', 'initial-value-0123456789abcdef');
    await t.runtime.secrets.enableRotation('app/hmac');
    const result = await t.runtime.runAction('rotate', rotateRequest('app/hmac'));
    expect(result).toMatchObject({ status: 'done', outcome: { status: 'completed' } });
    const current = await t.runtime.secrets.getSecretVersion('app/hmac', { stage: 'AWSCURRENT' });
    const previous = await t.runtime.secrets.getSecretVersion('app/hmac', { stage: 'AWSPREVIOUS' });
    expect(previous.value).toBe('initial-value-0123456789abcdef');
    expect(Buffer.from(current.value, 'base64url')).toHaveLength(32);
    expect(result.status === 'done' && (result.outcome.result as { steps: string[] }).steps).toHaveLength(4);
  });

  it('keeps the other fields of a JSON secret and replaces only its field; a dry run changes nothing', async () => {
    await t.runtime.secrets.putSecretString(
      'app/token',
      JSON.stringify({ token: 'x'.repeat(40), issuer: 'payments' }),
    );
    await t.runtime.secrets.enableRotation('app/token');
    const dry = await t.runtime.runAction('rotate', rotateRequest('app/token', true));
    expect(dry.status === 'done' && dry.outcome.summary).toMatch(
      /^dry run: nothing changed; rotating app\/token \(generated\) would run: createSecret: a new value of 40 characters in field "token"/,
    );
    expect(JSON.parse(await t.runtime.secrets.getSecretString('app/token')).token).toBe('x'.repeat(40));
    await t.runtime.runAction('rotate', rotateRequest('app/token'));
    const rotated = JSON.parse(await t.runtime.secrets.getSecretString('app/token'));
    expect(rotated.issuer).toBe('payments');
    expect(rotated.token).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(rotated.token).not.toBe('x'.repeat(40));
  });

  it('POST /api/rotations rotates a configured secret and lists its steps; anything else is a 400 that changes nothing', async () => {
    const before = await t.runtime.secrets.getSecretString('app/hmac');
    const unknown = await t.post('/api/rotations', { secret: 'app/unknown' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.details[0]).toMatch(/no rotation of 'app\/unknown' in secrets\.rotations/);
    expect((await t.post('/api/rotations', { secret: 'app/hmac', extra: true })).status).toBe(400);
    expect(await t.runtime.secrets.getSecretString('app/hmac')).toBe(before);
    const rotated = await t.post('/api/rotations', { secret: 'app/hmac' });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ secret: 'app/hmac', status: 'completed' });
    expect(rotated.body.result.steps.map((s: string) => s.split(':')[0])).toEqual([...ROTATION_STEPS]);
    expect(await t.runtime.secrets.getSecretString('app/hmac')).not.toBe(before);
    expect((await t.runtime.secrets.getSecretVersion('app/hmac', { stage: 'AWSPREVIOUS' })).value).toBe(
      before,
    );
  });

  it('a step that fails is repaired at once: AWSPENDING leaves the failed version, and the next rotation starts cleanly', async () => {
    const rotation = rotationSchema.parse({ secret: 'app/flaky', strategy: 'generated' });
    const config = parseConfig({
      service: 'svc',
      aws: { region: 'eu-west-1', drRegion: 'eu-central-1' },
      secrets: { rotations: [rotation] },
    });
    for (const failing of ROTATION_STEPS) {
      await t.runtime.secrets.putSecretString('app/flaky', `value-before-${failing}-0123456789`);
      await t.runtime.secrets.enableRotation('app/flaky');
      const real = generatedStrategy(rotation as never, { secrets: t.runtime.secrets, log: silentLog });
      const flaky: RotationStrategy = {
        ...real,
        async createValue(current) {
          if (failing === 'createSecret') throw new Error('injected createSecret failure');
          return real.createValue(current);
        },
        async setValue() {
          if (failing === 'setSecret') throw new Error('injected setSecret failure');
        },
        async testValue(pending) {
          if (failing === 'testSecret') throw new Error('injected testSecret failure');
          return real.testValue(pending);
        },
        async afterFinish() {
          if (failing === 'finishSecret') throw new Error('injected finishSecret failure');
        },
      };
      const deps: RotateDeps = {
        config,
        versions: t.runtime.secrets,
        secrets: t.runtime.secrets,
        log: silentLog,
        startRotation: async (id) => ({ token: await t.runtime.secrets.startRotation(id), stepsHere: true }),
        strategies: () => flaky,
      };
      const outcome = await createRotateAction(deps)(rotateRequest('app/flaky'));
      expect(outcome.status, failing).toBe('failed');
      expect(outcome.summary).toContain(`failed at ${failing}: injected ${failing} failure`);
      const described = await t.runtime.secrets.describeSecret('app/flaky');
      const pendingElsewhere = described.versions.filter(
        (v) => v.stages.includes('AWSPENDING') && !v.stages.includes('AWSCURRENT'),
      );
      expect(pendingElsewhere, failing).toEqual([]);
      // The next rotation needs no manual step.
      const next = await createRotateAction({ ...deps, strategies: () => real })(rotateRequest('app/flaky'));
      expect(next.status, `${failing}: ${next.summary}`).toBe('completed');
    }
  });
});

describe('Rotation: the Secrets Manager calls, exactly', () => {
  const sm = mockClient(SecretsManagerClient);
  afterAll(() => sm.restore());
  const rotation = rotationSchema.parse({ secret: 'app/key', strategy: 'generated', bytes: 32 });
  const strategy = generatedStrategy(rotation as never, {
    secrets: { getSecretString: async () => '' },
    log: silentLog,
  });
  const versions = new SecretsManagerVersions(new SecretsManagerClient({ region: 'eu-west-1' }));
  const deps = { versions, strategy, log: silentLog };
  const event = (Step: (typeof ROTATION_STEPS)[number]) => ({
    Step,
    SecretId: 'app/key',
    ClientRequestToken: 'tok-2',
  });
  const described = (stages: Record<string, string[]>, enabled = true) =>
    sm
      .on(DescribeSecretCommand)
      .resolves({ ARN: 'arn', Name: 'app/key', RotationEnabled: enabled, VersionIdsToStages: stages });

  it('createSecret puts the new value as AWSPENDING under the token, once', async () => {
    sm.reset();
    described({ 'tok-1': ['AWSCURRENT'], 'tok-2': ['AWSPENDING'] });
    sm.on(GetSecretValueCommand, { SecretId: 'app/key', VersionStage: 'AWSCURRENT' }).resolves({
      SecretString: 'old-value-0123456789',
      VersionId: 'tok-1',
      VersionStages: ['AWSCURRENT'],
    });
    sm.on(GetSecretValueCommand, {
      SecretId: 'app/key',
      VersionId: 'tok-2',
      VersionStage: 'AWSPENDING',
    }).rejects(new ResourceNotFoundException({ message: 'no such version', $metadata: {} }));
    await runRotationStep(event('createSecret'), deps);
    const puts = sm.commandCalls(PutSecretValueCommand);
    expect(puts).toHaveLength(1);
    expect(puts[0]?.args[0].input).toMatchObject({
      SecretId: 'app/key',
      ClientRequestToken: 'tok-2',
      VersionStages: ['AWSPENDING'],
    });
    expect(Buffer.from(String(puts[0]?.args[0].input.SecretString), 'base64url')).toHaveLength(32);
  });

  it('finishSecret moves AWSCURRENT with MoveToVersionId and RemoveFromVersionId', async () => {
    sm.reset();
    described({ 'tok-1': ['AWSCURRENT'], 'tok-2': ['AWSPENDING'] });
    sm.on(UpdateSecretVersionStageCommand).resolves({});
    await runRotationStep(event('finishSecret'), deps);
    expect(sm.commandCalls(UpdateSecretVersionStageCommand).map((c) => c.args[0].input)).toEqual([
      {
        SecretId: 'app/key',
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: 'tok-2',
        RemoveFromVersionId: 'tok-1',
      },
    ]);
  });

  it('guards: rotation disabled, an unknown token, a token already current, a token not pending', async () => {
    sm.reset();
    described({ 'tok-2': ['AWSPENDING'] }, false);
    await expect(runRotationStep(event('setSecret'), deps)).rejects.toThrow(/not enabled for rotation/);
    described({ 'tok-1': ['AWSCURRENT'] });
    await expect(runRotationStep(event('setSecret'), deps)).rejects.toThrow(
      /tok-2 has no stage for rotation/,
    );
    described({ 'tok-2': ['AWSCURRENT', 'AWSPENDING'] });
    expect(await runRotationStep(event('finishSecret'), deps)).toMatch(/already AWSCURRENT: nothing to do/);
    described({ 'tok-1': ['AWSCURRENT'], 'tok-2': ['AWSPREVIOUS'] });
    await expect(runRotationStep(event('testSecret'), deps)).rejects.toThrow(/not set as AWSPENDING/);
    expect(sm.commandCalls(UpdateSecretVersionStageCommand)).toHaveLength(0);
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it('the repair removes AWSPENDING from a failed version only after AWSCURRENT is checked', async () => {
    sm.reset();
    described({ 'tok-1': ['AWSCURRENT'], 'tok-2': ['AWSPENDING'] });
    sm.on(GetSecretValueCommand, { SecretId: 'app/key', VersionId: 'tok-1' }).resolves({
      SecretString: 'current-value-0123456789',
      VersionId: 'tok-1',
    });
    sm.on(GetSecretValueCommand, { SecretId: 'app/key', VersionId: 'tok-2' }).rejects(
      new ResourceNotFoundException({ message: 'no value', $metadata: {} }),
    );
    sm.on(UpdateSecretVersionStageCommand).resolves({});
    expect((await repairRotation('app/key', deps)).action).toBe('pending-removed');
    expect(sm.commandCalls(UpdateSecretVersionStageCommand).map((c) => c.args[0].input)).toEqual([
      { SecretId: 'app/key', VersionStage: 'AWSPENDING', RemoveFromVersionId: 'tok-2' },
    ]);
  });
});

describe('Rotation: Secrets Manager started it, the kill switch is off', () => {
  let t: TestRuntime;
  beforeAll(async () => {
    t = await startTestRuntime({
      config: testConfig({ secrets: { rotations: [{ secret: 'app/switched', strategy: 'generated' }] } }),
    });
  });
  afterAll(() => t?.stop());

  it('refuses createSecret before anything changes, opens no incident, and the next rotation after it is back runs', async () => {
    const { handleRotationEvent } = await import('../functions/rotate/rotate-secret.ts');
    const store = t.runtime.secrets;
    await store.putSecretString('app/switched', 'switched-value-0123456789');
    await store.enableRotation('app/switched');
    await t.runtime.store.setAutomationFlag({ enabled: false, reason: 'test' });
    const token = await store.startRotation('app/switched');
    const deps = {
      config: testConfig({ secrets: { rotations: [{ secret: 'app/switched', strategy: 'generated' }] } }),
      versions: store,
      secrets: store,
      log: silentLog,
      startRotation: async () => ({ token, stepsHere: false }),
      automation: t.runtime.store,
      incidents: t.runtime.store,
      audit: t.runtime.store,
      clock: { now: () => new Date() },
      dispatcher: t.runtime.dispatcher,
    };
    await expect(
      handleRotationEvent(
        { Step: 'createSecret', SecretId: 'app/switched', ClientRequestToken: token },
        deps,
      ),
    ).rejects.toThrow(/kill switch.*refused before anything changed/);
    expect(await store.getSecretString('app/switched')).toBe('switched-value-0123456789');
    expect((await t.runtime.store.listIncidents({ limit: 10 })).incidents).toEqual([]);
    // Back on: the repair takes AWSPENDING off the empty version and the rotation runs.
    await t.runtime.store.setAutomationFlag({ enabled: true, reason: 'test' });
    const result = await t.runtime.runAction('rotate', rotateRequest('app/switched'));
    expect(result).toMatchObject({ status: 'done', outcome: { status: 'completed' } });
    expect(await store.getSecretString('app/switched')).not.toBe('switched-value-0123456789');
  });
});
