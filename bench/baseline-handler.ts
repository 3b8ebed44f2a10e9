/**
 * The cold-import baseline of `npm run bench`: a handler with one AWS SDK client and nothing else,
 * built with the same esbuild options as the functions (lib/bundling.ts). Each bundle's cold import
 * is reported as a ratio to this one's, measured in the same run.
 */
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';

const client = new DynamoDBClient({});
const tableName = process.env.STATE_TABLE_NAME ?? 'responder-state';

export const handler = async (event: { id?: string }) => {
  const answer = await client.send(
    new GetItemCommand({ TableName: tableName, Key: { pk: { S: String(event.id) }, sk: { S: 'META' } } }),
  );
  return { found: Boolean(answer.Item) };
};
