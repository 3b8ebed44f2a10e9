import { ArnFormat, Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * The names that connect the two stacks on the failover path. Each stack builds the other's ARNs
 * from these names (never a cross-stack reference or an export), so neither stack's deployment
 * depends on the other's, and the DR stack deploys and works while the primary region is down.
 * IAM role names are account-wide: one Responder per service and account.
 */
export const failoverNames = (service: string) => ({
  /** The primary region's action bus, named when `failover` is configured. */
  primaryBus: `responder-${service}-actions`,
  /** The DR region's bus that receives failover requests forwarded from the primary bus. */
  drBus: `responder-${service}-failover`,
  /** The DR failover function's execution role (puts approval pages on the primary bus). */
  drFailoverRole: `responder-${service}-dr-failover`,
  /** The DR failover function, which the primary region's API invokes (`/api/failover`, approvals). */
  drFailoverFunction: `responder-${service}-dr-failover`,
  /** The role of the primary bus's rule that forwards failover requests to the DR bus. */
  forwarderRole: `responder-${service}-failover-fwd`,
});

/** An event bus's ARN in another region of the same account and partition, from its name. */
export function eventBusArn(scope: IConstruct, region: string, name: string): string {
  return Stack.of(scope).formatArn({ service: 'events', region, resource: 'event-bus', resourceName: name });
}

/** An IAM role's ARN in the same account, from its name. */
export function roleArn(scope: IConstruct, name: string): string {
  return Stack.of(scope).formatArn({ service: 'iam', region: '', resource: 'role', resourceName: name });
}

/** A Lambda function's ARN (unqualified) in another region of the same account and partition, from its name. */
export function functionArn(scope: IConstruct, region: string, name: string): string {
  return Stack.of(scope).formatArn({
    service: 'lambda',
    region,
    resource: 'function',
    resourceName: name,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}
