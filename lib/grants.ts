import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';

/**
 * `secretsmanager:GetSecretValue` on one secret, and decrypting with its key when it has one. The
 * functions only read values: `ISecret.grantRead` would add `DescribeSecret`, which no code calls.
 */
export function grantSecretValue(secret: ISecret, grantee: IGrantable): Grant {
  // A secret imported by name has no full ARN; Secrets Manager appends "-" and six characters.
  const arn = secret.secretFullArn ?? `${secret.secretArn}-??????`;
  const grant = Grant.addToPrincipalOrResource({
    grantee,
    actions: ['secretsmanager:GetSecretValue'],
    resourceArns: [arn],
    resource: secret,
  });
  secret.encryptionKey?.grantDecrypt(grantee);
  return grant;
}
