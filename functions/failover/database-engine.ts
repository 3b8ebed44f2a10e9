import { connectionFromSecret } from '../../src/adapters/postgres-connection.ts';
import { PostgresDatabaseFailover } from '../../src/adapters/postgres-database-failover.ts';
import type { FailoverConfig } from '../../src/config/failover.ts';
import type { FailoverSite, SecretStore } from '../../src/ports.ts';

/**
 * The SQL side of `failover.database`: each site's admin login from its secret (read on each use:
 * secrets rotate). It is the whole engine for `postgres-standby`; for RDS and Aurora it fences the
 * old primary and carries the drill's markers, when both logins are configured.
 */
export function postgresFailoverFor(
  failover: FailoverConfig,
  secrets: SecretStore,
  options: { sleep?: (ms: number) => Promise<void> } = {},
): PostgresDatabaseFailover | undefined {
  const db = failover.database;
  if (!db?.primarySecret || !db.drSecret) return undefined;
  const secretOf: Record<FailoverSite, string> = { primary: db.primarySecret, dr: db.drSecret };
  return new PostgresDatabaseFailover({
    connection: async (site) =>
      connectionFromSecret(secretOf[site], await secrets.getSecretString(secretOf[site]), {
        database: db.database,
      }),
    fenceRoles: db.fence.roles,
    ignoreDatabases: db.fence.ignoreDatabases,
    connectTimeoutSeconds: db.connectTimeoutSeconds,
    markerTable: failover.drill.markerTable,
    sleep: options.sleep,
  });
}
