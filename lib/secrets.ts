import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';

/** A secret named in the config, by full ARN or by name. */
export function importSecret(scope: Construct, id: string, ref: string): ISecret {
  return ref.startsWith('arn:')
    ? Secret.fromSecretCompleteArn(scope, id, ref)
    : Secret.fromSecretNameV2(scope, id, ref);
}
