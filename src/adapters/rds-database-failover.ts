import {
  type DBInstance,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeGlobalClustersCommand,
  FailoverGlobalClusterCommand,
  type GlobalCluster,
  type GlobalClusterMember,
  PromoteReadReplicaCommand,
  RDSClient,
  SwitchoverGlobalClusterCommand,
} from '@aws-sdk/client-rds';
// Types only: the failover function's bundle stays free of the config schema (zod).
import type { FailoverDatabaseConfig } from '../config/failover-database.ts';
import type { DatabaseFailover, DatabaseRole, FailoverSite, FenceResult } from '../ports.ts';

export type RdsReplicaConfig = Extract<FailoverDatabaseConfig, { engine: 'rds-replica' }>;
export type AuroraGlobalConfig = Extract<FailoverDatabaseConfig, { engine: 'aurora-global' }>;
/** The engines RDS's control plane fails over (`postgres-standby` speaks SQL instead). */
export type RdsEngineConfig = RdsReplicaConfig | AuroraGlobalConfig;

/** Fences a site's database over SQL (read-only, write sessions ended); says what happened, never throws. */
export type SqlFence = (site: FailoverSite) => Promise<FenceResult>;

/** One RDS client per site: each in the region of that site's database. */
export interface RdsSiteClients {
  readonly dr: RDSClient;
  readonly primary: RDSClient;
}

export interface RdsPolling {
  /** Between polls while a promotion runs. @default 10_000 */
  readonly pollIntervalMs?: number;
  /** Attempts of one RDS call while RDS throttles it. @default 5 */
  readonly maxAttempts?: number;
  /** The first backoff after throttling; each retry doubles it, with full jitter. @default 500 */
  readonly baseDelayMs?: number;
  /** Injected in tests. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  readonly now?: () => number;
}

/** The error names RDS (query protocol) and the SDK give a throttled request. */
const THROTTLED = new Set(['Throttling', 'ThrottlingException']);

const errorName = (error: unknown) => (error as { name?: string })?.name ?? 'Error';
const errorText = (error: unknown) => `${errorName(error)}: ${(error as Error)?.message ?? String(error)}`;
const other = (site: FailoverSite): FailoverSite => (site === 'dr' ? 'primary' : 'dr');
const seconds = (ms: number) => Math.round(ms / 1000);

/** Throttling retries with jittered backoff, and the clock the promotions poll by. */
class RdsCalls {
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  readonly pollIntervalMs: number;
  private readonly random: () => number;

  constructor(private readonly polling: RdsPolling) {
    this.sleep = polling.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = polling.random ?? Math.random;
    this.now = polling.now ?? Date.now;
    this.pollIntervalMs = polling.pollIntervalMs ?? 10_000;
  }

  /** `call`, again after a random wait up to base × 2^(attempt-1) while RDS throttles it (bounded). */
  async send<T>(call: () => Promise<T>): Promise<T> {
    const maxAttempts = this.polling.maxAttempts ?? 5;
    const base = this.polling.baseDelayMs ?? 500;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await call();
      } catch (error) {
        if (!THROTTLED.has(errorName(error)) || attempt >= maxAttempts) throw error;
        await this.sleep(Math.floor(this.random() * base * 2 ** (attempt - 1)));
      }
    }
  }

  /** Waits one poll interval, never past the deadline. */
  pause(deadline: number) {
    return this.sleep(Math.max(0, Math.min(this.pollIntervalMs, deadline - this.now())));
  }
}

/**
 * `rds-replica`: an RDS for PostgreSQL instance in the primary region and its cross-region read
 * replica in the DR region. Failover promotes the replica (PromoteReadReplica, then available and
 * standalone). Failback promotes the primary instance once a human has rebuilt it as a read replica of
 * the DR instance; a primary that is not one is refused (promoting it would bring back stale data).
 *
 * RDS publishes replica lag only as the CloudWatch metric `ReplicaLag`; DescribeDBInstances carries the
 * replication status (StatusInfos) but no lag figure, so `lagSeconds` stays undefined here.
 */
export class RdsReplicaFailover implements DatabaseFailover {
  readonly engine = 'rds-replica' as const;
  private readonly calls: RdsCalls;

  constructor(
    private readonly props: {
      readonly clients: RdsSiteClients;
      readonly database: RdsReplicaConfig;
      /** With a SQL login for the site (primarySecret/drSecret): the fence. @default - no SQL fence */
      readonly sqlFence?: SqlFence;
    } & RdsPolling,
  ) {
    this.calls = new RdsCalls(props);
  }

  private instanceOf(site: FailoverSite) {
    return site === 'dr' ? this.props.database.replicaInstance : this.props.database.primaryInstance;
  }

  private where(site: FailoverSite) {
    return site === 'dr' ? 'the DR region' : `the primary region (${this.props.database.primaryRegion})`;
  }

  private async describe(site: FailoverSite): Promise<DBInstance> {
    const id = this.instanceOf(site);
    try {
      const answer = await this.calls.send(() =>
        this.props.clients[site].send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id })),
      );
      const [instance] = answer.DBInstances ?? [];
      if (instance) return instance;
    } catch (error) {
      if (errorName(error) !== 'DBInstanceNotFoundFault') {
        throw new Error(`RDS in ${this.where(site)} did not describe ${id}: ${errorText(error)}`, {
          cause: error,
        });
      }
    }
    throw new Error(
      `no DB instance ${id} in ${this.where(site)}: check failover.database.${site === 'dr' ? 'replicaInstance' : 'primaryInstance'}`,
    );
  }

  /** Whether `source` (an identifier, or an ARN for a cross-region replica) names `site`'s instance. */
  private names(source: string, site: FailoverSite) {
    const id = this.instanceOf(site).toLowerCase();
    const named = source.toLowerCase();
    return named === id || named.endsWith(`:db:${id}`);
  }

  private stateOf(instance: DBInstance) {
    const source = instance.ReadReplicaSourceDBInstanceIdentifier;
    return `status "${instance.DBInstanceStatus ?? 'unknown'}", ${source ? `still a read replica of ${source}` : 'standalone'}`;
  }

  async inspect(site: FailoverSite): Promise<DatabaseRole> {
    const instance = await this.describe(site);
    const id = this.instanceOf(site);
    const status = instance.DBInstanceStatus ?? 'unknown';
    const source = instance.ReadReplicaSourceDBInstanceIdentifier;
    if (!source) {
      return {
        role: 'writer',
        detail: `${id} in ${this.where(site)} is a standalone instance, status "${status}"`,
      };
    }
    const replication = instance.StatusInfos?.find((info) => info.StatusType === 'read replication');
    const streaming = replication
      ? replication.Status === 'replicating' && replication.Normal !== false
      : undefined;
    return {
      role: 'replica',
      streaming,
      detail:
        `${id} in ${this.where(site)} is a read replica of ${source}, status "${status}", replication ` +
        `${replication?.Status ? `"${replication.Status}"` : 'not reported'}${replication?.Message ? ` (${replication.Message})` : ''}; ` +
        'lag unknown: RDS reports replica lag only as the CloudWatch metric ReplicaLag, not through DescribeDBInstances',
    };
  }

  async fence(site: FailoverSite): Promise<FenceResult> {
    if (this.props.sqlFence) {
      try {
        return await this.props.sqlFence(site);
      } catch (error) {
        return {
          reachable: false,
          fenced: false,
          detail: `the SQL fence failed: ${(error as Error).message}`,
        };
      }
    }
    const id = this.instanceOf(site);
    const login = `failover.database.${site === 'dr' ? 'drSecret' : 'primarySecret'}`;
    let instance: DBInstance;
    try {
      instance = await this.describe(site);
    } catch (error) {
      return {
        reachable: false,
        fenced: false,
        detail: `${(error as Error).message}; not fenced (no SQL login is configured in ${login} either)`,
      };
    }
    if (instance.ReadReplicaSourceDBInstanceIdentifier) {
      return {
        reachable: true,
        fenced: true,
        detail: `${id} is a read replica of ${instance.ReadReplicaSourceDBInstanceIdentifier}: it takes no writes`,
      };
    }
    return {
      reachable: true,
      fenced: false,
      detail: `RDS in ${this.where(site)} answers for ${id} (status "${instance.DBInstanceStatus ?? 'unknown'}"), but it was not fenced: no SQL login is configured (${login}) to make it read-only and end its sessions, so it takes writes from any client that still reaches it`,
    };
  }

  async promote(
    site: FailoverSite,
    options: { readonly timeoutMs: number; readonly sourceAnswers: boolean; readonly allowDataLoss: boolean },
  ): Promise<{ readonly detail: string }> {
    const started = this.calls.now();
    const deadline = started + options.timeoutMs;
    const id = this.instanceOf(site);
    const from = this.instanceOf(other(site));
    let instance = await this.describe(site);
    const source = instance.ReadReplicaSourceDBInstanceIdentifier;
    if (!source && site === 'primary') {
      throw new Error(
        `failback refused: the primary instance ${id} is not a read replica (${this.stateOf(instance)}), so promoting it would serve data without what ${from} took since the failover. Rebuild ${id} as a read replica of ${from}, wait until it replicates, then fail back. (If an earlier failback already promoted it, make sure ${from} takes no more writes before moving DNS.) Nothing was changed.`,
      );
    }
    if (source && !this.names(source, other(site))) {
      throw new Error(
        `${id} replicates from ${source}, not from ${from}: refusing to promote it; check failover.database. Nothing was changed.`,
      );
    }
    const already = !source;
    // Promote only an available replica: one "modifying" is likely being promoted already (a retried
    // failover), and RDS refuses a replica that is backing up. A refusal (InvalidDBInstanceState) is
    // tried again at the next poll while the replica stays available.
    let requested = false;
    let refusal = '';
    for (;;) {
      const replicaOf = instance.ReadReplicaSourceDBInstanceIdentifier;
      if (!replicaOf && instance.DBInstanceStatus === 'available') {
        return {
          detail: already
            ? `${id} was already promoted (standalone and available): nothing to do`
            : `${id} promoted: standalone and available after ${seconds(this.calls.now() - started)} s`,
        };
      }
      if (replicaOf && !requested && instance.DBInstanceStatus === 'available') {
        try {
          await this.calls.send(() =>
            this.props.clients[site].send(new PromoteReadReplicaCommand({ DBInstanceIdentifier: id })),
          );
          requested = true;
        } catch (error) {
          if (errorName(error) !== 'InvalidDBInstanceStateFault') {
            throw new Error(`RDS refused to promote ${id}: ${errorText(error)}. Nothing was changed.`, {
              cause: error,
            });
          }
          refusal = ` (RDS answered ${errorText(error)})`;
        }
      }
      if (this.calls.now() >= deadline) {
        throw new Error(
          `${id} was not promoted within ${seconds(options.timeoutMs)} s: ${this.stateOf(instance)}${requested ? '' : `, promotion not yet accepted${refusal}`}. The promotion may still finish: check ${id} in the RDS console before failing over again.`,
        );
      }
      await this.calls.pause(deadline);
      instance = await this.describe(site);
    }
  }
}

const regionOf = (arn: string) => arn.split(':')[3] ?? '';
const clusterName = (arn: string) => arn.split(':').at(-1) ?? arn;
const sameArn = (a: string | undefined, b: string) => a?.toLowerCase() === b.toLowerCase();

/**
 * `aurora-global`: an Aurora PostgreSQL global database with a cluster in each region. When the other
 * region's cluster answers, SwitchoverGlobalCluster promotes the target without losing data (and
 * demotes the old writer itself); when it does not, FailoverGlobalCluster with AllowDataLoss, only if
 * the request accepted that loss. Each then waits until the target is the writer and no switchover or
 * failover is pending.
 *
 * Aurora publishes replication lag only as the CloudWatch metric `AuroraGlobalDBReplicationLag`;
 * DescribeGlobalClusters carries each member's role and synchronization status but no lag figure.
 */
export class AuroraGlobalFailover implements DatabaseFailover {
  readonly engine = 'aurora-global' as const;
  private readonly calls: RdsCalls;

  constructor(
    private readonly props: {
      readonly clients: RdsSiteClients;
      readonly database: AuroraGlobalConfig;
    } & RdsPolling,
  ) {
    this.calls = new RdsCalls(props);
  }

  private arnOf(site: FailoverSite) {
    return site === 'dr' ? this.props.database.drClusterArn : this.props.database.primaryClusterArn;
  }

  private describeCluster(site: FailoverSite) {
    return `${clusterName(this.arnOf(site))} (${regionOf(this.arnOf(site))})`;
  }

  /** The global cluster as `site`'s region sees it: that region answers when `site` is acted on. */
  private async describeGlobal(site: FailoverSite): Promise<GlobalCluster> {
    const id = this.props.database.globalClusterIdentifier;
    let found: GlobalCluster | undefined;
    try {
      const answer = await this.calls.send(() =>
        this.props.clients[site].send(new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: id })),
      );
      found = answer.GlobalClusters?.[0];
    } catch (error) {
      if (errorName(error) !== 'GlobalClusterNotFoundFault') {
        throw new Error(
          `RDS in ${regionOf(this.arnOf(site))} did not describe global cluster ${id}: ${errorText(error)}`,
          {
            cause: error,
          },
        );
      }
    }
    if (!found) throw new Error(`no global cluster ${id}: check failover.database.globalClusterIdentifier`);
    return found;
  }

  private memberOf(global: GlobalCluster, site: FailoverSite): GlobalClusterMember {
    const member = global.GlobalClusterMembers?.find((m) => sameArn(m.DBClusterArn, this.arnOf(site)));
    if (!member) {
      throw new Error(
        `${this.arnOf(site)} is not a member of global cluster ${this.props.database.globalClusterIdentifier}: check failover.database.${site === 'dr' ? 'drClusterArn' : 'primaryClusterArn'}`,
      );
    }
    return member;
  }

  private operationOf(global: GlobalCluster) {
    const state = global.FailoverState;
    if (!state?.Status) return '';
    const kind = state.IsDataLossAllowed ? 'failover' : 'switchover';
    return `a ${kind} from ${clusterName(state.FromDbClusterArn ?? '?')} to ${clusterName(state.ToDbClusterArn ?? '?')} is "${state.Status}"`;
  }

  async inspect(site: FailoverSite): Promise<DatabaseRole> {
    const global = await this.describeGlobal(site);
    const member = this.memberOf(global, site);
    const operation = this.operationOf(global);
    const gid = this.props.database.globalClusterIdentifier;
    if (member.IsWriter) {
      return {
        role: 'writer',
        detail: `${this.describeCluster(site)} is the writer of global cluster ${gid}${operation ? `; ${operation}` : ''}`,
      };
    }
    const sync = member.SynchronizationStatus;
    return {
      role: 'replica',
      streaming: sync ? sync === 'connected' : undefined,
      detail:
        `${this.describeCluster(site)} is a read-only secondary of global cluster ${gid}, synchronization ${sync ? `"${sync}"` : 'not reported'}; ` +
        `lag unknown: Aurora reports replication lag only as the CloudWatch metric AuroraGlobalDBReplicationLag, not through DescribeGlobalClusters${operation ? `; ${operation}` : ''}`,
    };
  }

  /**
   * Whether the other region's cluster answers, which is what decides a switchover: that demotes the
   * old writer itself, so a cluster that answers counts as fenced by the switchover to come.
   */
  async fence(site: FailoverSite): Promise<FenceResult> {
    const arn = this.arnOf(site);
    try {
      const answer = await this.calls.send(() =>
        this.props.clients[site].send(new DescribeDBClustersCommand({ DBClusterIdentifier: arn })),
      );
      const status = answer.DBClusters?.[0]?.Status ?? 'unknown';
      return {
        reachable: true,
        fenced: true,
        detail: `RDS in ${regionOf(arn)} answers for ${clusterName(arn)} (status "${status}"): the switchover demotes it to a read-only secondary`,
      };
    } catch (error) {
      return {
        reachable: false,
        fenced: false,
        detail: `RDS in ${regionOf(arn)} did not answer for ${clusterName(arn)} (${errorText(error)}): not fenced; only a failover that accepts data loss can promote the other cluster, and Aurora demotes this one when its region answers again`,
      };
    }
  }

  async promote(
    site: FailoverSite,
    options: { readonly timeoutMs: number; readonly sourceAnswers: boolean; readonly allowDataLoss: boolean },
  ): Promise<{ readonly detail: string }> {
    const started = this.calls.now();
    const deadline = started + options.timeoutMs;
    const target = this.arnOf(site);
    const name = this.describeCluster(site);
    const gid = this.props.database.globalClusterIdentifier;
    let global = await this.describeGlobal(site);
    const pending = global.FailoverState?.Status;
    if (this.memberOf(global, site).IsWriter && !pending) {
      return { detail: `${name} is already the writer of global cluster ${gid}: nothing to do` };
    }
    let how: string;
    if (pending) {
      if (!sameArn(global.FailoverState?.ToDbClusterArn, target)) {
        throw new Error(
          `${this.operationOf(global)} on global cluster ${gid}: wait for it to finish, then fail over again. Nothing was changed.`,
        );
      }
      how = `the ${global.FailoverState?.IsDataLossAllowed ? 'failover' : 'switchover'} already under way`;
    } else {
      if (!options.sourceAnswers && !options.allowDataLoss) {
        throw new Error(
          `promoting ${name} while ${this.describeCluster(other(site))} does not answer would lose data (what it had not replicated yet): accept the loss (approval) to fail over with FailoverGlobalCluster, or wait until it answers and switch over without loss. Nothing was changed.`,
        );
      }
      const client = this.props.clients[site];
      how = options.sourceAnswers ? 'a switchover (no data loss)' : 'a failover (data loss accepted)';
      try {
        await this.calls.send(async () => {
          if (options.sourceAnswers) {
            await client.send(
              new SwitchoverGlobalClusterCommand({
                GlobalClusterIdentifier: gid,
                TargetDbClusterIdentifier: target,
              }),
            );
          } else {
            await client.send(
              new FailoverGlobalClusterCommand({
                GlobalClusterIdentifier: gid,
                TargetDbClusterIdentifier: target,
                AllowDataLoss: true,
              }),
            );
          }
        });
      } catch (error) {
        global = await this.describeGlobal(site);
        if (!sameArn(global.FailoverState?.ToDbClusterArn, target)) {
          throw new Error(
            `RDS refused ${how} of global cluster ${gid} to ${name}: ${errorText(error)}. Nothing was changed.`,
            { cause: error },
          );
        }
        how = `${how}, already under way`;
      }
    }
    for (;;) {
      global = await this.describeGlobal(site);
      if (this.memberOf(global, site).IsWriter && !global.FailoverState?.Status) {
        return {
          detail: `${name} is the writer of global cluster ${gid} after ${how}, ${seconds(this.calls.now() - started)} s`,
        };
      }
      if (this.calls.now() >= deadline) {
        const operation = this.operationOf(global);
        throw new Error(
          `${name} did not become the writer of global cluster ${gid} within ${seconds(options.timeoutMs)} s after ${how}: ${operation || `it is ${this.memberOf(global, site).IsWriter ? 'the writer' : 'a secondary'}, global cluster status "${global.Status ?? 'unknown'}"`}. It may still finish: check the global cluster in the RDS console before failing over again.`,
        );
      }
      await this.calls.pause(deadline);
    }
  }
}

/**
 * The RDS engine for `failover.database` (rds-replica or aurora-global), with one client per site in
 * that site's region: the DR region's (`drRegion`; for Aurora, the DR cluster's ARN says it) and the
 * primary's (`primaryRegion`; the primary cluster's ARN). Clients retry nothing themselves
 * (`maxAttempts: 1`): the engine retries throttling with its own bounded backoff.
 */
export function rdsEngineFor(
  database: RdsEngineConfig,
  options: {
    readonly drRegion: string;
    readonly sqlFence?: SqlFence;
    /** @default - an RDSClient in that region, maxAttempts 1 */
    readonly clientIn?: (region: string) => RDSClient;
  } & RdsPolling,
): DatabaseFailover {
  const { drRegion, sqlFence, clientIn, ...polling } = options;
  const client = clientIn ?? ((region: string) => new RDSClient({ region, maxAttempts: 1 }));
  if (database.engine === 'rds-replica') {
    return new RdsReplicaFailover({
      ...polling,
      clients: { dr: client(drRegion), primary: client(database.primaryRegion) },
      database,
      sqlFence,
    });
  }
  return new AuroraGlobalFailover({
    ...polling,
    clients: {
      dr: client(regionOf(database.drClusterArn)),
      primary: client(regionOf(database.primaryClusterArn)),
    },
    database,
  });
}
