import { describe, expect, it } from 'vitest';
import { DependencyUnavailableError } from '../src/ports.ts';
import { CONFLICT, type Conflict, retryOnConflict } from '../src/state/retry-on-conflict.ts';

/** An attempt that loses its conditional write `losses` times, then returns `value`. */
function losing<T>(losses: number, value: T) {
  const calls: number[] = [];
  const attempt = async (index: number) => {
    calls.push(index);
    return calls.length > losses ? value : CONFLICT;
  };
  return { attempt, calls };
}

describe('Function: retryOnConflict', () => {
  it('returns the first attempt that did not lose, and tries no more', async () => {
    // Prepare
    const { attempt, calls } = losing(2, 'written');

    // Act
    const result = await retryOnConflict(attempt, { attempts: 5 });

    // Assess
    expect(result).toBe('written');
    expect(calls).toEqual([0, 1, 2]);
  });

  it('returns undefined and other falsy results as results, not as conflicts', async () => {
    // Prepare
    const { attempt, calls } = losing(0, undefined);

    // Act
    const result = await retryOnConflict(attempt, { attempts: 5 });

    // Assess
    expect(result).toBeUndefined();
    expect(calls).toEqual([0]);
  });

  it('gives up after N lost attempts with the 503 error: too many concurrent writers', async () => {
    // Prepare
    const { attempt, calls } = losing(Number.POSITIVE_INFINITY, 'never');

    // Act
    const result = retryOnConflict(attempt, { attempts: 4 });

    // Assess
    await expect(result).rejects.toBeInstanceOf(DependencyUnavailableError);
    await expect(result).rejects.toMatchObject({
      dependency: 'state store (DynamoDB)',
      message: 'state store (DynamoDB) is unavailable: too many concurrent writers',
    });
    expect(calls).toEqual([0, 1, 2, 3]);
  });

  it('succeeds on the last allowed attempt', async () => {
    // Prepare
    const { attempt, calls } = losing(3, 'just in time');

    // Act
    const result = await retryOnConflict(attempt, { attempts: 4 });

    // Assess
    expect(result).toBe('just in time');
    expect(calls).toHaveLength(4);
  });

  it('answers what `exhausted` gives once every attempt lost, a value or its own error', async () => {
    // Prepare
    const first = losing(Number.POSITIVE_INFINITY, 'never');
    const second = losing(Number.POSITIVE_INFINITY, 'never');

    // Act
    const quiet = await retryOnConflict(first.attempt, { attempts: 2, exhausted: () => 'gave up' });
    const loud = retryOnConflict(second.attempt, {
      attempts: 3,
      exhausted: () => {
        throw new Error('kept changing; the next run records it');
      },
    });

    // Assess
    expect(quiet).toBe('gave up');
    expect(first.calls).toHaveLength(2);
    await expect(loud).rejects.toThrow('kept changing; the next run records it');
    expect(second.calls).toHaveLength(3);
  });

  it('does not retry other errors: they reach the caller from the attempt that threw', async () => {
    // Prepare
    let calls = 0;
    const failure = new Error('ProvisionedThroughputExceededException');
    const attempt = async (): Promise<string | Conflict> => {
      calls++;
      if (calls === 1) return CONFLICT;
      throw failure;
    };

    // Act
    const result = retryOnConflict(attempt, { attempts: 5, exhausted: () => 'gave up' });

    // Assess
    await expect(result).rejects.toBe(failure);
    expect(calls).toBe(2);
  });
});
