import type { InvokeCommandInput, InvokeCommandOutput } from '@aws-sdk/client-lambda';
import type { ActionResult } from '../actions/run-action.ts';

/**
 * Sends one Lambda `Invoke`: a client's `send` with the command built from the caller's own import of
 * the Lambda client, so a caller can build both on first use (the API) or at once (the CLI).
 */
export type InvokeFunction = (
  input: InvokeCommandInput,
  options?: { readonly abortSignal?: AbortSignal },
) => Promise<InvokeCommandOutput>;

/** The function was invoked and failed (an unhandled error), or answered something that is no action result. */
export class ActionFunctionError extends Error {
  override readonly name = 'ActionFunctionError';
}

function isActionResult(value: unknown): value is ActionResult {
  if (typeof value !== 'object' || value === null) return false;
  const result = value as { status?: unknown; outcome?: unknown; reason?: unknown };
  if (result.status === 'skipped') return typeof result.reason === 'string';
  return result.status === 'done' && typeof result.outcome === 'object' && result.outcome !== null;
}

/**
 * Invokes an action function (probe, backup, rotate, failover) with one action request, the payload
 * `aws lambda invoke` would send, and reads its answer: `{status: 'done', outcome}` or
 * `{status: 'skipped', reason}`. `wait: false` invokes it asynchronously (`InvocationType: Event`,
 * Lambda queues it and retries it on failure) and returns nothing. Lambda's own errors (throttling,
 * access, a region that does not answer) are thrown as the SDK raised them; a function that failed or
 * answered nonsense as an `ActionFunctionError`.
 */
export async function invokeAction(
  invoke: InvokeFunction,
  functionName: string,
  request: unknown,
  options: {
    /** Names the function in errors: "the probe function". */
    readonly what: string;
    /** @default true */
    readonly wait?: boolean;
    readonly abortSignal?: AbortSignal;
  },
): Promise<ActionResult | undefined> {
  const wait = options.wait ?? true;
  const answer = await invoke(
    {
      FunctionName: functionName,
      InvocationType: wait ? 'RequestResponse' : 'Event',
      Payload: JSON.stringify(request),
    },
    { abortSignal: options.abortSignal },
  );
  if (!wait) return undefined;
  const payload = Buffer.from(answer.Payload ?? new Uint8Array()).toString('utf8');
  if (answer.FunctionError) throw new ActionFunctionError(`${options.what} failed: ${payload.slice(0, 500)}`);
  let result: unknown;
  try {
    result = JSON.parse(payload);
  } catch {
    result = undefined;
  }
  if (!isActionResult(result)) {
    throw new ActionFunctionError(`${options.what} answered no action result: ${payload.slice(0, 200)}`);
  }
  return result;
}
