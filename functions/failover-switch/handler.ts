import { timingSafeEqual } from 'node:crypto';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { stateKeys } from '../../src/adapters/state-table-schema.ts';

/**
 * The failover switch as Route 53's health check reads it (`switch` mode), behind a Lambda function
 * URL in the DR region. It answers `200 dr` while the switch says the DR site is active and
 * `503 primary` otherwise (no switch item yet: primary). The health check is inverted, so the PRIMARY
 * failover record stays healthy unless this endpoint positively answers "dr": an unreachable endpoint
 * keeps (or puts) DNS on the primary, and a new deployment never starts out failed over.
 *
 * The URL has no auth (Route 53's checkers cannot sign requests nor send headers): only the path
 * `/switch/<token>` answers, the token being the DR stack's id (a UUID CloudFormation generated); any
 * other path gets 404 without a read. It reveals one word, "primary" or "dr".
 */
const client = new DynamoDBClient({ maxAttempts: 2 });
const tableName = process.env.STATE_TABLE_NAME ?? '';
const switchPath = Buffer.from(process.env.SWITCH_PATH ?? '');

const answer = (statusCode: number, body: string): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
  body,
});

function isSwitchPath(path: string | undefined): boolean {
  const given = Buffer.from(path ?? '');
  return switchPath.length > 0 && given.length === switchPath.length && timingSafeEqual(given, switchPath);
}

export async function handler(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  const method = event.requestContext?.http?.method ?? 'GET';
  if (!isSwitchPath(event.rawPath)) return answer(404, 'not found');
  if (method !== 'GET' && method !== 'HEAD')
    return { ...answer(405, 'GET only'), headers: { allow: 'GET, HEAD' } };
  const { pk, sk } = stateKeys.failoverSwitch();
  try {
    const found = await client.send(
      new GetItemCommand({
        TableName: tableName,
        Key: { pk: { S: pk }, sk: { S: sk } },
        ProjectionExpression: '#active',
        ExpressionAttributeNames: { '#active': 'active' },
        ConsistentRead: true,
      }),
    );
    return found.Item?.active?.S === 'dr' ? answer(200, 'dr') : answer(503, 'primary');
  } catch (error) {
    // Unknown: the inverted health check reads a 5xx as "primary healthy", the fail-safe side.
    console.error(JSON.stringify({ message: 'cannot read the failover switch', error: String(error) }));
    return answer(500, 'unknown');
  }
}
