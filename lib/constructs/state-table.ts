import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { STATE_TABLE_KEYS } from '../../src/adapters/dynamodb-state-store.ts';

export interface StateTableProps {
  /** @default RemovalPolicy.RETAIN - incidents and the audit trail outlive the stack */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The single table for incidents, dedupe keys, locks, flags and the audit trail: on-demand,
 * point-in-time recovery, TTL on `expiresAt`, encrypted with a customer-managed key that rotates.
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
}
