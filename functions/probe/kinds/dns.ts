import { lookup, Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { DnsTarget } from '../../../src/config/probe-targets.ts';
import { parseDnsServer } from '../../../src/domain/probes.ts';
import { describeError, fail, type ProbeKindRunner, pass } from '../probe-result.ts';

/** The resolver's server as c-ares takes it: an address (a host name is looked up first) and port. */
async function serverAddress(server: string): Promise<string> {
  const parsed = parseDnsServer(server);
  if (!parsed) throw new Error(`server ${server} is not an address[:port]`);
  const address = isIP(parsed.host) ? parsed.host : (await lookup(parsed.host)).address;
  return isIP(address) === 6 ? `[${address}]:${parsed.port}` : `${address}:${parsed.port}`;
}

/**
 * Resolves the name as the service's clients would: A/AAAA through the system resolver (so
 * /etc/hosts counts, e.g. localhost), CNAME/TXT through DNS. With `server`, every type is asked of
 * that name server alone (the local DNS listener, or a zone's authoritative server: not a cache).
 */
export const probeDns: ProbeKindRunner<DnsTarget> = async (target, { signal }) => {
  let answers: string[];
  const via = target.server ? ` via ${target.server}` : '';
  try {
    if (!target.server && (target.recordType === 'A' || target.recordType === 'AAAA')) {
      const found = await lookup(target.hostname, { family: target.recordType === 'A' ? 4 : 6, all: true });
      answers = found.map((entry) => entry.address);
    } else {
      const resolver = new Resolver({ timeout: target.timeoutMs, tries: 1 });
      signal.addEventListener('abort', () => resolver.cancel(), { once: true });
      if (target.server) resolver.setServers([await serverAddress(target.server)]);
      switch (target.recordType) {
        case 'A':
          answers = await resolver.resolve4(target.hostname);
          break;
        case 'AAAA':
          answers = await resolver.resolve6(target.hostname);
          break;
        case 'CNAME':
          answers = await resolver.resolveCname(target.hostname);
          break;
        default:
          answers = (await resolver.resolveTxt(target.hostname)).map((parts) => parts.join(''));
      }
    }
  } catch (error) {
    return fail(`${target.hostname} (${target.recordType})${via} does not resolve: ${describeError(error)}`);
  }
  const observed = { answers: answers.join(','), count: answers.length };
  if (answers.length === 0)
    return fail(`${target.hostname} (${target.recordType})${via} has no answer`, observed);
  if (target.expect !== undefined && !answers.includes(target.expect)) {
    return fail(
      `${target.hostname} resolves to ${answers.join(', ')}${via}, expected ${target.expect}`,
      observed,
    );
  }
  return pass(`${target.hostname} resolves to ${answers.join(', ')}${via}`, observed);
};
