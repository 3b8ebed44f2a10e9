import { Resolver } from 'node:dns/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { Route53Client } from '@aws-sdk/client-route-53';
import { DynamoDbFailoverStore } from '../../src/adapters/dynamodb-failover-store.ts';
import { EventBridgeDispatcher } from '../../src/adapters/eventbridge-dispatcher.ts';
import { rdsEngineFor } from '../../src/adapters/rds-database-failover.ts';
import { Route53DnsZone } from '../../src/adapters/route53-dns-zone.ts';
import { StateTable } from '../../src/adapters/state-table.ts';
import { createActionHandler } from '../../src/aws/action-handler.ts';
import { requireEnv } from '../../src/config/bundled.ts';
import type { ActionDispatcher, DnsRecordSet } from '../../src/ports.ts';
import { probeTarget } from '../probe/probe-targets.ts';
import { approvalPager } from './approval-page.ts';
import { postgresFailoverFor } from './database-engine.ts';
import { createFailoverAction } from './failover-dns.ts';
import { failoverWarningPager } from './warning-page.ts';

/**
 * What the zone's own name servers answer (not a caching resolver): the NS records of the zone, then
 * the record asked of them directly.
 */
async function authoritativeAnswer(zoneName: string, name: string, type: DnsRecordSet['type']) {
  const system = new Resolver({ timeout: 2000, tries: 2 });
  const servers = (await system.resolveNs(zoneName)).slice(0, 4);
  const addresses = (await Promise.all(servers.map((ns) => system.resolve4(ns).catch(() => [])))).flat();
  const authoritative = new Resolver({ timeout: 2000, tries: 1 });
  authoritative.setServers(addresses);
  if (type === 'CNAME') return authoritative.resolveCname(name);
  return type === 'AAAA' ? authoritative.resolve6(name) : authoritative.resolve4(name);
}

/**
 * The primary region's bus, by ARN: an EventBridge client in that region puts the pages of this
 * function's incidents (an approval, a failed failover) there. The escalate function there has its
 * own table, so each request carries its incident.
 */
function primaryBusDispatcher(): ActionDispatcher | undefined {
  const arn = process.env.PRIMARY_EVENT_BUS_ARN;
  if (!arn) return undefined;
  const region = arn.split(':')[3];
  const bus = new EventBridgeDispatcher(new EventBridgeClient({ region, maxAttempts: 3 }), arn);
  return { carriesIncidents: true, dispatch: (requests) => bus.dispatch(requests) };
}
const primaryBus = primaryBusDispatcher();

/** The failover function runs in the DR region, over the DR region's state table. */
export const handler = await createActionHandler(
  'failover',
  (env) => {
    const failover = env.config.failover;
    const table = new StateTable({
      client: new DynamoDBClient({ maxAttempts: 3 }),
      tableName: requireEnv('STATE_TABLE_NAME'),
    });
    const database = failover?.database;
    // Each site's admin login, when configured: the whole engine for postgres-standby; for RDS and
    // Aurora the fence of the old primary and the drill's marker rows.
    const sql = failover ? postgresFailoverFor(failover, env.secrets) : undefined;
    const targets = new Map(env.config.probes.targets.map((target) => [target.name, target]));
    return createFailoverAction({
      config: env.config,
      store: new DynamoDbFailoverStore(table),
      zone:
        failover?.mode === 'records'
          ? new Route53DnsZone({
              client: new Route53Client({ maxAttempts: 1 }),
              hostedZoneId: failover.hostedZoneId,
              insyncTimeoutMs: failover.changeTimeoutSeconds * 1000,
            })
          : undefined,
      // RDS and Aurora fail over through the RDS API, each site's database through its region's endpoint.
      database:
        database?.engine === 'postgres-standby'
          ? sql
          : database
            ? rdsEngineFor(database, {
                drRegion: env.config.aws.drRegion,
                sqlFence: sql ? (site) => sql.fence(site) : undefined,
              })
            : undefined,
      markers: sql,
      probe: (names) =>
        Promise.all(
          names.flatMap((name) => {
            const target = targets.get(name);
            return target ? [probeTarget(target, { secrets: env.secrets, clock: env.clock })] : [];
          }),
        ),
      resolve: failover ? (name, type) => authoritativeAnswer(failover.zoneName, name, type) : undefined,
      audit: env.audit,
      clock: env.clock,
      log: env.log,
      // The approval page goes through the primary region's bus (this function runs in the DR region),
      // where the escalate function records the incident and pages; without it the approval waits
      // unpaged, in the audit trail.
      requestApproval: primaryBus ? approvalPager(env) : undefined,
      // An old primary not fenced pages the same way.
      warn: primaryBus ? failoverWarningPager(env) : undefined,
    });
  },
  { dispatcher: primaryBus },
);
