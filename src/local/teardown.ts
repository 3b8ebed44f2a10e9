import type { Log } from '../ports.ts';

/**
 * What the local runtime has started, stopped in reverse order: on Ctrl-C, and when a later part of
 * the start fails, so a failed start leaves no server, port or data-folder claim behind.
 */
export class Teardown {
  private readonly steps: Array<{ readonly what: string; readonly stop: () => unknown }> = [];

  /** Registers how to stop something just started. */
  add(what: string, stop: () => unknown): void {
    this.steps.push({ what, stop });
  }

  /** Stops everything registered, newest first; a step that fails is logged and the rest still run. */
  async run(log: Log): Promise<void> {
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      try {
        await step.stop();
      } catch (error) {
        log.warn(`stopping ${step.what} failed`, { error: (error as Error).message });
      }
    }
  }
}
