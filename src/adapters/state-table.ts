import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { DependencyUnavailableError } from '../ports.ts';
import { DOCUMENT_TRANSLATION, STATE_INDEX } from './state-table-schema.ts';

export const epochSeconds = (date: Date) => Math.floor(date.getTime() / 1000);

/** Errors a retry cannot fix; everything else from DynamoDB means "unavailable for now". */
const PERMANENT_ERRORS = new Set(['ValidationException', 'SerializationException']);

export function isConditionFailure(error: unknown): boolean {
  return (
    error instanceof ConditionalCheckFailedException ||
    (error as { name?: string })?.name === 'ConditionalCheckFailedException'
  );
}

export interface StateTableProps {
  readonly client: DynamoDBClient;
  readonly tableName: string;
}

/**
 * The one document client over the state table that every state port's adapter shares, and how
 * they all send: DynamoDB's outages become DependencyUnavailableError, failed conditions false.
 */
export class StateTable {
  readonly doc: DynamoDBDocumentClient;
  readonly name: string;

  constructor(props: StateTableProps) {
    this.doc = DynamoDBDocumentClient.from(props.client, DOCUMENT_TRANSLATION);
    this.name = props.tableName;
  }

  async call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (isConditionFailure(error)) throw error;
      if (PERMANENT_ERRORS.has((error as { name?: string })?.name ?? '')) throw error;
      // Only what came back from DynamoDB or the network (the SDK marks both with $metadata) is an
      // outage worth a retry; an error raised here, such as marshalling a value, is not, and a 503
      // for it would have Alertmanager retry a bad delivery for ever.
      if (typeof error !== 'object' || error === null || !('$metadata' in error)) throw error;
      throw new DependencyUnavailableError('state store (DynamoDB)', error);
    }
  }

  /** Runs a conditional write; false when its condition did not hold. */
  async conditional(operation: () => Promise<unknown>): Promise<boolean> {
    try {
      await this.call(operation);
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /** Every item a query matches, page by page, up to `limit`. */
  async queryAll(
    input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey' | 'Limit'>,
    limit = Number.POSITIVE_INFINITY,
  ) {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.call(() =>
        this.doc.send(
          new QueryCommand({
            ...input,
            TableName: this.name,
            Limit: Number.isFinite(limit) ? limit - items.length : undefined,
            ExclusiveStartKey: startKey,
          }),
        ),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey && items.length < limit);
    return items;
  }

  /**
   * Takes a lease on `key` for `holder` until `until`: a conditional write that wins only when nobody
   * holds it or the holder's lease ran out. A holder that died is forgotten by TTL too, days later; the
   * condition does not wait for it.
   */
  takeLease(key: { pk: string; sk: string }, entity: string, holder: string, now: Date, until: Date) {
    return this.conditional(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.name,
          Item: {
            ...key,
            entity,
            holder,
            lockedAt: now.toISOString(),
            until: until.toISOString(),
            expiresAt: epochSeconds(until) + 86400,
          },
          ConditionExpression: 'attribute_not_exists(pk) OR #until < :now',
          ExpressionAttributeNames: { '#until': 'until' },
          ExpressionAttributeValues: { ':now': now.toISOString() },
        }),
      ),
    );
  }

  /** Lets a lease go if `holder` still holds it (a lease taken over after it ran out stays). */
  async releaseLease(key: { pk: string; sk: string }, holder: string) {
    await this.conditional(() =>
      this.doc.send(
        new DeleteCommand({
          TableName: this.name,
          Key: key,
          ConditionExpression: 'holder = :holder',
          ExpressionAttributeValues: { ':holder': holder },
        }),
      ),
    );
  }

  /** Writes an item that carries `version`: new when `expectedVersion` is 0, else only over that version. */
  putVersioned(item: Record<string, unknown>, expectedVersion: number) {
    return this.conditional(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.name,
          Item: item,
          ConditionExpression: expectedVersion === 0 ? 'attribute_not_exists(pk)' : '#version = :expected',
          ExpressionAttributeNames: expectedVersion === 0 ? undefined : { '#version': 'version' },
          ExpressionAttributeValues: expectedVersion === 0 ? undefined : { ':expected': expectedVersion },
        }),
      ),
    );
  }
}

/** Creates the table with the same keys and index as the CDK stack, for the local runtime and tests. */
export async function ensureStateTable(client: DynamoDBClient, tableName: string): Promise<void> {
  if (!(await tableExists(client, tableName))) await createStateTable(client, tableName);
  // A new table answers "not found" until it is ACTIVE; dynalite may also report ACTIVE and then
  // refuse writes for a few milliseconds more, so ready means several writes in a row succeed.
  const doc = DynamoDBDocumentClient.from(client, DOCUMENT_TRANSLATION);
  let streak = 0;
  for (let waited = 0; streak < 5; waited += 20) {
    if (waited > 30_000) throw new Error(`table ${tableName} did not become writable within 30 s`);
    try {
      await doc.send(
        new PutCommand({ TableName: tableName, Item: { pk: 'META#schema', sk: 'META', version: 1 } }),
      );
      streak += 1;
    } catch (error) {
      if ((error as Error).name !== 'ResourceNotFoundException') throw error;
      streak = 0;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function tableExists(client: DynamoDBClient, tableName: string): Promise<boolean> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return true;
  } catch (error) {
    if (error instanceof ResourceNotFoundException || (error as Error).name === 'ResourceNotFoundException') {
      return false;
    }
    throw error;
  }
}

async function createStateTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'gsi1pk', AttributeType: 'S' },
        { AttributeName: 'gsi1sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: STATE_INDEX,
          KeySchema: [
            { AttributeName: 'gsi1pk', KeyType: 'HASH' },
            { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );
}
