import type { ProbeKind, ProbeTarget } from '../../src/config/probe-targets.ts';
import type { BackupCatalog, Clock, SecretStore } from '../../src/ports.ts';
import { probeBackup } from './kinds/backup.ts';
import { probeDns } from './kinds/dns.ts';
import { probeHttp } from './kinds/http.ts';
import { probePostgres } from './kinds/postgres.ts';
import { probeRedis } from './kinds/redis.ts';
import { probeTcp } from './kinds/tcp.ts';
import { probeTls } from './kinds/tls.ts';
import {
  describeError,
  fail,
  type ProbeKindRunner,
  type ProbeOutcome,
  type ProbeResult,
} from './probe-result.ts';

type Runners = { [K in ProbeKind]: ProbeKindRunner<Extract<ProbeTarget, { kind: K }>> };
const RUNNERS: Runners = {
  http: probeHttp,
  https: probeHttp,
  tcp: probeTcp,
  postgres: probePostgres,
  redis: probeRedis,
  tls: probeTls,
  dns: probeDns,
  backup: probeBackup,
};

export interface ProbeDeps {
  readonly secrets: SecretStore;
  readonly clock: Clock;
  /** Read by `backup` targets. */
  readonly backups?: BackupCatalog;
}

/**
 * Probes one target within its timeout. The timeout answers on its own, whatever the probe is doing,
 * and aborts the probe so it releases its socket.
 */
export async function probeTarget(target: ProbeTarget, deps: ProbeDeps): Promise<ProbeResult> {
  const controller = new AbortController();
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<ProbeOutcome>((resolve) => {
    timer = setTimeout(() => {
      resolve(fail(`no answer within ${target.timeoutMs} ms`));
      controller.abort();
    }, target.timeoutMs);
  });
  const runner = RUNNERS[target.kind] as ProbeKindRunner;
  const probing = runner(target, {
    signal: controller.signal,
    secrets: deps.secrets,
    clock: deps.clock,
    backups: deps.backups,
  }).catch((error: unknown) => fail(describeError(error)));
  const outcome = await Promise.race([probing, timedOut]);
  clearTimeout(timer);
  return {
    target: target.name,
    kind: target.kind,
    ok: outcome.ok,
    latencyMs: Math.round((performance.now() - started) * 10) / 10,
    detail: outcome.detail,
    observed: outcome.observed ?? {},
    at: deps.clock.now().toISOString(),
  };
}

/** Probes every target, at most `concurrency` at once, and returns the results in the targets' order. */
export async function probeAll(
  targets: readonly ProbeTarget[],
  deps: ProbeDeps & { readonly concurrency: number },
): Promise<ProbeResult[]> {
  const results: ProbeResult[] = new Array(targets.length);
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const index = next++;
      const target = targets[index];
      if (target) results[index] = await probeTarget(target, deps);
    }
  };
  await Promise.all(Array.from({ length: Math.min(deps.concurrency, targets.length) }, worker));
  return results;
}
