import type { DnsRecordSet, FailoverSite } from '../ports.ts';
import type { FailoverConfig } from './failover.ts';

// Kept apart from the schema (zod) so the failover function's bundle does not carry it.

/**
 * The record set the zone holds while `site` is active: its addresses or CNAME, under the configured
 * name, type and TTL. An alias target is carried as its DNS name under the record's type (Route 53
 * keeps an alias as an A or AAAA record too); the local DNS listener answers it as a CNAME.
 */
export function failoverRecordSet(failover: FailoverConfig, site: FailoverSite): DnsRecordSet {
  const value = failover[site].record;
  return {
    name: failover.record.name.toLowerCase().replace(/\.$/, ''),
    type: failover.record.type,
    ttl: failover.record.ttl,
    values: 'values' in value ? [...value.values] : [value.alias.dnsName.replace(/\.$/, '')],
  };
}
