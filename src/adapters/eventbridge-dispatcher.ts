import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { ACTION_REQUESTED, type ActionRequest, EVENT_SOURCE } from '../domain/actions.ts';
import { type ActionDispatcher, DependencyUnavailableError } from '../ports.ts';

const BATCH = 10; // PutEvents accepts at most 10 entries per call
/** PutEvents refuses an entry (and its whole call) over 256 KB. */
const MAX_ENTRY_BYTES = 256 * 1024;

/** Puts one "Action Requested" event per request on the bus; the bus rules route them by `detail.kind`. */
export class EventBridgeDispatcher implements ActionDispatcher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
    /** Waits between resends; tests inject one that records the delay and returns at once. */
    private readonly sleep: (ms: number) => Promise<void> = (ms) =>
      new Promise((resolve) => setTimeout(resolve, ms)),
  ) {}

  async dispatch(requests: readonly ActionRequest[]): Promise<void> {
    for (let start = 0; start < requests.length; start += BATCH) {
      let entries: PutEventsRequestEntry[] = requests.slice(start, start + BATCH).map((request) => ({
        EventBusName: this.busName,
        Source: EVENT_SOURCE,
        DetailType: ACTION_REQUESTED,
        Detail: JSON.stringify(request),
        Resources: request.incidentId ? [`responder:incident/${request.incidentId}`] : [],
      }));
      for (const entry of entries) {
        // Checked here, since no local stand-in enforces it: retrying an oversized entry cannot help.
        const size = Buffer.byteLength(entry.Detail ?? '') + Buffer.byteLength(entry.DetailType ?? '') + 64;
        if (size > MAX_ENTRY_BYTES) {
          throw new Error(
            `an action request of ${size} bytes exceeds EventBridge's 256 KB entry limit; the request builder must bound it`,
          );
        }
      }
      // Entries can fail one by one (throttling); resend only those, a couple of times, then give up loudly.
      for (let attempt = 0; entries.length > 0; attempt++) {
        let failed: PutEventsRequestEntry[];
        try {
          const result = await this.client.send(new PutEventsCommand({ Entries: entries }));
          failed = entries.filter((_, i) => result.Entries?.[i]?.ErrorCode);
        } catch (error) {
          throw new DependencyUnavailableError('event bus (EventBridge)', error);
        }
        if (failed.length === 0) break;
        if (attempt >= 2) {
          throw new DependencyUnavailableError(
            'event bus (EventBridge)',
            new Error(`${failed.length} action request(s) were not accepted after ${attempt + 1} attempts`),
          );
        }
        entries = failed;
        await this.sleep(100 * 2 ** attempt);
      }
    }
  }
}
