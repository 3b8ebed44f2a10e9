import { AsyncLocalStorage } from 'node:async_hooks';

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** A promise and the functions that settle it, for a test to await what a fake will do. */
export function deferred<T = void>(): Deferred<T> {
  let resolve: (value: T) => void = () => undefined;
  let reject: (error: unknown) => void = () => undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Races tasks as concurrent callers would, and stands in for a slow dependency without a timer:
 * `hold()`, called from inside a task (e.g. by a fake SNS publish), waits until every other task of
 * the race has finished or is held too, then all held calls go on together. So whatever one task
 * does while another is inside the dependency happens there, every time: the widest overlap a slow
 * dependency could give, where a sleep only makes it likely. Outside a race, `hold()` does not wait.
 */
export function raceGate() {
  const context = new AsyncLocalStorage<number>();
  const running = new Set<number>();
  const held = new Map<number, Array<() => void>>();
  let ids = 0;
  const releaseWhenAllWait = () => {
    if (held.size === 0) return;
    for (const id of running) if (!held.has(id)) return;
    const waiting = [...held.values()].flat();
    held.clear();
    for (const release of waiting) release();
  };
  return {
    race(...tasks: Array<() => Promise<unknown>>): Promise<unknown[]> {
      // All are running before any starts, so the first to reach hold() waits for the others.
      const started = tasks.map((task) => ({ task, id: ++ids }));
      for (const { id } of started) running.add(id);
      return Promise.all(
        started.map(({ task, id }) =>
          context.run(id, async () => {
            try {
              return await task();
            } finally {
              running.delete(id);
              releaseWhenAllWait();
            }
          }),
        ),
      );
    },
    hold(): Promise<void> {
      const id = context.getStore();
      if (id === undefined || !running.has(id)) return Promise.resolve();
      return new Promise<void>((resolve) => {
        held.set(id, [...(held.get(id) ?? []), resolve]);
        releaseWhenAllWait();
      });
    },
  };
}
