import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ResponderConfigInput } from '../../src/config/schema.ts';

/** A site whose health endpoint answers 200 or 503, as the test sets `healthy`. */
export async function httpSite(healthy = true): Promise<{ url: string; healthy: boolean; close(): void }> {
  const state = { healthy };
  const server: Server = createServer((_req, res) => res.writeHead(state.healthy ? 200 : 503).end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`,
    get healthy() {
      return state.healthy;
    },
    set healthy(value: boolean) {
      state.healthy = value;
    },
    close: () => server.close(),
  };
}

/**
 * A config with the demo-like zone `payments.test`: `api.payments.test` answers 127.0.0.1 for the
 * primary and 127.0.0.2 for the DR site, each spoken for by one HTTP probe of its site.
 */
export function failoverConfigInput(
  sites: { primary: string; dr: string },
  failover: Partial<NonNullable<ResponderConfigInput['failover']>> = {},
): Partial<ResponderConfigInput> {
  return {
    probes: {
      targets: [
        { name: 'primary-health', kind: 'http', url: sites.primary, timeoutMs: 1000 },
        { name: 'dr-health', kind: 'http', url: sites.dr, timeoutMs: 1000 },
      ],
    },
    failover: {
      hostedZoneId: 'Z0123456789ABC',
      zoneName: 'payments.test',
      record: { name: 'api.payments.test', type: 'A', ttl: 5 },
      primary: { record: { values: ['127.0.0.1'] }, targets: ['primary-health'] },
      dr: { record: { values: ['127.0.0.2'] }, targets: ['dr-health'] },
      ...failover,
    },
  };
}
