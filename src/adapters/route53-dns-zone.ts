import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListResourceRecordSetsCommand,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import type { DnsRecordSet, DnsZone } from '../ports.ts';

/** Errors Route 53 answers while another change is applying or the account is over its rate: retry. */
const RETRYABLE = new Set(['Throttling', 'ThrottlingException', 'PriorRequestNotComplete']);

export interface Route53DnsZoneProps {
  readonly client: Route53Client;
  readonly hostedZoneId: string;
  /** UPSERT attempts on throttling before giving up. @default 6 */
  readonly maxAttempts?: number;
  /** The first backoff; each retry doubles it, with full jitter. @default 200 */
  readonly baseDelayMs?: number;
  /** How long to poll GetChange for INSYNC. */
  readonly insyncTimeoutMs: number;
  /** Between GetChange polls. @default 2000 */
  readonly pollIntervalMs?: number;
  /** Injected in tests. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  readonly now?: () => number;
}

const fqdn = (name: string) => (name.endsWith('.') ? name : `${name}.`);

/**
 * The runbook's way to fail over (`records` mode): one UPSERT of the record set with
 * ChangeResourceRecordSets, retried with jittered exponential backoff on Throttling and
 * PriorRequestNotComplete, then GetChange until the change is INSYNC (bounded).
 */
export class Route53DnsZone implements DnsZone {
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(private readonly props: Route53DnsZoneProps) {
    this.sleep = props.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = props.random ?? Math.random;
    this.now = props.now ?? Date.now;
  }

  async getRecord(name: string, type: DnsRecordSet['type']): Promise<DnsRecordSet | undefined> {
    const listed = await this.props.client.send(
      new ListResourceRecordSetsCommand({
        HostedZoneId: this.props.hostedZoneId,
        StartRecordName: fqdn(name),
        StartRecordType: type,
        MaxItems: 1,
      }),
    );
    const found = listed.ResourceRecordSets?.[0];
    if (!found || found.Name?.toLowerCase() !== fqdn(name).toLowerCase() || found.Type !== type)
      return undefined;
    return {
      name: fqdn(name),
      type,
      ttl: found.TTL ?? 0,
      values: (found.ResourceRecords ?? []).map((r) => r.Value ?? '').filter(Boolean),
    };
  }

  async upsertRecord(record: DnsRecordSet) {
    const started = this.now();
    const maxAttempts = this.props.maxAttempts ?? 6;
    const base = this.props.baseDelayMs ?? 200;
    let changeId: string | undefined;
    for (let attempt = 1; changeId === undefined; attempt += 1) {
      try {
        const changed = await this.props.client.send(
          new ChangeResourceRecordSetsCommand({
            HostedZoneId: this.props.hostedZoneId,
            ChangeBatch: {
              Comment: 'Responder failover',
              Changes: [
                {
                  Action: 'UPSERT',
                  ResourceRecordSet: {
                    Name: fqdn(record.name),
                    Type: record.type,
                    TTL: record.ttl,
                    ResourceRecords: record.values.map((Value) => ({ Value })),
                  },
                },
              ],
            },
          }),
        );
        changeId = changed.ChangeInfo?.Id ?? '';
      } catch (error) {
        const name = (error as { name?: string }).name ?? '';
        if (!RETRYABLE.has(name) || attempt >= maxAttempts) {
          throw new Error(
            `Route 53 refused the change after ${attempt} attempt${attempt === 1 ? '' : 's'}: ${name}: ${(error as Error).message}`,
          );
        }
        // Full jitter: a random wait up to base × 2^(attempt-1), so retrying callers spread out.
        await this.sleep(Math.floor(this.random() * base * 2 ** (attempt - 1)));
      }
    }
    const deadline = started + this.props.insyncTimeoutMs;
    for (;;) {
      const change = await this.props.client.send(new GetChangeCommand({ Id: changeId }));
      if (change.ChangeInfo?.Status === 'INSYNC') return { changeId, insyncAfterMs: this.now() - started };
      if (this.now() >= deadline) {
        throw new Error(
          `change ${changeId} was not INSYNC within ${Math.round(this.props.insyncTimeoutMs / 1000)} s (still ${change.ChangeInfo?.Status}): the record is changed but may not be served everywhere yet`,
        );
      }
      await this.sleep(this.props.pollIntervalMs ?? 2000);
    }
  }
}
