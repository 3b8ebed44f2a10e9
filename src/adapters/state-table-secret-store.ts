import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { DependencyUnavailableError, type SecretStore } from '../ports.ts';
import { DOCUMENT_TRANSLATION } from './state-table-schema.ts';

/**
 * The local stand-in for Secrets Manager: secret values kept in the state table (dynalite), so the
 * local runtime reads secrets the way the functions do. Only for local use: the table is not a vault.
 */
export class StateTableSecretStore implements SecretStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, DOCUMENT_TRANSLATION);
  }

  async getSecretString(secretId: string): Promise<string> {
    let item: Record<string, unknown> | undefined;
    try {
      item = (await this.doc.send(new GetCommand({ TableName: this.tableName, Key: this.key(secretId) })))
        .Item;
    } catch (error) {
      throw new DependencyUnavailableError('local secret store', error);
    }
    if (typeof item?.secretString !== 'string') {
      throw new Error(`cannot read secret ${secretId} (ResourceNotFoundException): no such local secret`);
    }
    return item.secretString;
  }

  async putSecretString(secretId: string, secretString: string): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...this.key(secretId), entity: 'secret', secretString },
      }),
    );
  }

  private key(secretId: string) {
    return { pk: `SECRET#${secretId}`, sk: 'AWSCURRENT' };
  }
}
