import type { ActionResult } from '../../src/actions/run-action.ts';
import { type InvokeFunction, invokeAction } from '../../src/aws/invoke-action.ts';
import type { ActionRequest } from '../../src/domain/actions.ts';

/** A move or an approval that did not answer within the API's wait: it goes on where it runs. */
export interface StillRunning {
  readonly status: 'running';
  readonly waitedMs: number;
}

/** How failover requests reach the failover capability: in-process locally, the DR region's function in AWS. */
export interface FailoverRoute {
  readonly run: (request: ActionRequest) => Promise<ActionResult | StillRunning>;
  /**
   * Where the failover function runs, when it is another region's (AWS): an answer that it did not
   * answer names the command that asks it directly, with the operator's own credentials.
   */
  readonly direct?: { readonly region: string; readonly functionName: string };
}

/** `responder failover ...` for these params, straight to the DR region's function. */
export function directFailoverCommand(
  direct: NonNullable<FailoverRoute['direct']>,
  params: Record<string, unknown>,
): string {
  const what =
    params.status === true
      ? 'status'
      : typeof params.approve === 'string'
        ? `approve ${params.approve.slice(0, 200)}`
        : `--to ${params.to === 'primary' ? 'primary' : 'dr'}`;
  return `responder failover ${what} --region ${direct.region} --function-name ${direct.functionName}`;
}

/**
 * How long the API waits for a move or an approval before it answers 202. API Gateway gives up after
 * 30 s and the API function after 29 s; a move verified through DNS usually takes longer than this
 * (Route 53's health check, then the record's TTL), so the answer says it is still running.
 */
export const DR_FAILOVER_WAIT_MS = 20_000;

export interface DrFailoverOptions {
  /** A Lambda client in the DR region (one attempt: a resent move would only meet its own lock). */
  readonly invoke: InvokeFunction;
  readonly region: string;
  /** The DR failover function's name (`failoverNames(service).drFailoverFunction`). */
  readonly functionName: string;
  /** @default DR_FAILOVER_WAIT_MS */
  readonly waitMs?: number;
}

/**
 * The API's failover routes in AWS: each request is invoked synchronously on the DR region's failover
 * function, which owns the switch, the lock and the approvals. Status and dry runs wait for the answer
 * (a few seconds: the gates' probes); a move or an approval waits at most `waitMs` and then answers
 * that it is running, while the invocation goes on in the DR region (Lambda finishes a synchronous
 * invocation whose caller stopped waiting). Nothing is retried: an operator who asks again meets
 * the lock, or finds the DR site already active.
 */
export function drFailover(options: DrFailoverOptions): FailoverRoute {
  const waitMs = options.waitMs ?? DR_FAILOVER_WAIT_MS;
  return {
    direct: { region: options.region, functionName: options.functionName },
    async run(request: ActionRequest) {
      const changes = !request.dryRun && request.params.status !== true;
      const abort = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timed-out'>((resolve) => {
        timer = setTimeout(() => resolve('timed-out'), waitMs);
      });
      const answer = invokeAction(options.invoke, options.functionName, request, {
        what: `the failover function in ${options.region}`,
        abortSignal: abort.signal,
      });
      // Once the wait is over, its rejection (the abort) is nobody's to handle.
      answer.catch(() => undefined);
      try {
        const first = await Promise.race([answer, timedOut]);
        if (first !== 'timed-out') {
          if (!first) throw new Error('the failover function was invoked without waiting');
          return first;
        }
      } finally {
        clearTimeout(timer);
      }
      // Stops waiting and frees the connection; Lambda runs the invocation to its end.
      abort.abort();
      if (changes) return { status: 'running', waitedMs: waitMs };
      throw new Error(`no answer within ${Math.round(waitMs / 1000)} s`);
    },
  };
}
