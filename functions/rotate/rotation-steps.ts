import { type Log, SecretVersionNotFoundError, type SecretVersions, STAGES } from '../../src/ports.ts';
import type { RotationStrategy } from './strategy.ts';

export const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
export type RotationStep = (typeof ROTATION_STEPS)[number];

/** The event Secrets Manager invokes a rotation function with. */
export interface RotationEvent {
  readonly Step: RotationStep;
  readonly SecretId: string;
  readonly ClientRequestToken: string;
}

export function isRotationEvent(event: unknown): event is RotationEvent {
  const e = event as Partial<RotationEvent> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.SecretId === 'string' &&
    typeof e.ClientRequestToken === 'string' &&
    (ROTATION_STEPS as readonly string[]).includes(e.Step as string)
  );
}

export interface StepDeps {
  readonly versions: SecretVersions;
  readonly strategy: RotationStrategy;
  readonly log: Log;
}

/** What a step did, for the audit trail and the CLI: one line. */
export type StepResult = string;

async function versionOrUndefined(
  versions: SecretVersions,
  secretId: string,
  which: { versionId?: string; stage?: string },
) {
  try {
    return await versions.getSecretVersion(secretId, which);
  } catch (error) {
    if (error instanceof SecretVersionNotFoundError) return undefined;
    throw error;
  }
}

/**
 * One step of Secrets Manager's rotation contract, with its standard guards: rotation is enabled,
 * the token is a version of the secret, a token already AWSCURRENT has nothing left to do, and one
 * that is not AWSPENDING is an error. Each step is safe to repeat.
 */
export async function runRotationStep(event: RotationEvent, deps: StepDeps): Promise<StepResult> {
  const { SecretId: secretId, ClientRequestToken: token, Step: step } = event;
  const { versions, strategy } = deps;
  const description = await versions.describeSecret(secretId);
  if (!description.rotationEnabled) {
    throw new Error(`secret ${secretId} is not enabled for rotation`);
  }
  const version = description.versions.find((v) => v.versionId === token);
  if (!version) {
    throw new Error(`secret version ${token} has no stage for rotation of secret ${secretId}`);
  }
  if (version.stages.includes(STAGES.current)) {
    return `${step}: version ${token} is already AWSCURRENT: nothing to do`;
  }
  if (!version.stages.includes(STAGES.pending)) {
    throw new Error(`secret version ${token} is not set as AWSPENDING for rotation of secret ${secretId}`);
  }

  switch (step) {
    case 'createSecret': {
      const current = await versions.getSecretVersion(secretId, { stage: STAGES.current });
      const existing = await versionOrUndefined(versions, secretId, {
        versionId: token,
        stage: STAGES.pending,
      });
      if (existing) return 'createSecret: the pending value exists already';
      // Before anything changes: a function that cannot reach the server fails here, untouched.
      await strategy.preflight(current.value);
      await versions.putPendingValue(secretId, token, await strategy.createValue(current.value));
      return `createSecret: new pending value stored as version ${token}`;
    }
    case 'setSecret': {
      const pending = await versions.getSecretVersion(secretId, { versionId: token, stage: STAGES.pending });
      const current = await versions.getSecretVersion(secretId, { stage: STAGES.current });
      const previous = await versionOrUndefined(versions, secretId, { stage: STAGES.previous });
      await strategy.setValue(pending.value, current.value, previous?.value);
      return 'setSecret: the pending value is set on the server';
    }
    case 'testSecret': {
      const pending = await versions.getSecretVersion(secretId, { versionId: token, stage: STAGES.pending });
      await strategy.testValue(pending.value);
      return 'testSecret: the pending value works';
    }
    case 'finishSecret': {
      const current = description.versions.find((v) => v.stages.includes(STAGES.current));
      await versions.updateStage(secretId, STAGES.current, {
        toVersionId: token,
        fromVersionId: current?.versionId,
      });
      if (strategy.afterFinish) {
        const now = await versions.getSecretVersion(secretId, { versionId: token });
        const previous = await versionOrUndefined(versions, secretId, { stage: STAGES.previous });
        await strategy.afterFinish(now.value, previous?.value);
      }
      return `finishSecret: version ${token} is AWSCURRENT (the one before is AWSPREVIOUS)`;
    }
  }
}

export interface RepairResult {
  readonly action: 'finished' | 'pending-removed' | 'nothing' | 'current-broken';
  readonly detail: string;
}

/**
 * After a rotation failed for good, leaves the secret so that the next rotation starts cleanly: a
 * pending value that works while the current one does not (the password was changed, finishSecret
 * never ran) finishes the rotation; otherwise AWSPENDING is removed from the failed version, but only
 * after checking that AWSCURRENT logs in, or when the failed version has no value at all (nothing was
 * set with it). When neither works, nothing is moved and the caller pages.
 */
export async function repairRotation(secretId: string, deps: StepDeps): Promise<RepairResult> {
  const { versions, strategy } = deps;
  const description = await versions.describeSecret(secretId);
  const current = description.versions.find((v) => v.stages.includes(STAGES.current));
  const pending = description.versions.find(
    (v) => v.stages.includes(STAGES.pending) && !v.stages.includes(STAGES.current),
  );
  if (!pending) return { action: 'nothing', detail: 'no rotation left pending' };
  const currentValue = current
    ? await versionOrUndefined(versions, secretId, { versionId: current.versionId })
    : undefined;
  const pendingValue = await versionOrUndefined(versions, secretId, { versionId: pending.versionId });
  const currentWorks = currentValue ? await strategy.works(currentValue.value) : false;
  if (currentWorks) {
    await versions.updateStage(secretId, STAGES.pending, { fromVersionId: pending.versionId });
    return {
      action: 'pending-removed',
      detail: `AWSCURRENT logs in; AWSPENDING removed from the failed version ${pending.versionId}`,
    };
  }
  if (!pendingValue) {
    // createSecret never stored a value (a pre-flight that could not reach the server): nothing was
    // set with this version, so its label can go even though AWSCURRENT does not log in from here.
    await versions.updateStage(secretId, STAGES.pending, { fromVersionId: pending.versionId });
    return {
      action: 'pending-removed',
      detail: `the failed version ${pending.versionId} has no value, so nothing was set with it: AWSPENDING removed (AWSCURRENT does not log in from here either: fix the network or the password before the next rotation)`,
    };
  }
  if (await strategy.works(pendingValue.value)) {
    await versions.updateStage(secretId, STAGES.current, {
      toVersionId: pending.versionId,
      fromVersionId: current?.versionId,
    });
    return {
      action: 'finished',
      detail: `the pending value logs in and AWSCURRENT did not: version ${pending.versionId} is now AWSCURRENT`,
    };
  }
  return {
    action: 'current-broken',
    detail:
      'neither AWSCURRENT nor the pending value logs in: nothing was moved; set a working password by hand and put it as AWSCURRENT',
  };
}
