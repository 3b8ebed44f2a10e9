import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
import type { HttpRoute } from 'aws-cdk-lib/aws-apigatewayv2';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import type { ResponderFunction } from './constructs/responder-function.ts';

/**
 * Every acknowledgement is attached to the one CloudFormation resource its finding is about (never to
 * a construct holding several, nor to a stack), with the finding's exact id and its reason.
 */
function acknowledgeOn(construct: IConstruct, id: string, reason: string) {
  const resource = CfnResource.isCfnResource(construct) ? construct : construct.node.defaultChild;
  if (!resource || !CfnResource.isCfnResource(resource)) {
    throw new Error(`${construct.node.path} is not one CloudFormation resource: acknowledge ${id} on one`);
  }
  Validations.of(resource).acknowledge({ id, reason });
}

/** The policy that holds a function's grants (pages, table, bus), created by its first grant. */
function grantsPolicyOf(fn: ResponderFunction): IConstruct {
  const policy = fn.role.node.tryFindChild('DefaultPolicy');
  if (!policy) throw new Error(`${fn.node.path} has no grants yet: acknowledge after granting`);
  return policy;
}

/** X-Ray's actions take no resource: the function's tracing policy holds them and nothing else. */
export function acknowledgeTracing(fn: ResponderFunction) {
  acknowledgeOn(
    fn.tracingPolicy,
    'AwsSolutions-IAM5[Resource::*]',
    'X-Ray PutTraceSegments/PutTelemetryRecords do not support resource-level permissions; this policy holds only those two actions.',
  );
}

/** A function placed in a VPC (the probe and backup functions, for private databases) needs ENI permissions. */
export function acknowledgeVpcAccess(fn: ResponderFunction, what = 'the probe function') {
  acknowledgeOn(
    fn.role,
    'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
    `AWSLambdaVPCAccessExecutionRole lets Lambda manage the network interfaces it needs to run ${what} in the configured private subnets.`,
  );
}

/** The `<logical id>.Arn` form cdk-nag names a resource's ARN by in its finding ids. */
function arnTokenOf(construct: IConstruct): string {
  const resource = construct.node.defaultChild;
  if (!resource || !CfnResource.isCfnResource(resource))
    throw new Error(`${construct.node.path} has no resource`);
  return `<${Stack.of(resource).resolve(resource.logicalId)}.Arn>`;
}

/**
 * A role that writes and reads backups: its objects are the ones under the prefix, which only a
 * wildcard after the prefix can name (each dump has a new key).
 */
export function acknowledgeBackupObjectPrefix(role: IRole, bucket: IBucket, prefix: string) {
  const policy = role.node.tryFindChild('DefaultPolicy');
  if (!policy) throw new Error(`${role.node.path} has no grants yet: acknowledge after granting`);
  acknowledgeOn(
    policy,
    `AwsSolutions-IAM5[Resource::${arnTokenOf(bucket)}/${prefix}*]`,
    `Every backup writes new keys (<prefix><database>/<date>/<id>.dump and its manifest): the statement names the backup bucket and only the objects under '${prefix}', with the five object actions the backup code calls.`,
  );
}

/** An ECS task execution role pulling the task's image from the CDK asset repository. */
export function acknowledgeImagePull(role: IRole) {
  const policy = role.node.tryFindChild('DefaultPolicy');
  if (!policy) throw new Error(`${role.node.path} has no grants yet: acknowledge after granting`);
  acknowledgeOn(
    policy,
    'AwsSolutions-IAM5[Resource::*]',
    'ecr:GetAuthorizationToken takes no resource (ECR documents it for "*"); the other ECR actions of this execution-role policy name the asset repository, and its log actions the task log group.',
  );
}

/** The Fargate backup task's container environment: names of resources, never secret values. */
export function acknowledgeBackupTaskEnvironment(taskDefinition: IConstruct) {
  acknowledgeOn(
    taskDefinition,
    'AwsSolutions-ECS2',
    'The environment holds only the names of the state table, bucket and bus and the Powertools settings; database credentials are read from Secrets Manager at run time and never pass through the task definition.',
  );
}

/**
 * A function that publishes to the KMS-encrypted paging topics: SNS needs `kms:GenerateDataKey*` on the
 * topics' key from the publisher.
 */
export function acknowledgePagingKeyAccess(fn: ResponderFunction) {
  acknowledgeOn(
    grantsPolicyOf(fn),
    'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
    "Publishing to an SNS topic encrypted with a customer-managed key needs kms:GenerateDataKey* and kms:Decrypt (topic.grantPublish); the statement names only the paging topics' key.",
  );
}

/** A dead-letter queue of an EventBridge target. */
export function acknowledgeDeadLetterQueue(queue: IQueue) {
  acknowledgeOn(
    queue,
    'AwsSolutions-SQS3',
    'This queue is the dead-letter queue of an EventBridge target; a dead-letter queue of a dead-letter queue adds nothing.',
  );
}

/** Why each route needs no API Gateway authorizer, by route. */
const ROUTE_AUTHENTICATION: ReadonlyArray<[RegExp, string]> = [
  [
    /^POST \/alertmanager$/,
    'Alertmanager can only send a Bearer token or basic auth: the ingest function verifies it in constant time against the Secrets Manager credential before reading the body.',
  ],
  [
    /^(GET|POST|PUT) \/api\//,
    'The incident API function verifies the Bearer token or basic auth in constant time against the Secrets Manager credential on every /api route.',
  ],
  [
    /^(GET|POST) \/ack\/\{token\}$/,
    'An acknowledge link is opened from a phone without a login: it carries its own HMAC-SHA256 signature and expiry, which the API function checks in constant time.',
  ],
  [/^GET \/healthz$/, 'The health check is deliberately open; it answers the version and nothing else.'],
  [
    /^ANY \/(alertmanager|healthz)$/,
    'Only methods the path does not serve land here (POST /alertmanager and GET /healthz have their own routes): the API function answers 405 with Allow, or HEAD /healthz, and reads nothing.',
  ],
  [
    /^ANY \/api\/\{proxy\+\}$/,
    'Methods and paths the named /api routes do not serve: the API function answers OPTIONS, 404 and 405 itself, and checks the Bearer token or basic auth before anything else.',
  ],
];

/** `APIG4` on each route, with the reason that route authenticates in code (or is open on purpose). */
export function acknowledgeRouteAuthentication(routes: Readonly<Record<string, HttpRoute>>) {
  for (const [routeKey, route] of Object.entries(routes)) {
    const reason = ROUTE_AUTHENTICATION.find(([pattern]) => pattern.test(routeKey))?.[1];
    if (!reason) {
      throw new Error(
        `route ${routeKey} has no authentication reason: add one to lib/nag.ts or an authorizer`,
      );
    }
    acknowledgeOn(route, 'AwsSolutions-APIG4', reason);
  }
}

/** `records` mode: `route53:GetChange` names a change by an id Route 53 returns at run time. */
export function acknowledgeRoute53Changes(fn: ResponderFunction) {
  acknowledgeOn(
    grantsPolicyOf(fn),
    'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:route53:::change/*]',
    'route53:GetChange takes the id of the change ChangeResourceRecordSets just returned, unknown before; the change resource has no finer form. ChangeResourceRecordSets itself names the hosted zone and is limited to UPSERT of the configured record name and type.',
  );
}
