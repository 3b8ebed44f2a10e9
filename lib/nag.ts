import { type Stack, Validations } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';

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

/**
 * A function that publishes to the KMS-encrypted paging topics: SNS needs `kms:GenerateDataKey*` on the
 * topics' key from the publisher.
 */
export function acknowledgePagingKeyAccess(fn: IFunction) {
  Validations.of(fn).acknowledge({
    id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
    reason:
      "Publishing to an SNS topic encrypted with a customer-managed key needs kms:GenerateDataKey* and kms:Decrypt (topic.grantPublish); the statement names only the paging topics' key.",
  });
}

/** A secret the stack generates and deliberately does not rotate on a schedule; `reason` says why. */
export function acknowledgeGeneratedSecret(secret: ISecret, reason: string) {
  Validations.of(secret).acknowledge({ id: 'AwsSolutions-SMG4', reason });
}

/** Stack-level acknowledgements, each with its reason. */
export function acknowledgeStackFindings(stack: Stack) {
  Validations.of(stack).acknowledge(
    {
      id: 'AwsSolutions-APIG4',
      reason:
        'The functions authenticate every route but two: Alertmanager can only send a Bearer token or basic auth, which they verify in constant time against the Secrets Manager credential (/alertmanager, /api/*); an acknowledge link (/ack/{token}) is opened from a phone without a login and carries its own HMAC-SHA256 signature and expiry, checked in constant time; /healthz is deliberately open.',
    },
    {
      id: 'AwsSolutions-SQS3',
      reason:
        'These queues are the dead-letter queues of the EventBridge targets; a DLQ of a DLQ adds nothing.',
    },
  );
}
