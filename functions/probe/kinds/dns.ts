import { lookup, Resolver } from 'node:dns/promises';
import type { DnsTarget } from '../../../src/config/probe-targets.ts';
import { describeError, fail, type ProbeKindRunner, pass } from '../probe-result.ts';

/**
 * Resolves the name as the service's clients would: A/AAAA through the system resolver (so
 * /etc/hosts counts, e.g. localhost), CNAME/TXT through DNS.
 */
export const probeDns: ProbeKindRunner<DnsTarget> = async (target, { signal }) => {
  let answers: string[];
  try {
    if (target.recordType === 'A' || target.recordType === 'AAAA') {
      const found = await lookup(target.hostname, { family: target.recordType === 'A' ? 4 : 6, all: true });
      answers = found.map((entry) => entry.address);
    } else {
      const resolver = new Resolver({ timeout: target.timeoutMs, tries: 1 });
      signal.addEventListener('abort', () => resolver.cancel(), { once: true });
      answers =
        target.recordType === 'CNAME'
          ? await resolver.resolveCname(target.hostname)
          : (await resolver.resolveTxt(target.hostname)).map((parts) => parts.join(''));
    }
  } catch (error) {
    return fail(`${target.hostname} (${target.recordType}) does not resolve: ${describeError(error)}`);
  }
  const observed = { answers: answers.join(','), count: answers.length };
  if (answers.length === 0) return fail(`${target.hostname} (${target.recordType}) has no answer`, observed);
  if (target.expect !== undefined && !answers.includes(target.expect)) {
    return fail(`${target.hostname} resolves to ${answers.join(', ')}, expected ${target.expect}`, observed);
  }
  return pass(`${target.hostname} resolves to ${answers.join(', ')}`, observed);
};
