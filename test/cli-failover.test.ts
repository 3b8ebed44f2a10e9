import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBody } from './support/aws-recorder.ts';
import { runCli } from './support/cli.ts';
import { failoverConfigInput, httpSite } from './support/failover.ts';
import { startTestRuntime, TEST_TOKEN, type TestRuntime, testConfig } from './support/runtime.ts';

const responder = (args: string[], env: Record<string, string | undefined>) => runCli(args, env);

describe('CLI: responder failover', () => {
  let t: TestRuntime;
  let primary: Awaited<ReturnType<typeof httpSite>>;
  let dr: Awaited<ReturnType<typeof httpSite>>;
  let env: Record<string, string>;

  beforeAll(async () => {
    primary = await httpSite(false);
    dr = await httpSite(true);
    t = await startTestRuntime({
      config: testConfig({
        local: { dnsPort: 0 },
        ...failoverConfigInput({ primary: primary.url, dr: dr.url }, { cooldownMinutes: 0 }),
      }),
    });
    env = { RESPONDER_URL: t.runtime.url, RESPONDER_WEBHOOK_TOKEN: TEST_TOKEN };
  });
  afterAll(async () => {
    await t?.stop();
    primary?.close();
    dr?.close();
  });

  it('prints each gate of a dry run, refuses to move without --yes off a terminal, moves with --yes, shows the status', async () => {
    const dry = await responder(['failover', '--to', 'dr', '--dry-run'], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^ok {5} primary-down \(\d+ ms\): 1 of 1 primary targets fail now/m);
    expect(dry.stdout).toMatch(/^dry run: every gate passes; would change switch/m);
    const unconfirmed = await responder(['failover', '--to', 'dr'], env);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toMatch(/not a terminal: pass --yes/);
    expect((await t.runtime.failoverStore.getFailoverState()).active).toBe('primary');
    const moved = await responder(['failover', '--to', 'dr', '--yes'], env);
    expect(moved.code, moved.stdout).toBe(0);
    expect(moved.stdout).toMatch(/^ok {5} step:dns-answers|^ok {5} dns-answers/m);
    const status = await responder(['failover', 'status', '--json'], env);
    expect(JSON.parse(status.stdout)).toMatchObject({ active: 'dr', lastChange: { to: 'dr' } });
    const again = await responder(['failover', '--to', 'dr', '--yes'], env);
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/refused at already-there/);
    expect((await responder(['failover', '--to', 'sideways'], env)).code).toBe(2);
    expect((await responder(['failover', '--to', 'dr', '--force'], env)).stderr).toMatch(
      /--force needs --reason/,
    );
  });

  it('--region invokes the DR failover function directly, with the request Lambda would get', async () => {
    const invocations: Array<{ path: string; payload: Record<string, unknown> }> = [];
    const lambda = createServer(async (req, res) => {
      const payload = JSON.parse((await readBody(req)).toString('utf8'));
      invocations.push({ path: req.url ?? '', payload });
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          status: 'done',
          outcome: {
            status: 'completed',
            summary: 'dry run: every gate passes; would change switch',
            result: { gates: [{ gate: 'policy', ok: true, detail: 'policy.operator is "auto"', ms: 0 }] },
          },
        }),
      );
    });
    await new Promise<void>((resolve) => lambda.listen(0, '127.0.0.1', resolve));
    try {
      const result = await responder(
        [
          'failover',
          '--to',
          'dr',
          '--dry-run',
          '--region',
          'eu-central-1',
          '--function-name',
          'responder-dr-failover',
        ],
        {
          AWS_ENDPOINT_URL_LAMBDA: `http://127.0.0.1:${(lambda.address() as AddressInfo).port}`,
          AWS_ACCESS_KEY_ID: 'AKIDTEST',
          AWS_SECRET_ACCESS_KEY: 'secret',
          AWS_SESSION_TOKEN: undefined,
          RESPONDER_URL: 'http://127.0.0.1:9', // nothing answers in the "primary region"
        },
      );
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^ok {5} policy \(0 ms\): policy\.operator is "auto"/m);
      expect(invocations).toHaveLength(1);
      expect(invocations[0]?.path).toBe('/2015-03-31/functions/responder-dr-failover/invocations');
      expect(invocations[0]?.payload).toMatchObject({
        kind: 'failover',
        trigger: 'operator',
        dryRun: true,
        params: { to: 'dr' },
      });
      const missing = await responder(['failover', '--to', 'dr', '--region', 'eu-central-1'], {
        RESPONDER_FAILOVER_FUNCTION: undefined,
      });
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/--region needs --function-name/);
    } finally {
      lambda.close();
    }
  });

  it('says a move goes on in the DR region when the API (in AWS) stopped waiting for it: exit code 4', async () => {
    // GIVEN an API that answers as the primary region's does when the DR function outlasts its wait
    const summary =
      'no answer within 20 s: the failover goes on in eu-central-1 (a move waits for DNS and the site’s probes); follow it with responder failover status';
    const api = createServer((req, res) => {
      res
        .writeHead(req.method === 'POST' ? 202 : 404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ actionId: 'operator-failover-1', status: 'running', summary, result: null }));
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    try {
      // WHEN an operator fails over through it, and approves through it
      const url = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
      const moved = await responder(['failover', '--to', 'dr', '--yes'], { ...env, RESPONDER_URL: url });
      const approved = await responder(['failover', 'approve', 'alert-failover-1'], {
        ...env,
        RESPONDER_URL: url,
      });

      // THEN each says so, and exits 4 (neither moved nor refused)
      for (const result of [moved, approved]) {
        expect(result.code, result.stderr).toBe(4);
        expect(result.stdout).toContain('follow it with responder failover status');
      }
    } finally {
      api.close();
    }
  });
});
