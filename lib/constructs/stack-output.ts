import { CfnOutput, type CfnOutputProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/**
 * A stack output named `key` wherever in the tree the construct that owns it sits. Output keys are
 * what operators and scripts read (`cdk deploy --outputs-file`), so they must not follow the construct
 * path; two outputs with the same key in one stack fail synthesis.
 */
export function stackOutput(scope: Construct, key: string, props: CfnOutputProps): CfnOutput {
  const output = new CfnOutput(scope, key, props);
  output.overrideLogicalId(key);
  return output;
}
