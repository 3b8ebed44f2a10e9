import { DependencyUnavailableError } from '../ports.ts';

/** What an attempt returns when its conditional write lost to another writer: read again and retry. */
export const CONFLICT: unique symbol = Symbol('conflict');
export type Conflict = typeof CONFLICT;

export interface RetryOnConflictOptions<T> {
  /** How many attempts in all, the first included. */
  readonly attempts: number;
  /**
   * What the caller gets once every attempt lost: a value, or a throw.
   * @default - throws DependencyUnavailableError('state store (DynamoDB)'): too many concurrent writers,
   * which the API and the webhook answer with 503 so the caller tries again
   */
  readonly exhausted?: () => T;
}

/**
 * Optimistic concurrency: runs `attempt` (read, compute, write naming the version read) until it
 * returns anything but CONFLICT, at most `options.attempts` times. Errors are not retried: they
 * reach the caller at once.
 */
export async function retryOnConflict<T>(
  attempt: (index: number) => Promise<T | Conflict>,
  options: RetryOnConflictOptions<T>,
): Promise<T> {
  for (let index = 0; index < options.attempts; index++) {
    const result = await attempt(index);
    if (result !== CONFLICT) return result;
  }
  if (options.exhausted) return options.exhausted();
  throw new DependencyUnavailableError('state store (DynamoDB)', new Error('too many concurrent writers'));
}
