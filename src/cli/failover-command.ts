import { createInterface } from 'node:readline/promises';
import { invokeAction } from '../aws/invoke-action.ts';
import { printable, printableJson } from '../local/terminal-text.ts';
import { type Command, call, connectionHelp, UsageError } from './client.ts';

interface Step {
  readonly gate: string;
  readonly ok: boolean;
  readonly detail: string;
  readonly ms?: number;
}

interface FailoverAnswer {
  readonly status: string;
  readonly summary: string;
  readonly result?: { gates?: Step[]; steps?: Step[]; moved?: boolean; approval?: unknown } | null;
}

function printSteps(answer: FailoverAnswer) {
  for (const step of [...(answer.result?.gates ?? []), ...(answer.result?.steps ?? [])]) {
    const ms = step.ms === undefined ? '' : ` (${step.ms} ms)`;
    console.log(`${step.ok ? 'ok     ' : 'REFUSED'} ${printable(step.gate)}${ms}: ${printable(step.detail)}`);
  }
  console.log(printable(answer.summary));
}

/** 0 moved (or nothing to do), 1 refused or failed, 3 waits for approval, 4 still running (API: 202). */
function exitCode(answer: FailoverAnswer): number {
  if (answer.status === 'running') return 4;
  if (answer.result?.approval) return 3;
  if (answer.status === 'completed') return 0;
  return 1;
}

/**
 * The failover request sent straight to the DR region's failover function (`--region`), for when
 * nothing in the primary region answers: `aws lambda invoke` with the operator's own credentials.
 */
async function invokeDr(
  region: string,
  functionName: string,
  params: Record<string, unknown>,
  dryRun: boolean,
) {
  const { LambdaClient, InvokeCommand } = await import('@aws-sdk/client-lambda');
  const client = new LambdaClient({ region, maxAttempts: 2 });
  try {
    const request = {
      actionId: `operator-failover-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`,
      kind: 'failover',
      trigger: 'operator',
      requestedAt: new Date().toISOString(),
      dryRun,
      params: { ...params, by: params.by ?? (process.env.USER || 'operator') },
    };
    const result = await invokeAction(
      (input, options) => client.send(new InvokeCommand(input), options),
      functionName,
      request,
      { what: 'the failover function' },
    );
    if (result?.status !== 'done') return { status: 409, body: { skipped: result?.reason } };
    return { status: 200, body: result.outcome as FailoverAnswer };
  } finally {
    client.destroy();
  }
}

async function confirm(question: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await prompt.question(question)).trim());
  } finally {
    prompt.close();
  }
}

/** Where a failover request goes: the DR function (--region) or the responder's API. */
function sender(values: Record<string, unknown>) {
  const region = values.region as string | undefined;
  const functionName =
    (values['function-name'] as string | undefined) ?? process.env.RESPONDER_FAILOVER_FUNCTION;
  if (region && !functionName) {
    throw new UsageError(
      '--region needs --function-name (the DR stack output FailoverFunctionName) or RESPONDER_FAILOVER_FUNCTION',
    );
  }
  return { region, functionName };
}

interface DrillAnswer extends FailoverAnswer {
  readonly result?: {
    drill?: string;
    report?: {
      passed: boolean;
      file?: string;
      notes: string[];
      legs: Array<{
        to: string;
        status: string;
        rtoMs?: number;
        fenced?: boolean;
        lagSecondsAtPromotion?: number;
        steps: Step[];
        markers?: { written: number; present: number; missing: number[]; rpoSeconds: number | null };
      }>;
    };
  } & FailoverAnswer['result'];
}

function printDrill(answer: DrillAnswer) {
  const report = answer.result?.report;
  if (!report) return printSteps(answer);
  for (const leg of report.legs) {
    console.log(`\n== to ${leg.to === 'dr' ? 'the DR site' : 'the primary site'}: ${leg.status}`);
    printSteps({ status: leg.status, summary: '', result: { steps: leg.steps } });
    console.log(`RTO ${leg.rtoMs === undefined ? 'not reached' : `${(leg.rtoMs / 1000).toFixed(1)} s`}`);
    if (leg.markers) {
      const rpo = leg.markers.rpoSeconds;
      console.log(
        `RPO ${rpo === null ? 'every marker lost' : `${rpo} s`}; markers ${leg.markers.present} of ${leg.markers.written} made it across${leg.markers.missing.length ? ` (missing ${leg.markers.missing.join(', ')})` : ''}`,
      );
    }
    if (leg.lagSecondsAtPromotion !== undefined)
      console.log(`replica lag at promotion ${leg.lagSecondsAtPromotion} s`);
    if (leg.fenced !== undefined) console.log(`old primary fenced: ${leg.fenced ? 'yes' : 'NO'}`);
  }
  for (const note of report.notes) console.log(`note: ${printable(note)}`);
  console.log(printable(answer.summary));
}

export const drillCommand: Command = {
  summary: 'rehearse the whole failover with marker rows, and report RTO and RPO',
  usage:
    'responder drill failover [--to dr] [--and-back] [--i-know-this-is-production] [--dry-run] [--json] [--region R --function-name F] | responder drill show <drill-id>',
  help: `Runs the whole failover against the configured environment: writes marker rows through the primary
database, fails over (every gate, fencing the old primary, promoting the DR database, DNS, verification),
reads the markers from the DR database, and prints each step with its duration, the RTO (decision to the
DR site answering through DNS and passing its probes) and the RPO (newest marker written minus newest
that made it across, and the replica lag at promotion). --and-back rebuilds the old primary as a standby
(the demo does it with pg_basebackup -R) and fails back the same way. The report is kept in the state
store and, locally, as Markdown under the data folder (.responder/drills/). Refused when
failover.drill.environment is "production" unless --i-know-this-is-production. 'show' prints a stored
report again. Exit codes: 0 passed, 1 failed or refused, 2 usage, 4 still running in the DR region (the
API stopped waiting). ${connectionHelp}`,
  options: {
    to: { type: 'string' },
    'and-back': { type: 'boolean' },
    'i-know-this-is-production': { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    json: { type: 'boolean' },
    region: { type: 'string' },
    'function-name': { type: 'string' },
  },
  async run(values, positionals) {
    if (positionals[0] === 'show') {
      const id = positionals[1];
      if (!id || positionals.length > 2)
        throw new UsageError('name the drill: responder drill show <drill-id>');
      const { region, functionName } = sender(values);
      const shown =
        region && functionName
          ? await invokeDr(region, functionName, { drillReport: id }, false)
          : await call('GET', `/api/failover/drills/${encodeURIComponent(id)}`);
      if (shown.status !== 200) {
        console.error(`${shown.status} ${printableJson(shown.body)}`);
        return 1;
      }
      const answer = shown.body as DrillAnswer;
      if (values.json) console.log(printableJson(answer, 2));
      else printDrill(answer);
      return answer.result?.report ? 0 : 1;
    }
    if (positionals[0] !== 'failover' || positionals.length > 1)
      throw new UsageError(
        'the one drill is: responder drill failover (or: responder drill show <drill-id>)',
      );
    if (values.to !== undefined && values.to !== 'dr')
      throw new UsageError('a drill fails over to dr (and back with --and-back)');
    const { region, functionName } = sender(values);
    const params = {
      drill: true,
      andBack: values['and-back'] === true || undefined,
      iKnowThisIsProduction: values['i-know-this-is-production'] === true || undefined,
    };
    const dryRun = values['dry-run'] === true;
    const result =
      region && functionName
        ? await invokeDr(region, functionName, params, dryRun)
        : await call(
            'POST',
            '/api/failover/drills',
            JSON.stringify({
              andBack: params.andBack,
              iKnowThisIsProduction: params.iKnowThisIsProduction,
              dryRun: dryRun || undefined,
            }),
          );
    if (result.status === 202) {
      // Through the primary API in AWS: the drill goes on in the DR region after the API stops waiting.
      console.log(printable((result.body as FailoverAnswer).summary ?? 'the drill goes on in the DR region'));
      console.log(
        'Its report: the failover.drill-report entry of the audit trail names it; then responder drill show <drill-id>.',
      );
      return 4;
    }
    if (result.status !== 200) {
      console.error(`${result.status} ${printableJson(result.body)}`);
      return 1;
    }
    const answer = result.body as DrillAnswer;
    if (values.json) console.log(printableJson(answer, 2));
    else printDrill(answer);
    return answer.status === 'completed' ? 0 : 1;
  },
};

export const failoverCommand: Command = {
  summary: 'fail DNS over to the DR site or back, through every gate; status; approve',
  usage:
    'responder failover --to dr|primary [--dry-run] [--force --reason TEXT] [--accept-data-loss] [--primary-rebuilt] [--dr-promoted] [--yes] [--json] [--region R --function-name F] | responder failover status | responder failover approve <request-id>',
  help: `--to dr fails the record over to the DR site, --to primary fails back. Every gate runs in order and
is printed: the policy, one failover at a time, the cooldown (an operator may pass --force with
--reason), the primary is down (for failback: healthy for N probes in a row), the DR site is ready;
then the move and its verification (the record answers the new value, the site passes its probes).
With failover.database, the database gate and steps run before DNS moves: the replica's lag against
maxLagSeconds (--accept-data-loss promotes anyway), fencing the old primary, promoting the DR database;
failing back needs the old primary rebuilt as a standby of the DR database (--primary-rebuilt when you
have checked and the check cannot see it; --dr-promoted when a DR database that is already a writer was
promoted by a failover that stopped, not left stale by an earlier failback). --dry-run runs every gate and prints the exact change. Without --yes a dry run comes first and you
confirm. 'status' shows the active site, the last move and the cooldown; 'approve' approves a failover
waiting for approval (every gate runs again). With --region and --function-name (or
RESPONDER_FAILOVER_FUNCTION) the command invokes the DR region's failover function directly with your
AWS credentials, for when nothing in the primary region answers. Exit codes: 0 moved or nothing to do, 1 refused or
failed, 2 usage, 3 waiting for approval, 4 still running in the DR region after the API stopped waiting
(follow it with 'responder failover status'). ${connectionHelp}`,
  options: {
    to: { type: 'string' },
    region: { type: 'string' },
    'function-name': { type: 'string' },
    'dry-run': { type: 'boolean' },
    force: { type: 'boolean' },
    reason: { type: 'string' },
    'accept-data-loss': { type: 'boolean' },
    'primary-rebuilt': { type: 'boolean' },
    'dr-promoted': { type: 'boolean' },
    yes: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run(values, positionals) {
    // --region: straight to the DR function (the primary region may be down); else the responder's API.
    const { region, functionName } = sender(values);
    const send = (params: Record<string, unknown>, dryRun: boolean) =>
      region && functionName
        ? invokeDr(region, functionName, params, dryRun)
        : call(
            'POST',
            params.approve
              ? `/api/failover/approvals/${encodeURIComponent(String(params.approve))}`
              : '/api/failover',
            JSON.stringify(params.approve ? {} : { ...params, dryRun }),
          );
    const show = (answer: FailoverAnswer) =>
      values.json ? console.log(printableJson(answer, 2)) : printSteps(answer);
    const fail = (result: { status: number; body: unknown }) => {
      console.error(`${result.status} ${printableJson(result.body)}`);
      return 1;
    };
    if (positionals[0] === 'status') {
      const result = region ? await send({ status: true }, false) : await call('GET', '/api/failover');
      if (result.status !== 200) return fail(result);
      const answer = result.body as FailoverAnswer & { result: Record<string, unknown> };
      console.log(values.json ? printableJson(answer.result, 2) : printable(answer.summary));
      return 0;
    }
    // 202: the API stopped waiting for the DR region's function, which goes on (a move's verification).
    const answered = (result: { status: number }) => result.status === 200 || result.status === 202;
    if (positionals[0] === 'approve') {
      const id = positionals[1];
      if (!id) throw new UsageError('name the failover request to approve');
      const result = await send({ approve: id }, false);
      if (!answered(result)) return fail(result);
      show(result.body as FailoverAnswer);
      return exitCode(result.body as FailoverAnswer);
    }
    if (positionals.length > 0) throw new UsageError(`unknown failover command '${positionals[0]}'`);
    const to = values.to;
    if (to !== 'dr' && to !== 'primary') throw new UsageError('--to takes dr or primary');
    if (values.force && typeof values.reason !== 'string')
      throw new UsageError('--force needs --reason "...": it goes into the audit trail');
    const body = {
      to,
      force: values.force === true || undefined,
      reason: values.reason,
      acceptDataLoss: values['accept-data-loss'] === true || undefined,
      primaryRebuilt: values['primary-rebuilt'] === true || undefined,
      drPromoted: values['dr-promoted'] === true || undefined,
    };
    if (!values['dry-run'] && !values.yes) {
      const dry = await send(body, true);
      if (dry.status !== 200) return fail(dry);
      show(dry.body as FailoverAnswer);
      if ((dry.body as FailoverAnswer).status !== 'completed') return exitCode(dry.body as FailoverAnswer);
      if (!process.stdin.isTTY)
        throw new UsageError('not a terminal: pass --yes to fail over without confirming');
      if (!(await confirm(`Fail over to ${to === 'dr' ? 'the DR site' : 'the primary site'} now? [y/N] `)))
        return 1;
    }
    const result = await send(body, values['dry-run'] === true);
    if (!answered(result)) return fail(result);
    show(result.body as FailoverAnswer);
    return exitCode(result.body as FailoverAnswer);
  },
};
