import {
  InvokeCommand,
  type InvokeCommandInput,
  type InvokeCommandOutput,
  LambdaClient,
} from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { drFailover } from '../functions/api/failover-route.ts';
import { type ApiDeps, handleApiRequest } from '../functions/api/incidents-api.ts';
import type { InvokeFunction } from '../src/aws/invoke-action.ts';
import { signApproveToken } from '../src/escalation/approve-link.ts';
import { type EscalationLinks, Escalator } from '../src/escalation/escalator.ts';
import { silentLog } from '../src/ports.ts';
import { failoverConfigInput } from './support/failover.ts';
import { type Json, TEST_TOKEN, testConfig } from './support/runtime.ts';

const DR_REGION = 'eu-central-1';
const FUNCTION = 'responder-payments-api-dr-failover';
const KEY = 'k'.repeat(64);
const DIRECT = `--region ${DR_REGION} --function-name ${FUNCTION}`;
const config = testConfig(failoverConfigInput({ primary: 'http://127.0.0.1:9/', dr: 'http://127.0.0.1:9/' }));

const lambda = mockClient(LambdaClient);
const client = new LambdaClient({ region: DR_REGION });
const invoke: InvokeFunction = (input, options) => client.send(new InvokeCommand(input), options);

/** What the DR failover function answers, as Lambda returns it. */
function answer(result: unknown, functionError?: string): InvokeCommandOutput {
  const text = JSON.stringify(result);
  return {
    $metadata: {},
    StatusCode: 200,
    FunctionError: functionError,
    Payload: Object.assign(new TextEncoder().encode(text), {
      transformToString: () => text,
    }),
  };
}
const done = (outcome: Record<string, unknown>) => answer({ status: 'done', outcome });

/** Nothing but the failover routes is reached here: the stores are never read. */
const unused = new Proxy(
  {},
  {
    get: () => {
      throw new Error('not used by the failover routes');
    },
  },
) as never;

function deps(
  waitMs?: number,
  links: EscalationLinks = { publicUrl: 'https://api.example.com', ackKey: async () => KEY },
): ApiDeps {
  return {
    config,
    incidents: unused,
    escalations: unused,
    audit: unused,
    targetHealth: unused,
    automation: unused,
    credentials: { get: async () => ({ token: TEST_TOKEN, username: 'alertmanager' }) },
    clock: { now: () => new Date() },
    log: silentLog,
    version: 'test',
    failover: drFailover({
      invoke,
      region: DR_REGION,
      functionName: FUNCTION,
      waitMs,
    }),
    // Approve links are checked with the ack-link key, as the escalate function signs them.
    escalator: new Escalator({
      config,
      incidents: unused,
      escalations: unused,
      audit: unused,
      floodLimits: unused,
      pager: unused,
      clock: { now: () => new Date() },
      log: silentLog,
      links,
    }),
  };
}

async function call(method: string, path: string, body?: unknown, api = deps()) {
  const form = typeof body === 'string';
  const response = await handleApiRequest(
    {
      method,
      path,
      headers: {
        ...(path.startsWith('/api/') ? { authorization: `Bearer ${TEST_TOKEN}` } : {}),
        'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json',
      },
      query: {},
      body: Buffer.from(body === undefined ? '' : form ? body : JSON.stringify(body)),
    },
    api,
  );
  let parsed: Json = response.body;
  try {
    parsed = JSON.parse(response.body);
  } catch {
    // HTML pages stay text
  }
  return { status: response.statusCode, body: parsed };
}

/** The one InvokeCommand sent, and the action request it carried. */
function invoked(): { input: InvokeCommandInput; request: Json } {
  const calls = lambda.commandCalls(InvokeCommand);
  expect(calls).toHaveLength(1);
  const input = calls[0]?.args[0].input as InvokeCommandInput;
  return { input, request: JSON.parse(String(input.Payload)) };
}

describe('Incident API in AWS: failover routes invoke the DR region’s failover function', () => {
  afterAll(() => lambda.restore());
  beforeEach(() => lambda.reset());

  it('GET /api/failover invokes it synchronously for the status, and answers what it said', async () => {
    // GIVEN the DR function reports the primary active
    lambda.on(InvokeCommand).resolves(
      done({
        status: 'completed',
        summary: 'the primary site is active',
        result: { active: 'primary', mode: 'switch' },
      }),
    );

    // WHEN an operator asks for the status
    const response = await call('GET', '/api/failover');

    // THEN one synchronous invocation of exactly that function, with an operator's status request
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, {
      FunctionName: FUNCTION,
      InvocationType: 'RequestResponse',
      Payload: expect.any(String),
    });
    const { input, request } = invoked();
    expect(Object.keys(input).sort()).toEqual(['FunctionName', 'InvocationType', 'Payload']);
    expect(request).toEqual({
      actionId: expect.stringMatching(/^operator-failover-[0-9a-f-]{36}$/),
      kind: 'failover',
      trigger: 'operator',
      requestedAt: expect.any(String),
      dryRun: false,
      params: { status: true },
      alerts: [],
    });
    expect(response).toEqual({
      status: 200,
      body: {
        actionId: request.actionId,
        status: 'completed',
        summary: 'the primary site is active',
        result: { active: 'primary', mode: 'switch' },
      },
    });
  });

  it('POST /api/failover with dryRun waits for every gate, and names who asked', async () => {
    lambda
      .on(InvokeCommand)
      .resolves(done({ status: 'completed', summary: 'dry run: every gate passes', result: { gates: [] } }));
    const response = await call('POST', '/api/failover', { to: 'dr', dryRun: true, by: 'alice' });
    const { input, request } = invoked();
    expect(input.InvocationType).toBe('RequestResponse');
    expect(request).toMatchObject({ dryRun: true, params: { to: 'dr', by: 'alice' } });
    expect(response.body).toMatchObject({ status: 'completed', summary: 'dry run: every gate passes' });
  });

  it('a move that outlasts the wait answers 202 with its action id and how to follow it; it is invoked once', async () => {
    // GIVEN a DR function still verifying DNS when the API stops waiting
    lambda
      .on(InvokeCommand)
      .callsFake(
        () => new Promise((resolve) => setTimeout(() => resolve(done({ status: 'completed' })), 2_000)),
      );

    // WHEN an operator fails over
    const response = await call('POST', '/api/failover', { to: 'dr' }, deps(50));

    // THEN 202: it goes on in the DR region; nothing was sent twice
    const { request } = invoked();
    expect(request).toMatchObject({ dryRun: false, params: { to: 'dr', by: 'bearer' } });
    expect(response.status).toBe(202);
    expect(response.body).toMatchObject({ actionId: request.actionId, status: 'running' });
    expect(response.body.summary).toMatch(
      /^no answer within 0 s: the failover goes on in eu-central-1 .*responder failover status/,
    );
  });

  it('a status that outlasts the wait is no answer: 503 with the command that asks the DR region directly', async () => {
    lambda.on(InvokeCommand).callsFake(() => new Promise(() => {}));
    const response = await call('GET', '/api/failover', undefined, deps(50));
    expect(response.status).toBe(503);
    expect(response.body.error).toBe(
      `the failover function in ${DR_REGION} did not answer (no answer within 0 s): check what it did with responder failover status, then ask it directly with your AWS credentials: responder failover status ${DIRECT}`,
    );
  });

  it('answers 503 when the DR region does not answer, and 502 when its function fails, each naming the direct command', async () => {
    lambda.on(InvokeCommand).rejects(Object.assign(new Error('connect ETIMEDOUT'), { name: 'TimeoutError' }));
    const down = await call('POST', '/api/failover', { to: 'dr' });
    expect(down.status).toBe(503);
    expect(down.body.error).toContain('did not answer (connect ETIMEDOUT)');
    expect(down.body.error).toContain(`responder failover --to dr ${DIRECT}`);

    lambda.reset();
    lambda.on(InvokeCommand).resolves(answer({ errorMessage: 'Task timed out' }, 'Unhandled'));
    const failed = await call('POST', '/api/failover/approvals/alert-failover-0001', {});
    expect(failed.status).toBe(502);
    expect(failed.body.error).toContain('the failover function in eu-central-1 failed: {"errorMessage"');
    expect(failed.body.error).toContain(`responder failover approve alert-failover-0001 ${DIRECT}`);
  });

  it('POST /api/failover/approvals/{id} approves it in the DR region; the kill switch answers 409', async () => {
    lambda
      .on(InvokeCommand)
      .resolves(
        done({ status: 'completed', summary: 'failed over to the DR site', result: { moved: true } }),
      );
    const approved = await call('POST', '/api/failover/approvals/alert-failover-0001', { by: 'bob' });
    expect(invoked().request).toMatchObject({
      kind: 'failover',
      trigger: 'operator',
      dryRun: false,
      params: { approve: 'alert-failover-0001', by: 'bob' },
    });
    expect(approved).toMatchObject({ status: 200, body: { status: 'completed', result: { moved: true } } });

    lambda.reset();
    lambda.on(InvokeCommand).resolves(answer({ status: 'skipped', reason: 'automation disabled' }));
    const skipped = await call('POST', '/api/failover/approvals/alert-failover-0001', {});
    expect(skipped).toMatchObject({ status: 409, body: { skipped: 'automation disabled' } });
  });

  it('the signed approve link: GET shows it and invokes nothing, POST approves it in the DR region, an altered link is refused', async () => {
    // GIVEN a link signed with the ack-link key, as the page carries it
    const token = signApproveToken(KEY, {
      requestId: 'alert-failover-0002',
      expiresAt: new Date(Date.now() + 600_000),
    });
    lambda
      .on(InvokeCommand)
      .resolves(
        done({ status: 'completed', summary: 'failed over to the DR site', result: { moved: true } }),
      );

    // WHEN a phone opens it, then posts its form
    const page = await call('GET', `/approve/${token}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Approve failover</button>');
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
    const altered = await call(
      'POST',
      `/approve/${token.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))}`,
      'by=mallory',
    );
    expect(altered.status).toBe(403);
    const approved = await call('POST', `/approve/${token}`, 'by=alice');

    // THEN the DR function got the approval, once
    expect(invoked().request).toMatchObject({ params: { approve: 'alert-failover-0002', by: 'alice' } });
    expect(approved.status).toBe(200);
    expect(approved.body).toContain('<h1>Failed over</h1>');
  });

  it('an approve link signed with the ack-link key before its rotation still works; one made with the old key after it does not', async () => {
    // GIVEN the key rotated a minute ago
    const rotatedAt = new Date(Date.now() - 60_000);
    const NEW = 'n'.repeat(64);
    const rotated = deps(undefined, {
      publicUrl: 'https://api.example.com',
      ackKey: async () => NEW,
      ackKeys: async () => ({ current: NEW, previous: { key: KEY, replacedAt: rotatedAt } }),
    });
    const link = (key: string, expiresAt: Date) =>
      `/approve/${signApproveToken(key, { requestId: 'alert-failover-0004', expiresAt })}`;
    const soon = new Date(Date.now() + 600_000);

    // THEN links of either key open; one with the old key that outlives any it could have signed does not
    expect((await call('GET', link(NEW, soon), undefined, rotated)).status).toBe(200);
    expect((await call('GET', link(KEY, soon), undefined, rotated)).status).toBe(200);
    const late = new Date(rotatedAt.getTime() + (30 * 60 + 300 + 600) * 1000 + 60_000);
    expect((await call('GET', link(KEY, late), undefined, rotated)).status).toBe(403);
    expect((await call('GET', link('x'.repeat(64), soon), undefined, rotated)).status).toBe(403);
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
  });

  it('the approve link says so when the move outlasts the wait, and when the DR region does not answer', async () => {
    const token = signApproveToken(KEY, {
      requestId: 'alert-failover-0003',
      expiresAt: new Date(Date.now() + 600_000),
    });
    lambda.on(InvokeCommand).callsFake(() => new Promise(() => {}));
    const running = await call('POST', `/approve/${token}`, 'by=alice', deps(50));
    expect(running.status).toBe(202);
    expect(running.body).toContain('Approved: the failover is running');

    lambda.reset();
    lambda.on(InvokeCommand).rejects(new Error('getaddrinfo ENOTFOUND lambda.eu-central-1.amazonaws.com'));
    const down = await call('POST', `/approve/${token}`, 'by=alice');
    expect(down.status).toBe(503);
    expect(down.body).toContain(`responder failover approve alert-failover-0003 ${DIRECT}`);
  });
});
