import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import {
  STATE_INDEX_PARTITIONS,
  STATE_KEY_PREFIXES,
  STATE_TABLE_KEYS,
  type StateItemKind,
  stateKeys,
} from '../../src/adapters/state-table-schema.ts';

export interface StateTableProps {
  /** @default RemovalPolicy.RETAIN - incidents and the audit trail outlive the stack */
  readonly removalPolicy?: RemovalPolicy;
}

type ItemAction = 'GetItem' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'Query';

/** The `dynamodb:LeadingKeys` pattern of an item kind: its prefix and anything after it, or the exact key. */
export function leadingKeyPattern(kind: StateItemKind): string {
  const prefix = STATE_KEY_PREFIXES[kind];
  return prefix.endsWith('#') ? `${prefix}*` : prefix;
}

/**
 * The single table for incidents, escalations, dedupe keys, action idempotency records, flags and the audit trail: on-demand,
 * point-in-time recovery, TTL on `expiresAt`, encrypted with a customer-managed key that rotates.
 *
 * Access is granted per concern (`grantIncidents`, `grantEscalations`, ...): each grant names the
 * operations, the table or its index, and the partition keys (`dynamodb:LeadingKeys`) of the item kinds
 * that concern uses, so a function's policy follows from what it does and it can touch no other items.
 */
export class StateTable extends Construct {
  public readonly table: Table;
  public readonly key: Key;

  constructor(scope: Construct, id: string, props: StateTableProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.key = new Key(this, 'Key', {
      description: 'Responder state table encryption',
      enableKeyRotation: true,
      removalPolicy,
    });
    this.table = new Table(this, 'Table', {
      partitionKey: { name: STATE_TABLE_KEYS.partitionKey, type: AttributeType.STRING },
      sortKey: { name: STATE_TABLE_KEYS.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: STATE_TABLE_KEYS.ttl,
      encryption: TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: STATE_TABLE_KEYS.index,
      partitionKey: { name: 'gsi1pk', type: AttributeType.STRING },
      sortKey: { name: 'gsi1sk', type: AttributeType.STRING },
    });
  }

  /** Incidents: `read` gets one by id; `record` also opens, updates and finds them by alert group. */
  grantIncidents(grantee: IGrantable, access: 'read' | 'record'): void {
    if (access === 'read') this.grantItems(grantee, ['GetItem'], ['incident']);
    else this.grantItems(grantee, ['GetItem', 'PutItem'], ['incident', 'incidentGroup']);
  }

  /** The incident list, newest first, from the index. */
  grantIncidentList(grantee: IGrantable): void {
    this.grantIndexQuery(grantee, [STATE_INDEX_PARTITIONS.incidents]);
  }

  /** Escalations: read and write them (pages, acknowledgements); `sweep` also finds the due ones in the index. */
  grantEscalations(grantee: IGrantable, options: { readonly sweep?: boolean } = {}): void {
    this.grantItems(grantee, ['GetItem', 'PutItem'], ['escalation']);
    if (options.sweep) this.grantIndexQuery(grantee, [STATE_INDEX_PARTITIONS.dueEscalations]);
  }

  /** The audit trail: `append` adds entries; `read` lists them. */
  grantAudit(grantee: IGrantable, access: 'append' | 'read'): void {
    this.grantItems(grantee, [access === 'append' ? 'PutItem' : 'Query'], ['audit']);
  }

  /** At-most-once claims on webhook deliveries: claim, finish, give back. */
  grantDeliveryClaims(grantee: IGrantable): void {
    // GetItem: a claim held by someone else is read to tell "in progress" (retry) from "done" (duplicate).
    this.grantItems(grantee, ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'], ['delivery']);
  }

  /**
   * Powertools idempotency records of action requests: save one in progress (PutItem), store the
   * result (UpdateItem), delete it when the action fails, and read the one a duplicate found
   * (GetItem: AWS returns it with the failed condition, but Powertools reads it when it does not).
   */
  grantActionIdempotency(grantee: IGrantable): void {
    this.grantItems(grantee, ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'], ['actionIdempotency']);
  }

  /** The automation kill switch: `read` it, or `write` it too (the operator API). */
  grantAutomationFlag(grantee: IGrantable, access: 'read' | 'write'): void {
    this.grantItems(grantee, access === 'read' ? ['GetItem'] : ['GetItem', 'PutItem'], ['flag']);
  }

  /** Probe target health: `record` reads and writes one target's; `list` queries them all. */
  grantTargetHealth(grantee: IGrantable, access: 'record' | 'list'): void {
    this.grantItems(grantee, access === 'record' ? ['GetItem', 'PutItem'] : ['Query'], ['targetHealth']);
  }

  /** Flood-limit counters (`LIMIT#...`): count up (and count a refusal) in one UpdateItem each. */
  grantFloodLimits(grantee: IGrantable): void {
    this.grantItems(grantee, ['UpdateItem'], ['limit']);
  }

  /**
   * The backup catalog (`BACKUP#<database>`): `record` takes and releases a database's backup lock,
   * writes manifests and lists the verified ones (the backup function); `read` lists them and reads
   * one by id (the API); `latest` only finds the newest verified one (backup freshness probes).
   */
  grantBackupCatalog(grantee: IGrantable, access: 'record' | 'read' | 'latest'): void {
    const actions: Record<typeof access, ItemAction[]> = {
      record: ['PutItem', 'DeleteItem', 'Query'],
      read: ['GetItem', 'Query'],
      latest: ['Query'],
    };
    this.grantItems(grantee, actions[access], ['backup']);
  }

  /**
   * DNS failover (the DR region's failover function): the switch (read, one conditional write moves
   * it), the lock (taken with a conditional put, released with a conditional delete), approvals and
   * drill reports (`FAILOVER#...`).
   */
  grantFailover(grantee: IGrantable): void {
    this.grantItems(grantee, ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'], ['failover']);
  }

  /**
   * The failover switch item alone (`FAILOVER#switch`), read only: the endpoint Route 53's health
   * check reads in `switch` mode. Not the lock, not approvals, no write.
   */
  grantFailoverSwitchRead(grantee: IGrantable): void {
    const { pk } = stateKeys.failoverSwitch();
    this.grantKeys(grantee, ['GetItem'], [pk]);
    this.key.grant(grantee, 'kms:Decrypt', 'kms:DescribeKey');
  }

  /** Operations on the table's items of the given kinds only, and the key DynamoDB needs for them. */
  private grantItems(grantee: IGrantable, actions: readonly ItemAction[], kinds: readonly StateItemKind[]) {
    this.grantKeys(grantee, actions, kinds.map(leadingKeyPattern));
    this.grantKey(grantee);
  }

  /** Operations on the items whose partition keys match the patterns (`dynamodb:LeadingKeys`). */
  private grantKeys(grantee: IGrantable, actions: readonly ItemAction[], patterns: readonly string[]) {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: actions.map((action) => `dynamodb:${action}`),
        resources: [this.table.tableArn],
        conditions: {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...patterns] },
        },
      }),
    );
  }

  /**
   * Queries of the index (read only). `partitions` names what the caller reads there, for the
   * reader; it is deliberately not a `dynamodb:LeadingKeys` condition: AWS documents that key as the
   * table's partition key, and whether a Query on a global secondary index is matched against the
   * index's partition value instead is not documented. A guess wrong here would deny the sweep in AWS
   * (finding 1 of issue 8 again) while every local test passed. The index holds only incidents and
   * due escalations, and no item can be written through it.
   */
  private grantIndexQuery(grantee: IGrantable, _partitions: readonly string[]) {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [`${this.table.tableArn}/index/${STATE_TABLE_KEYS.index}`],
      }),
    );
    this.grantKey(grantee);
  }

  /** The table's key, as DynamoDB uses it on the caller's behalf; identical statements are merged by the CDK. */
  private grantKey(grantee: IGrantable) {
    this.key.grant(grantee, 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey');
  }
}
