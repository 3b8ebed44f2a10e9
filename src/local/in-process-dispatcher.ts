import { randomUUID } from 'node:crypto';
import { appendFile } from 'node:fs/promises';
import type { ActionKind } from '../config/schema.ts';
import {
  ACTION_REQUESTED,
  type ActionRequest,
  type ActionRequestedEvent,
  EVENT_SOURCE,
} from '../domain/actions.ts';
import type { ActionDispatcher, Log } from '../ports.ts';

export type ActionEventHandler = (event: ActionRequestedEvent) => Promise<unknown>;

export interface InProcessDispatcherProps {
  readonly handlers: Readonly<Record<ActionKind, ActionEventHandler>>;
  readonly log: Log;
  readonly region: string;
  /** Where requests that failed every attempt are kept, as the stack's dead-letter queues keep them. */
  readonly deadLetterFile?: string;
  /** Delays before each retry; Lambda's async invocation retries twice. */
  readonly retryDelaysMs?: readonly number[];
}

/** Stands in for the event bus: the same envelope, handed to the action handlers after the caller returns. */
export class InProcessDispatcher implements ActionDispatcher {
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly props: InProcessDispatcherProps) {}

  static envelope(request: ActionRequest, region: string): ActionRequestedEvent {
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': ACTION_REQUESTED,
      source: EVENT_SOURCE,
      account: '000000000000',
      time: new Date().toISOString(),
      region,
      resources: request.incidentId ? [`responder:incident/${request.incidentId}`] : [],
      detail: request,
    };
  }

  async dispatch(requests: readonly ActionRequest[]): Promise<void> {
    for (const request of requests) {
      const event = InProcessDispatcher.envelope(request, this.props.region);
      const run = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.deliver(event));
      this.pending.add(run);
      void run.finally(() => this.pending.delete(run));
    }
  }

  private async deliver(event: ActionRequestedEvent): Promise<void> {
    const handler = this.props.handlers[event.detail.kind];
    const delays = this.props.retryDelaysMs ?? [1000, 2000];
    for (let attempt = 0; ; attempt++) {
      try {
        await handler(event);
        return;
      } catch (error) {
        const delay = delays[attempt];
        if (delay === undefined) {
          this.props.log.error('action request dead-lettered after retries', {
            actionId: event.detail.actionId,
            kind: event.detail.kind,
            error: (error as Error).message,
          });
          if (this.props.deadLetterFile) {
            await appendFile(
              this.props.deadLetterFile,
              `${JSON.stringify({ event, error: (error as Error).message, at: new Date().toISOString() })}\n`,
              // The request's params can name secrets and hosts: owner-only, like the rest of the data folder.
              { mode: 0o600 },
            ).catch(() => undefined);
          }
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** Resolves when every request dispatched so far has been handled (or dead-lettered). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}
