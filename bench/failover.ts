/**
 * The failover path per mode: the AWS API calls it makes (counted at the ports, each port call being
 * one DynamoDB or Route 53 request in AWS; Route 53 answered by a stub that is INSYNC at once), and,
 * in the local runtime with its DNS listener, the time from the decision to DNS answering the DR
 * value and to the DR site passing its probes.
 */
import { Resolver } from 'node:dns/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Route53Client } from '@aws-sdk/client-route-53';
import { createFailoverAction } from '../functions/failover/failover-dns.ts';
import { probeTarget } from '../functions/probe/probe-targets.ts';
import { Route53DnsZone } from '../src/adapters/route53-dns-zone.ts';
import { parseConfig } from '../src/config/schema.ts';
import { actionRequestSchema } from '../src/domain/actions.ts';
import { startLocalRuntime } from '../src/local/runtime.ts';
import { silentLog } from '../src/ports.ts';

function counted<T extends object>(target: T, counts: Map<string, number>, service: string): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const key = `${service}:${String(property)}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        return value.apply(object, args);
      };
    },
  });
}

async function site(healthy: boolean): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => res.writeHead(healthy ? 200 : 503).end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`, server };
}

export async function benchFailover() {
  const primary = await site(false);
  const dr = await site(true);
  const results: Array<Record<string, unknown>> = [];
  try {
    for (const mode of ['switch', 'records'] as const) {
      const dataDir = mkdtempSync(join(tmpdir(), 'responder-bench-failover-'));
      const config = parseConfig({
        service: 'bench',
        aws: { region: 'eu-west-1', drRegion: 'eu-central-1' },
        local: { dnsPort: 0 },
        probes: {
          targets: [
            { name: 'primary-health', kind: 'http', url: primary.url, timeoutMs: 1000 },
            { name: 'dr-health', kind: 'http', url: dr.url, timeoutMs: 1000 },
          ],
        },
        failover: {
          mode,
          hostedZoneId: 'Z0123456789ABC',
          zoneName: 'payments.test',
          record: { name: 'api.payments.test', type: 'A', ttl: 5 },
          primary: { record: { values: ['127.0.0.1'] }, targets: ['primary-health'] },
          dr: { record: { values: ['127.0.0.2'] }, targets: ['dr-health'] },
          policy: { operator: 'auto' },
        },
      });
      const runtime = await startLocalRuntime({
        config,
        log: silentLog,
        port: 0,
        timers: false,
        dataDir,
        token: 'bench-token-0123456789abcdef',
      });
      try {
        const counts = new Map<string, number>();
        const store = counted(runtime.failoverStore, counts, 'DynamoDB');
        const audit = counted(runtime.store, counts, 'DynamoDB');
        // Route 53 in records mode: a stub client answering as Route 53 does, every change INSYNC at once.
        const route53 = {
          send: async (command: { constructor: { name: string } }) => {
            const name = command.constructor.name.replace(/Command$/, '');
            counts.set(`Route 53:${name}`, (counts.get(`Route 53:${name}`) ?? 0) + 1);
            if (name === 'ChangeResourceRecordSets')
              return { ChangeInfo: { Id: '/change/B1', Status: 'PENDING' } };
            if (name === 'GetChange') return { ChangeInfo: { Id: '/change/B1', Status: 'INSYNC' } };
            return { ResourceRecordSets: [] };
          },
        } as unknown as Route53Client;
        const targets = new Map(config.probes.targets.map((t) => [t.name, t]));
        const resolver = new Resolver({ timeout: 1000, tries: 1 });
        resolver.setServers([`127.0.0.1:${runtime.dnsPort}`]);
        const perform = createFailoverAction({
          config,
          store,
          zone:
            mode === 'records'
              ? new Route53DnsZone({ client: route53, hostedZoneId: 'Z0123456789ABC', insyncTimeoutMs: 5000 })
              : undefined,
          probe: (names) =>
            Promise.all(
              names.flatMap((n) =>
                targets.get(n)
                  ? [
                      probeTarget(targets.get(n) as never, {
                        secrets: runtime.secrets,
                        clock: { now: () => new Date() },
                      }),
                    ]
                  : [],
              ),
            ),
          resolve: mode === 'switch' ? (name) => resolver.resolve4(name) : undefined,
          audit,
          clock: { now: () => new Date() },
          log: silentLog,
        });
        const request = actionRequestSchema.parse({
          actionId: `bench-failover-${mode}`,
          kind: 'failover',
          trigger: 'operator',
          requestedAt: new Date().toISOString(),
          dryRun: false,
          params: { to: 'dr' },
        });
        const started = performance.now();
        const outcome = await perform(request);
        const totalMs = performance.now() - started;
        if (outcome.status !== 'completed') throw new Error(`bench failover (${mode}): ${outcome.summary}`);
        const steps = (outcome.result as { steps: Array<{ gate: string; detail: string }> }).steps;
        const msOf = (gate: string) =>
          Number(
            / (\d+) ms after the decision/.exec(steps.find((s) => s.gate === gate)?.detail ?? '')?.[1] ??
              Number.NaN,
          );
        const byService: Record<string, number> = {};
        for (const [key, n] of counts) {
          const service = key.split(':')[0] as string;
          byService[service] = (byService[service] ?? 0) + n;
        }
        results.push({
          mode,
          awsCalls: byService,
          calls: Object.fromEntries(counts),
          // Locally only `switch` is verified through the DNS listener; `records` goes to the stub.
          decisionToDnsMs: mode === 'switch' ? msOf('dns-answers') : null,
          decisionToDrPassesMs: msOf('site-passes'),
          totalMs: Math.round(totalMs),
        });
      } finally {
        await runtime.stop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    }
  } finally {
    primary.server.close();
    dr.server.close();
  }
  return results;
}
