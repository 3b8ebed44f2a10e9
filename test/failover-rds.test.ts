import {
  type DBInstance,
  DBInstanceNotFoundFault,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeGlobalClustersCommand,
  FailoverGlobalClusterCommand,
  type GlobalCluster,
  InvalidDBInstanceStateFault,
  InvalidGlobalClusterStateFault,
  PromoteReadReplicaCommand,
  RDSClient,
  SwitchoverGlobalClusterCommand,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type AuroraGlobalConfig,
  AuroraGlobalFailover,
  type RdsReplicaConfig,
  RdsReplicaFailover,
  rdsEngineFor,
} from '../src/adapters/rds-database-failover.ts';
import { failoverDatabaseSchema } from '../src/config/failover-database.ts';
import type { FenceResult } from '../src/ports.ts';

// RDS and Aurora have no local implementation: the exact commands each path sends, to the client of
// the right region, on a clock the test moves (each sleep advances it).

const DR_REGION = 'eu-central-1';
const PRIMARY_REGION = 'eu-west-1';
const REPLICA_ARN = `arn:aws:rds:${DR_REGION}:123456789012:db:payments-dr`;
const PRIMARY_DB_ARN = `arn:aws:rds:${PRIMARY_REGION}:123456789012:db:payments`;
const DR_CLUSTER = `arn:aws:rds:${DR_REGION}:123456789012:cluster:payments-dr`;
const PRIMARY_CLUSTER = `arn:aws:rds:${PRIMARY_REGION}:123456789012:cluster:payments`;

const replicaConfig = failoverDatabaseSchema.parse({
  engine: 'rds-replica',
  replicaInstance: 'payments-dr',
  primaryInstance: 'payments',
  primaryRegion: PRIMARY_REGION,
}) as RdsReplicaConfig;
const auroraConfig = failoverDatabaseSchema.parse({
  engine: 'aurora-global',
  globalClusterIdentifier: 'payments-global',
  drClusterArn: DR_CLUSTER,
  primaryClusterArn: PRIMARY_CLUSTER,
}) as AuroraGlobalConfig;

const drClient = new RDSClient({ region: DR_REGION });
const primaryClient = new RDSClient({ region: PRIMARY_REGION });
const dr = mockClient(drClient);
const primary = mockClient(primaryClient);

/** A clock that only the engine's sleeps move. */
function fakeTime() {
  const time = { clock: 0, sleeps: [] as number[] };
  return {
    time,
    polling: {
      pollIntervalMs: 10_000,
      baseDelayMs: 500,
      random: () => 0.5,
      now: () => time.clock,
      sleep: async (ms: number) => {
        time.sleeps.push(ms);
        time.clock += ms;
      },
    },
  };
}

const throttled = (name = 'Throttling') =>
  Object.assign(new Error('Rate exceeded'), { name, $metadata: { httpStatusCode: 400 } });
const promoteOptions = (
  over: Partial<{ timeoutMs: number; sourceAnswers: boolean; allowDataLoss: boolean }> = {},
) => ({
  timeoutMs: 300_000,
  sourceAnswers: false,
  allowDataLoss: false,
  ...over,
});

const instance = (status: string, source?: string, replication?: DBInstance['StatusInfos']): DBInstance => ({
  DBInstanceIdentifier: 'payments-dr',
  DBInstanceStatus: status,
  ...(source
    ? {
        ReadReplicaSourceDBInstanceIdentifier: source,
        StatusInfos: replication ?? [{ StatusType: 'read replication', Normal: true, Status: 'replicating' }],
      }
    : {}),
});
const described = (...instances: DBInstance[]) => instances.map((i) => ({ DBInstances: [i] }));

afterAll(() => {
  dr.restore();
  primary.restore();
});
beforeEach(() => {
  dr.reset();
  primary.reset();
});

describe('Class: RdsReplicaFailover', () => {
  const engine = (time = fakeTime(), sqlFence?: (site: 'primary' | 'dr') => Promise<FenceResult>) =>
    new RdsReplicaFailover({
      ...time.polling,
      clients: { dr: drClient, primary: primaryClient },
      database: replicaConfig,
      sqlFence,
    });

  /** Answers DescribeDBInstances on `mock` with each instance in turn, the last one from then on. */
  function describes(mock: typeof dr, ...instances: DBInstance[]) {
    const chain = mock.on(DescribeDBInstancesCommand);
    for (const answer of described(...instances).slice(0, -1)) chain.resolvesOnce(answer);
    chain.resolves(described(...instances).at(-1) ?? {});
  }

  describe('Method: inspect', () => {
    it('reads each site in its own region: the DR replica and its replication status, the primary as writer; no lag figure', async () => {
      // Prepare
      describes(dr, instance('available', PRIMARY_DB_ARN));
      describes(primary, instance('available'));
      // Act
      const replica = await engine().inspect('dr');
      const writer = await engine().inspect('primary');
      // Assess
      expect(dr).toHaveReceivedCommandWith(DescribeDBInstancesCommand, {
        DBInstanceIdentifier: 'payments-dr',
      });
      expect(primary).toHaveReceivedCommandWith(DescribeDBInstancesCommand, {
        DBInstanceIdentifier: 'payments',
      });
      expect(replica).toMatchObject({ role: 'replica', streaming: true });
      expect(replica.lagSeconds).toBeUndefined();
      expect(replica.detail).toMatch(/read replica of arn:aws:rds:eu-west-1:123456789012:db:payments/);
      expect(replica.detail).toMatch(/lag unknown: .*ReplicaLag/);
      expect(writer).toMatchObject({ role: 'writer' });
      expect(writer.detail).toMatch(/payments in the primary region \(eu-west-1\) is a standalone instance/);
    });

    it('says a replica whose replication broke is not streaming, with RDS’s message', async () => {
      describes(
        dr,
        instance('available', PRIMARY_DB_ARN, [
          {
            StatusType: 'read replication',
            Normal: false,
            Status: 'error',
            Message: 'replication stopped: WAL gap',
          },
        ]),
      );
      const role = await engine().inspect('dr');
      expect(role).toMatchObject({ role: 'replica', streaming: false });
      expect(role.detail).toMatch(/replication "error" \(replication stopped: WAL gap\)/);
    });

    it('throws when the instance does not exist or RDS does not answer, naming the field or the region', async () => {
      dr.on(DescribeDBInstancesCommand).rejects(
        new DBInstanceNotFoundFault({ message: 'DBInstance payments-dr not found.', $metadata: {} }),
      );
      await expect(engine().inspect('dr')).rejects.toThrow(
        /no DB instance payments-dr in the DR region: check failover.database.replicaInstance/,
      );
      primary
        .on(DescribeDBInstancesCommand)
        .rejects(Object.assign(new Error('connect ETIMEDOUT'), { name: 'TimeoutError' }));
      await expect(engine().inspect('primary')).rejects.toThrow(
        /RDS in the primary region \(eu-west-1\) did not describe payments: TimeoutError: connect ETIMEDOUT/,
      );
    });

    it('retries throttling with jittered backoff, and gives up after the bound', async () => {
      dr.on(DescribeDBInstancesCommand)
        .rejectsOnce(throttled())
        .rejectsOnce(throttled('ThrottlingException'))
        .resolves(described(instance('available', PRIMARY_DB_ARN))[0] ?? {});
      const time = fakeTime();
      expect((await engine(time).inspect('dr')).role).toBe('replica');
      // random() = 0.5: half of 500 ms, then half of 1000 ms.
      expect(time.time.sleeps).toEqual([250, 500]);
      dr.reset();
      dr.on(DescribeDBInstancesCommand).rejects(throttled());
      const bounded = fakeTime();
      await expect(engine(bounded).inspect('dr')).rejects.toThrow(/Throttling: Rate exceeded/);
      expect(dr.commandCalls(DescribeDBInstancesCommand)).toHaveLength(5);
      expect(bounded.time.sleeps).toEqual([250, 500, 1000, 2000]);
    });
  });

  describe('Method: promote', () => {
    it('promotes the DR replica (PromoteReadReplica), then polls until it is standalone and available', async () => {
      // Prepare
      describes(
        dr,
        instance('available', PRIMARY_DB_ARN),
        instance('modifying', PRIMARY_DB_ARN),
        instance('rebooting'),
        instance('available'),
      );
      dr.on(PromoteReadReplicaCommand).resolves({ DBInstance: instance('modifying', PRIMARY_DB_ARN) });
      const time = fakeTime();
      // Act
      const promoted = await engine(time).promote('dr', promoteOptions());
      // Assess
      expect(dr.commandCalls(PromoteReadReplicaCommand).map((c) => c.args[0].input)).toEqual([
        { DBInstanceIdentifier: 'payments-dr' },
      ]);
      expect(primary.calls()).toHaveLength(0);
      expect(dr.commandCalls(DescribeDBInstancesCommand)).toHaveLength(4);
      expect(time.time.sleeps).toEqual([10_000, 10_000, 10_000]);
      expect(promoted.detail).toBe('payments-dr promoted: standalone and available after 30 s');
    });

    it('returns at once for an instance already promoted: no PromoteReadReplica', async () => {
      describes(dr, instance('available'));
      const promoted = await engine().promote('dr', promoteOptions());
      expect(dr.commandCalls(PromoteReadReplicaCommand)).toHaveLength(0);
      expect(promoted.detail).toMatch(/already promoted/);
    });

    it('waits for a promotion already running instead of asking again (a retried failover)', async () => {
      describes(dr, instance('modifying', PRIMARY_DB_ARN), instance('rebooting'), instance('available'));
      const promoted = await engine().promote('dr', promoteOptions());
      expect(dr.commandCalls(PromoteReadReplicaCommand)).toHaveLength(0);
      expect(promoted.detail).toMatch(/payments-dr promoted/);
    });

    it('waits on InvalidDBInstanceState and asks again while the replica stays available', async () => {
      describes(
        dr,
        instance('available', PRIMARY_DB_ARN),
        instance('available', PRIMARY_DB_ARN),
        instance('modifying', PRIMARY_DB_ARN),
        instance('available'),
      );
      dr.on(PromoteReadReplicaCommand)
        .rejectsOnce(
          new InvalidDBInstanceStateFault({ message: 'Instance is not in available state', $metadata: {} }),
        )
        .resolves({});
      const promoted = await engine().promote('dr', promoteOptions());
      expect(dr.commandCalls(PromoteReadReplicaCommand)).toHaveLength(2);
      expect(promoted.detail).toMatch(/promoted: standalone and available after 30 s/);
    });

    it('stops at the time-out, naming the state the instance is in', async () => {
      describes(dr, instance('available', PRIMARY_DB_ARN), instance('modifying', PRIMARY_DB_ARN));
      dr.on(PromoteReadReplicaCommand).resolves({});
      const time = fakeTime();
      await expect(engine(time).promote('dr', promoteOptions({ timeoutMs: 30_000 }))).rejects.toThrow(
        /payments-dr was not promoted within 30 s: status "modifying", still a read replica of arn:aws:rds:eu-west-1:123456789012:db:payments\. The promotion may still finish/,
      );
      expect(time.time.clock).toBe(30_000);
      expect(dr.commandCalls(DescribeDBInstancesCommand)).toHaveLength(4);
    });

    it('says so when RDS refuses the promotion outright', async () => {
      describes(dr, instance('available', PRIMARY_DB_ARN));
      dr.on(PromoteReadReplicaCommand).rejects(
        Object.assign(new Error('not authorized'), { name: 'AccessDenied', $metadata: {} }),
      );
      await expect(engine().promote('dr', promoteOptions())).rejects.toThrow(
        /RDS refused to promote payments-dr: AccessDenied: not authorized\. Nothing was changed\./,
      );
    });

    it('fails back by promoting the primary only once it is a read replica of the DR instance', async () => {
      describes(
        primary,
        { ...instance('available', REPLICA_ARN), DBInstanceIdentifier: 'payments' },
        instance('available'),
      );
      primary.on(PromoteReadReplicaCommand).resolves({});
      const promoted = await engine().promote('primary', promoteOptions({ sourceAnswers: true }));
      expect(primary.commandCalls(PromoteReadReplicaCommand).map((c) => c.args[0].input)).toEqual([
        { DBInstanceIdentifier: 'payments' },
      ]);
      expect(dr.commandCalls(PromoteReadReplicaCommand)).toHaveLength(0);
      expect(promoted.detail).toMatch(/^payments promoted/);
    });

    it('refuses failback to a primary that is not a read replica (not rebuilt), or replicates from elsewhere', async () => {
      describes(primary, instance('available'));
      await expect(engine().promote('primary', promoteOptions({ sourceAnswers: true }))).rejects.toThrow(
        /failback refused: the primary instance payments is not a read replica .*Rebuild payments as a read replica of payments-dr/,
      );
      primary.reset();
      describes(primary, instance('available', 'arn:aws:rds:eu-west-1:123456789012:db:someone-else'));
      await expect(engine().promote('primary', promoteOptions({ sourceAnswers: true }))).rejects.toThrow(
        /payments replicates from .*someone-else, not from payments-dr: refusing/,
      );
      expect(primary.commandCalls(PromoteReadReplicaCommand)).toHaveLength(0);
    });
  });

  describe('Method: fence', () => {
    it('uses the SQL fence when there is one', async () => {
      const asked: string[] = [];
      const fenced = await engine(fakeTime(), async (site) => {
        asked.push(site);
        return { reachable: true, fenced: true, detail: 'read-only, 3 sessions ended' };
      }).fence('primary');
      expect(asked).toEqual(['primary']);
      expect(fenced).toEqual({ reachable: true, fenced: true, detail: 'read-only, 3 sessions ended' });
      expect(primary.calls()).toHaveLength(0);
    });

    it('without one, says the primary answers but was not fenced', async () => {
      describes(primary, instance('available'));
      const fenced = await engine().fence('primary');
      expect(primary).toHaveReceivedCommandWith(DescribeDBInstancesCommand, {
        DBInstanceIdentifier: 'payments',
      });
      expect(fenced).toMatchObject({ reachable: true, fenced: false });
      expect(fenced.detail).toMatch(
        /not fenced: no SQL login is configured \(failover.database.primarySecret\)/,
      );
    });

    it('counts a read replica as fenced, and an unreachable region as neither', async () => {
      describes(dr, instance('available', PRIMARY_DB_ARN));
      expect(await engine().fence('dr')).toMatchObject({ reachable: true, fenced: true });
      primary
        .on(DescribeDBInstancesCommand)
        .rejects(Object.assign(new Error('socket hang up'), { name: 'Error' }));
      const down = await engine().fence('primary');
      expect(down).toMatchObject({ reachable: false, fenced: false });
      expect(down.detail).toMatch(/did not describe payments: .*socket hang up; not fenced/);
    });

    it('never throws, even when the SQL fence does', async () => {
      const fenced = await engine(fakeTime(), async () => {
        throw new Error('password authentication failed');
      }).fence('primary');
      expect(fenced).toEqual({
        reachable: false,
        fenced: false,
        detail: 'the SQL fence failed: password authentication failed',
      });
    });
  });
});

describe('Class: AuroraGlobalFailover', () => {
  const engine = (time = fakeTime()) =>
    new AuroraGlobalFailover({
      ...time.polling,
      clients: { dr: drClient, primary: primaryClient },
      database: auroraConfig,
    });
  const globalCluster = (
    writer: 'dr' | 'primary',
    failoverState?: GlobalCluster['FailoverState'],
  ): { GlobalClusters: GlobalCluster[] } => ({
    GlobalClusters: [
      {
        GlobalClusterIdentifier: 'payments-global',
        Status: 'available',
        GlobalClusterMembers: [
          {
            DBClusterArn: PRIMARY_CLUSTER,
            IsWriter: writer === 'primary',
            SynchronizationStatus: 'connected',
          },
          { DBClusterArn: DR_CLUSTER, IsWriter: writer === 'dr', SynchronizationStatus: 'connected' },
        ],
        ...(failoverState ? { FailoverState: failoverState } : {}),
      },
    ],
  });
  const switching = {
    Status: 'pending' as const,
    FromDbClusterArn: PRIMARY_CLUSTER,
    ToDbClusterArn: DR_CLUSTER,
  };

  describe('Method: inspect', () => {
    it('reads the global cluster from the site’s region: the DR cluster is a connected secondary, no lag figure', async () => {
      dr.on(DescribeGlobalClustersCommand).resolves(globalCluster('primary'));
      primary.on(DescribeGlobalClustersCommand).resolves(globalCluster('primary'));
      const secondary = await engine().inspect('dr');
      const writer = await engine().inspect('primary');
      expect(dr).toHaveReceivedCommandWith(DescribeGlobalClustersCommand, {
        GlobalClusterIdentifier: 'payments-global',
      });
      expect(primary).toHaveReceivedCommandWith(DescribeGlobalClustersCommand, {
        GlobalClusterIdentifier: 'payments-global',
      });
      expect(secondary).toMatchObject({ role: 'replica', streaming: true });
      expect(secondary.lagSeconds).toBeUndefined();
      expect(secondary.detail).toMatch(/lag unknown: .*AuroraGlobalDBReplicationLag/);
      expect(writer.role).toBe('writer');
    });

    it('throws when the configured cluster is not a member', async () => {
      dr.on(DescribeGlobalClustersCommand).resolves({
        GlobalClusters: [{ GlobalClusterIdentifier: 'payments-global', GlobalClusterMembers: [] }],
      });
      await expect(engine().inspect('dr')).rejects.toThrow(
        /is not a member of global cluster payments-global: check failover.database.drClusterArn/,
      );
    });
  });

  describe('Method: promote', () => {
    it('switches over (no data loss) when the source answers, then polls until the DR cluster writes and nothing is pending', async () => {
      dr.on(DescribeGlobalClustersCommand)
        .resolvesOnce(globalCluster('primary'))
        .resolvesOnce(globalCluster('primary', { ...switching, Status: 'pending' }))
        .resolvesOnce(globalCluster('dr', { ...switching, Status: 'pending' }))
        .resolves(globalCluster('dr'));
      dr.on(SwitchoverGlobalClusterCommand).resolves({});
      const time = fakeTime();
      const promoted = await engine(time).promote('dr', promoteOptions({ sourceAnswers: true }));
      expect(dr.commandCalls(SwitchoverGlobalClusterCommand).map((c) => c.args[0].input)).toEqual([
        { GlobalClusterIdentifier: 'payments-global', TargetDbClusterIdentifier: DR_CLUSTER },
      ]);
      expect(dr.commandCalls(FailoverGlobalClusterCommand)).toHaveLength(0);
      expect(time.time.sleeps).toEqual([10_000, 10_000]);
      expect(promoted.detail).toMatch(
        /payments-dr \(eu-central-1\) is the writer .* after a switchover \(no data loss\), 20 s/,
      );
    });

    it('fails over with AllowDataLoss only when the source does not answer and the loss was accepted', async () => {
      dr.on(DescribeGlobalClustersCommand)
        .resolvesOnce(globalCluster('primary'))
        .resolves(globalCluster('dr'));
      dr.on(FailoverGlobalClusterCommand).resolves({});
      const promoted = await engine().promote('dr', promoteOptions({ allowDataLoss: true }));
      expect(dr.commandCalls(FailoverGlobalClusterCommand).map((c) => c.args[0].input)).toEqual([
        {
          GlobalClusterIdentifier: 'payments-global',
          TargetDbClusterIdentifier: DR_CLUSTER,
          AllowDataLoss: true,
        },
      ]);
      expect(dr.commandCalls(SwitchoverGlobalClusterCommand)).toHaveLength(0);
      expect(promoted.detail).toMatch(/after a failover \(data loss accepted\)/);
    });

    it('refuses to lose data nobody accepted: no command is sent', async () => {
      dr.on(DescribeGlobalClustersCommand).resolves(globalCluster('primary'));
      await expect(engine().promote('dr', promoteOptions())).rejects.toThrow(
        /would lose data .*accept the loss \(approval\) to fail over with FailoverGlobalCluster.*Nothing was changed/,
      );
      expect(dr.commandCalls(FailoverGlobalClusterCommand)).toHaveLength(0);
      expect(dr.commandCalls(SwitchoverGlobalClusterCommand)).toHaveLength(0);
    });

    it('returns at once when the cluster is already the writer, and waits for an operation toward it already under way', async () => {
      dr.on(DescribeGlobalClustersCommand).resolves(globalCluster('dr'));
      expect((await engine().promote('dr', promoteOptions({ sourceAnswers: true }))).detail).toMatch(
        /already the writer/,
      );
      dr.reset();
      dr.on(DescribeGlobalClustersCommand)
        .resolvesOnce(globalCluster('primary', switching))
        .resolvesOnce(globalCluster('primary', switching))
        .resolves(globalCluster('dr'));
      const waited = await engine().promote('dr', promoteOptions({ sourceAnswers: true }));
      expect(waited.detail).toMatch(/after the switchover already under way/);
      expect(dr.commandCalls(SwitchoverGlobalClusterCommand)).toHaveLength(0);
      expect(dr.commandCalls(FailoverGlobalClusterCommand)).toHaveLength(0);
    });

    it('refuses while an operation toward the other cluster is under way', async () => {
      dr.on(DescribeGlobalClustersCommand).resolves(
        globalCluster('dr', {
          Status: 'pending',
          FromDbClusterArn: DR_CLUSTER,
          ToDbClusterArn: PRIMARY_CLUSTER,
        }),
      );
      await expect(engine().promote('dr', promoteOptions({ sourceAnswers: true }))).rejects.toThrow(
        /a switchover from payments-dr to payments is "pending" on global cluster payments-global: wait/,
      );
    });

    it('says RDS refused, or waits when the refusal is for an operation toward the target already started', async () => {
      dr.on(DescribeGlobalClustersCommand).resolves(globalCluster('primary'));
      dr.on(SwitchoverGlobalClusterCommand).rejects(
        new InvalidGlobalClusterStateFault({
          message: 'The primary cluster is not available',
          $metadata: {},
        }),
      );
      await expect(engine().promote('dr', promoteOptions({ sourceAnswers: true }))).rejects.toThrow(
        /RDS refused a switchover \(no data loss\) of global cluster payments-global to payments-dr \(eu-central-1\): InvalidGlobalClusterStateFault: The primary cluster is not available/,
      );
      dr.reset();
      dr.on(DescribeGlobalClustersCommand)
        .resolvesOnce(globalCluster('primary'))
        .resolvesOnce(globalCluster('primary', switching))
        .resolves(globalCluster('dr'));
      dr.on(SwitchoverGlobalClusterCommand).rejects(
        new InvalidGlobalClusterStateFault({ message: 'already switching over', $metadata: {} }),
      );
      expect((await engine().promote('dr', promoteOptions({ sourceAnswers: true }))).detail).toMatch(
        /after a switchover \(no data loss\), already under way/,
      );
    });

    it('stops at the time-out, naming the operation still pending', async () => {
      dr.on(DescribeGlobalClustersCommand)
        .resolvesOnce(globalCluster('primary'))
        .resolves(globalCluster('primary', switching));
      dr.on(SwitchoverGlobalClusterCommand).resolves({});
      const time = fakeTime();
      await expect(
        engine(time).promote('dr', promoteOptions({ sourceAnswers: true, timeoutMs: 30_000 })),
      ).rejects.toThrow(
        /payments-dr \(eu-central-1\) did not become the writer of global cluster payments-global within 30 s after a switchover \(no data loss\): a switchover from payments to payments-dr is "pending"/,
      );
      expect(time.time.clock).toBe(30_000);
    });

    it('fails back by switching over to the primary cluster through the primary region', async () => {
      primary
        .on(DescribeGlobalClustersCommand)
        .resolvesOnce(globalCluster('dr'))
        .resolves(globalCluster('primary'));
      primary.on(SwitchoverGlobalClusterCommand).resolves({});
      await engine().promote('primary', promoteOptions({ sourceAnswers: true }));
      expect(primary.commandCalls(SwitchoverGlobalClusterCommand).map((c) => c.args[0].input)).toEqual([
        { GlobalClusterIdentifier: 'payments-global', TargetDbClusterIdentifier: PRIMARY_CLUSTER },
      ]);
      expect(dr.calls()).toHaveLength(0);
    });

    it('retries throttled calls', async () => {
      dr.on(DescribeGlobalClustersCommand)
        .rejectsOnce(throttled('ThrottlingException'))
        .resolvesOnce(globalCluster('primary'))
        .resolves(globalCluster('dr'));
      dr.on(SwitchoverGlobalClusterCommand).rejectsOnce(throttled()).resolves({});
      const time = fakeTime();
      await engine(time).promote('dr', promoteOptions({ sourceAnswers: true }));
      expect(dr.commandCalls(SwitchoverGlobalClusterCommand)).toHaveLength(2);
      expect(time.time.sleeps).toEqual([250, 250]);
    });
  });

  describe('Method: fence', () => {
    it('counts the old writer as fenced by the switchover when its region answers, and not when it does not', async () => {
      primary
        .on(DescribeDBClustersCommand)
        .resolves({ DBClusters: [{ DBClusterIdentifier: 'payments', Status: 'available' }] });
      const answered = await engine().fence('primary');
      expect(primary).toHaveReceivedCommandWith(DescribeDBClustersCommand, {
        DBClusterIdentifier: PRIMARY_CLUSTER,
      });
      expect(answered).toMatchObject({ reachable: true, fenced: true });
      expect(answered.detail).toMatch(
        /answers for payments \(status "available"\): the switchover demotes it/,
      );
      primary.reset();
      primary
        .on(DescribeDBClustersCommand)
        .rejects(Object.assign(new Error('connect ETIMEDOUT'), { name: 'TimeoutError' }));
      const silent = await engine().fence('primary');
      expect(silent).toMatchObject({ reachable: false, fenced: false });
      expect(silent.detail).toMatch(
        /did not answer for payments \(TimeoutError: connect ETIMEDOUT\): not fenced/,
      );
    });
  });
});

describe('Function: rdsEngineFor', () => {
  it('builds the engine with one client per site, each in its region', async () => {
    const regions: string[] = [];
    const clientIn = (region: string) => {
      regions.push(region);
      return region === PRIMARY_REGION ? primaryClient : drClient;
    };
    const replica = rdsEngineFor(replicaConfig, { drRegion: DR_REGION, clientIn });
    expect(replica.engine).toBe('rds-replica');
    expect(regions).toEqual([DR_REGION, PRIMARY_REGION]);
    const aurora = rdsEngineFor(
      { ...auroraConfig, drClusterArn: 'arn:aws:rds:us-west-2:123456789012:cluster:payments-dr' },
      { drRegion: DR_REGION, clientIn },
    );
    expect(aurora.engine).toBe('aurora-global');
    // Aurora's regions are its clusters' ARNs'.
    expect(regions.slice(2)).toEqual(['us-west-2', PRIMARY_REGION]);
    primary.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance('available')] });
    // The primary site goes to the primary region's client.
    await replica.inspect('primary');
    expect(primary).toHaveReceivedCommandWith(DescribeDBInstancesCommand, {
      DBInstanceIdentifier: 'payments',
    });
  });

  it('hands the SQL fence to the RDS replica engine', async () => {
    const fenced = await rdsEngineFor(replicaConfig, {
      drRegion: DR_REGION,
      clientIn: () => drClient,
      sqlFence: async (site) => ({ reachable: true, fenced: true, detail: `sql fence of ${site}` }),
    }).fence('primary');
    expect(fenced.detail).toBe('sql fence of primary');
  });

  it('creates clients that leave retries to the engine (maxAttempts 1)', async () => {
    const engine = rdsEngineFor(replicaConfig, { drRegion: DR_REGION }) as unknown as {
      props: { clients: { dr: RDSClient; primary: RDSClient } };
    };
    expect(await engine.props.clients.dr.config.region()).toBe(DR_REGION);
    expect(await engine.props.clients.primary.config.region()).toBe(PRIMARY_REGION);
    expect(await engine.props.clients.dr.config.maxAttempts()).toBe(1);
  });
});
