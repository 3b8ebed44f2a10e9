import { type Stack, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { STATE_TABLE_KEYS } from '../src/adapters/dynamodb-state-store.ts';
import type { StateTable } from './constructs/state-table.ts';

export type StateTableAction = 'GetItem' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'Query';

/**
 * Grants exactly the named DynamoDB operations on the state table (and its incident index when it
 * queries), and the key operations DynamoDB needs under the table's customer-managed key.
 */
export function grantStateAccess(state: StateTable, fn: IFunction, actions: readonly StateTableAction[]) {
  const resources = [state.table.tableArn];
  if (actions.includes('Query')) resources.push(`${state.table.tableArn}/index/${STATE_TABLE_KEYS.index}`);
  fn.addToRolePolicy(
    new PolicyStatement({ actions: actions.map((action) => `dynamodb:${action}`), resources }),
  );
  state.key.grant(fn, 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey');
}

/** cdk-nag (v3) acknowledgements every Responder function shares, each with its reason. */
export function acknowledgeFunctionFindings(fn: IFunction) {
  Validations.of(fn).acknowledge(
    {
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        'AWSLambdaBasicExecutionRole only allows writing to CloudWatch Logs; the function logs to its own log group.',
    },
    {
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray PutTraceSegments/PutTelemetryRecords do not support resource-level permissions.',
    },
  );
}

/** A function placed in a VPC (the probe function, for private databases) needs ENI permissions. */
export function acknowledgeVpcAccess(fn: IFunction) {
  Validations.of(fn).acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
    reason:
      'AWSLambdaVPCAccessExecutionRole only manages the network interfaces Lambda needs to run the probe function in the configured private subnets.',
  });
}

/** Stack-level acknowledgements, each with its reason. */
export function acknowledgeStackFindings(stack: Stack, options: { generatedWebhookSecret: boolean }) {
  Validations.of(stack).acknowledge(
    {
      id: 'AwsSolutions-APIG4',
      reason:
        'Alertmanager can only send a Bearer token or basic auth, which the functions verify in constant time against the Secrets Manager credential; /healthz is deliberately open.',
    },
    {
      id: 'AwsSolutions-SQS3',
      reason:
        'These queues are the dead-letter queues of the EventBridge targets; a DLQ of a DLQ adds nothing.',
    },
  );
  if (options.generatedWebhookSecret) {
    Validations.of(stack).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The webhook token is shared with Alertmanager, whose config must change in step; the operator rotates it deliberately (new secret version, then the Alertmanager config), not on a blind schedule.',
    });
  }
}
