import { createHash, randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import { ACCOUNT } from './template-iam.ts';

/** One AWS request a function sent, with what IAM would authorize it on. */
export interface RecordedCall {
  /** Who sent it: the function whose access key id signed the request. */
  readonly caller: string;
  /** `dynamodb:Query`, `sns:Publish`, `events:PutEvents`, ... */
  readonly action: string;
  /** The ARN IAM checks: table (or `<table>/index/<name>`), topic, secret, bus, function, S3 object or bucket. */
  readonly resource: string;
  /** DynamoDB: the partition key value(s) the request reaches (`dynamodb:LeadingKeys`). */
  readonly leadingKeys?: readonly string[];
  /** PutEvents: the entry's source and detail type. */
  readonly source?: string;
  readonly detailType?: string;
  /**
   * Other condition keys IAM evaluates the request with, from its body: Route 53's
   * ChangeResourceRecordSets keys (normalized record names, record types, actions).
   */
  readonly context?: Readonly<Record<string, readonly string[]>>;
  /** The HTTP status answered, so a test can tell a refused call from a served one. */
  status: number;
}

/** Makes matching calls fail, to drive the code paths that only run on a failure (releases, retries). */
export interface Fault {
  readonly caller: string;
  readonly action: string;
  /** Only calls whose leading key starts with this. */
  readonly leadingKeyPrefix?: string;
  /** How many matching calls fail. */
  times: number;
  /** How many matching calls pass before the first failure (the second part of an upload, say). */
  skip?: number;
  readonly status: number;
  /** The error type in the JSON body (`__type`), or the query-protocol or REST-XML error code. */
  readonly type: string;
}

export interface SecretFixture {
  readonly arn: string;
  readonly value: string;
  /**
   * The secret's rotation function (its rotation schedule's RotationLambdaARN): rotation is enabled,
   * and RotateSecret is also authorized as `lambda:InvokeFunction` on it, as Secrets Manager requires.
   * @default - rotation not enabled
   */
  readonly rotationLambdaArn?: string;
}

/** One secret in the recorder's Secrets Manager: its versions and their staging labels. */
export interface StoredSecret {
  readonly arn: string;
  readonly name: string;
  readonly rotationLambdaArn?: string;
  /** Version id → its value (none yet for the AWSPENDING version RotateSecret creates) and labels. */
  readonly versions: Map<string, { value?: string; stages: string[] }>;
}

/** One record set of a hosted zone in the recorder's Route 53 (simple routing, plain values). */
export interface Route53RecordSet {
  /** Fully qualified, lower case: `api.example.com.` */
  readonly name: string;
  readonly type: string;
  readonly ttl: number;
  readonly values: readonly string[];
}

/** One hosted zone in the recorder's Route 53: its id (`Z...`, without `/hostedzone/`), name and records. */
export interface Route53ZoneFixture {
  readonly id: string;
  /** Fully qualified: `example.com.` */
  readonly name: string;
  records: Route53RecordSet[];
}

/** Route 53 in memory: a change is PENDING at its first GetChange, INSYNC from the next one. */
export interface Route53Fixtures {
  readonly zones: Route53ZoneFixture[];
}

/** One RDS DB instance the recorder's RDS keeps: a read replica while it has a source. */
export interface RdsInstanceFixture {
  readonly region: string;
  readonly id: string;
  /** The source instance (identifier or ARN) while this is a read replica. */
  source?: string;
  status: string;
}

/** One Aurora global database: its clusters by ARN, and which one writes. */
export interface RdsGlobalClusterFixture {
  readonly id: string;
  readonly clusters: readonly string[];
  writer: string;
}

/** RDS in memory: promotions, switchovers and failovers take effect at once. */
export interface RdsFixtures {
  readonly instances: RdsInstanceFixture[];
  readonly globalClusters: RdsGlobalClusterFixture[];
}

export interface RecorderOptions {
  /** Access key id → the function it stands for. */
  readonly callers: Readonly<Record<string, string>>;
  /** Secret id the code passes (ARN or name) → the secret's full ARN and value. */
  readonly secrets: Readonly<Record<string, SecretFixture>>;
  /** Answers a Lambda Invoke: the payload, and whether the function failed. */
  readonly invoke: (
    functionName: string,
    payload: string,
  ) => Promise<{ readonly payload: string; readonly failed?: boolean }>;
  /** Partition key attribute of the table and of each index. */
  readonly hashKeys: Readonly<Record<string, string>>;
  /** @default - no instance or global cluster: every RDS call answers "not found" */
  readonly rds?: RdsFixtures;
  /** @default - no hosted zone: every Route 53 call answers NoSuchHostedZone */
  readonly route53?: Route53Fixtures;
  /**
   * IAM at request time, for Route 53 calls: a call it refuses is answered 403 AccessDenied and has
   * no effect, as AWS would answer it (the other services are served, and checked after the fact).
   * @default - every call is served
   */
  readonly authorize?: (call: RecordedCall) => boolean;
}

export interface PutEventEntry {
  readonly caller: string;
  readonly Source: string;
  readonly DetailType: string;
  readonly Detail: string;
  readonly EventBusName: string;
}

/** One version of an object the recorder's S3 keeps (in memory). */
export interface S3ObjectVersion {
  readonly versionId: string;
  readonly body: Buffer;
  readonly etag: string;
  tags: string;
}

export interface AwsRecorder {
  readonly url: string;
  /** S3 objects by `<bucket>/<key>`, oldest version first. */
  readonly objects: Map<string, S3ObjectVersion[]>;
  /** Multipart uploads in progress by upload id (completed and aborted ones are gone). */
  readonly uploads: Map<
    string,
    { readonly object: string; readonly parts: Map<number, Buffer>; readonly tags: string }
  >;
  readonly calls: RecordedCall[];
  readonly events: PutEventEntry[];
  readonly published: URLSearchParams[];
  readonly faults: Fault[];
  /** Secrets Manager's secrets, by ARN. */
  readonly secrets: Map<string, StoredSecret>;
  /** RDS's instances and global clusters, as the calls so far left them (a test may rebuild one). */
  readonly rds: RdsFixtures;
  /** Route 53's hosted zones, as the changes so far left them. */
  readonly route53: Route53Fixtures;
  stop(): Promise<void>;
}

/** A request's whole body (the recorder and the bench's timing proxy both read one). */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** `Credential=AKID/20260101/eu-west-1/dynamodb/aws4_request` → access key id, region and service. */
function signer(req: IncomingMessage): { keyId: string; region: string; service: string } {
  const match = /Credential=([^/]+)\/\d+\/([^/]+)\/([^/]+)\//.exec(String(req.headers.authorization ?? ''));
  return { keyId: match?.[1] ?? 'unsigned', region: match?.[2] ?? 'unknown', service: match?.[3] ?? '' };
}

/** A body sent `aws-chunked` (streaming uploads with a trailing checksum) without its chunk framing. */
function decodeAwsChunked(body: Buffer): Buffer {
  const chunks: Buffer[] = [];
  let at = 0;
  while (at < body.length) {
    const end = body.indexOf('\r\n', at);
    if (end < 0) break;
    const size = Number.parseInt(body.subarray(at, end).toString('latin1').split(';')[0] ?? '0', 16);
    if (!size) break;
    chunks.push(body.subarray(end + 2, end + 2 + size));
    at = end + 2 + size + 2;
  }
  return Buffer.concat(chunks);
}

/** The IAM action of an S3 REST request (several operations share one: UploadPart is s3:PutObject). */
function s3ActionOf(
  method: string,
  key: string,
  query: URLSearchParams,
  headers: IncomingMessage['headers'],
) {
  const version = query.has('versionId') ? 'Version' : '';
  if (!key) return query.has('uploads') ? 's3:ListBucketMultipartUploads' : 's3:ListBucket';
  if (query.has('tagging')) {
    return method === 'PUT' ? `s3:PutObject${version}Tagging` : `s3:GetObject${version}Tagging`;
  }
  if (method === 'DELETE')
    return query.has('uploadId') ? 's3:AbortMultipartUpload' : `s3:DeleteObject${version}`;
  if (method === 'GET' && query.has('uploadId')) return 's3:ListMultipartUploadParts';
  if (method === 'GET' || method === 'HEAD') return version ? 's3:GetObjectVersion' : 's3:GetObject';
  if (headers['x-amz-copy-source']) return 'unknown:s3 CopyObject (teach the recorder)';
  return 's3:PutObject';
}

const xmlEscape = (text: string) => text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

type AttributeValue = { S?: string };
interface DynamoRequest {
  TableName?: string;
  IndexName?: string;
  Key?: Record<string, AttributeValue>;
  Item?: Record<string, AttributeValue>;
  KeyConditionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, AttributeValue>;
}

/** The partition key value a request reaches: from its Key or Item, or its Query key condition. */
function leadingKeysOf(body: DynamoRequest, hashKeys: Readonly<Record<string, string>>): string[] {
  const hashKey = hashKeys[body.IndexName ?? ''];
  if (!hashKey) throw new Error(`no hash key known for index '${body.IndexName ?? ''}'`);
  const item = body.Key ?? body.Item;
  if (item) return item[hashKey]?.S !== undefined ? [String(item[hashKey]?.S)] : [];
  const values: string[] = [];
  for (const [, name, placeholder] of (body.KeyConditionExpression ?? '').matchAll(
    /([#\w]+)\s*=\s*(:\w+)/g,
  )) {
    const attribute = name?.startsWith('#') ? body.ExpressionAttributeNames?.[name] : name;
    const value = body.ExpressionAttributeValues?.[placeholder ?? '']?.S;
    if (attribute === hashKey && value !== undefined) values.push(value);
  }
  return values;
}

interface SecretsManagerRequest {
  SecretId: string;
  VersionId?: string;
  VersionStage?: string;
  ClientRequestToken?: string;
  SecretString?: string;
  VersionStages?: string[];
  MoveToVersionId?: string;
  RemoveFromVersionId?: string;
}

const SECRETS_MANAGER_OPERATIONS = [
  'DescribeSecret',
  'GetSecretValue',
  'PutSecretValue',
  'UpdateSecretVersionStage',
  'RotateSecret',
];

const CURRENT = 'AWSCURRENT';
const PREVIOUS = 'AWSPREVIOUS';
const PENDING = 'AWSPENDING';

/**
 * The Secrets Manager operations the functions call, with its label rules: a label is on one version
 * at most; when AWSCURRENT moves, the version it left becomes AWSPREVIOUS; RotateSecret refuses while
 * AWSPENDING sits on a version without AWSCURRENT, and otherwise creates a version labelled AWSPENDING
 * (no value yet: createSecret puts it) and returns its id. It does not invoke the rotation function.
 */
function answerSecretsManager(
  operation: string,
  input: SecretsManagerRequest,
  secret: StoredSecret,
): { status: number; body: unknown } {
  const error = (type: string, message: string) => ({ status: 400, body: { __type: type, message } });
  const ok = (body: Record<string, unknown>) => ({
    status: 200,
    body: { ARN: secret.arn, Name: secret.name, ...body },
  });
  const holder = (stage: string) => [...secret.versions].find(([, v]) => v.stages.includes(stage))?.[0];
  const label = (versionId: string, stage: string) => {
    const from = holder(stage);
    if (from === versionId) return;
    if (from) {
      const old = secret.versions.get(from);
      if (old) old.stages = old.stages.filter((s) => s !== stage);
    }
    const version = secret.versions.get(versionId);
    if (version) version.stages = [...version.stages, stage];
    if (stage === CURRENT && from) {
      const previousHolder = holder(PREVIOUS);
      const prior = previousHolder ? secret.versions.get(previousHolder) : undefined;
      if (prior) prior.stages = prior.stages.filter((s) => s !== PREVIOUS);
      const old = secret.versions.get(from);
      if (old) old.stages = [...old.stages, PREVIOUS];
    }
  };
  switch (operation) {
    case 'DescribeSecret':
      return ok({
        RotationEnabled: secret.rotationLambdaArn !== undefined,
        RotationLambdaARN: secret.rotationLambdaArn,
        VersionIdsToStages: Object.fromEntries(
          [...secret.versions].filter(([, v]) => v.stages.length > 0).map(([id, v]) => [id, v.stages]),
        ),
      });
    case 'GetSecretValue': {
      const versionId = input.VersionId ?? holder(input.VersionStage ?? CURRENT);
      const version = versionId ? secret.versions.get(versionId) : undefined;
      if (
        !versionId ||
        version?.value === undefined ||
        (input.VersionStage !== undefined && !version.stages.includes(input.VersionStage))
      ) {
        return error(
          'ResourceNotFoundException',
          `Secrets Manager can't find the specified secret value for VersionId: ${input.VersionId ?? ''} VersionStage: ${input.VersionStage ?? ''}`,
        );
      }
      return ok({ SecretString: version.value, VersionId: versionId, VersionStages: version.stages });
    }
    case 'PutSecretValue': {
      const versionId = input.ClientRequestToken ?? randomUUID();
      const existing = secret.versions.get(versionId);
      if (existing?.value !== undefined && existing.value !== input.SecretString) {
        return error('ResourceExistsException', `version ${versionId} already exists with another value`);
      }
      if (existing) existing.value = input.SecretString;
      else secret.versions.set(versionId, { value: input.SecretString, stages: [] });
      for (const stage of input.VersionStages ?? [CURRENT]) label(versionId, stage);
      return ok({ VersionId: versionId, VersionStages: secret.versions.get(versionId)?.stages ?? [] });
    }
    case 'UpdateSecretVersionStage': {
      const stage = input.VersionStage ?? '';
      const from = holder(stage);
      if (input.RemoveFromVersionId !== undefined && input.RemoveFromVersionId !== from) {
        return error('InvalidParameterException', `${stage} is not on version ${input.RemoveFromVersionId}`);
      }
      if (input.MoveToVersionId !== undefined) {
        if (!secret.versions.has(input.MoveToVersionId)) {
          return error('ResourceNotFoundException', `no version ${input.MoveToVersionId}`);
        }
        if (from && from !== input.MoveToVersionId && input.RemoveFromVersionId !== from) {
          return error(
            'InvalidParameterException',
            `${stage} is on version ${from}: name it as RemoveFromVersionId`,
          );
        }
        label(input.MoveToVersionId, stage);
      } else if (from) {
        const version = secret.versions.get(from);
        if (version) version.stages = version.stages.filter((s) => s !== stage);
      }
      return ok({});
    }
    case 'RotateSecret': {
      if (!secret.rotationLambdaArn) return error('InvalidRequestException', 'rotation is not enabled');
      const pending = holder(PENDING);
      if (pending && !secret.versions.get(pending)?.stages.includes(CURRENT)) {
        return error(
          'InvalidRequestException',
          "A previous rotation isn't complete. That rotation will be reattempted.",
        );
      }
      const versionId = input.ClientRequestToken ?? randomUUID();
      secret.versions.set(versionId, { stages: [] });
      label(versionId, PENDING);
      return ok({ VersionId: versionId });
    }
    default:
      return error('UnknownOperationException', `the recorder does not answer secretsmanager.${operation}`);
  }
}

const RDS_OPERATIONS = [
  'DescribeDBInstances',
  'PromoteReadReplica',
  'DescribeDBClusters',
  'DescribeGlobalClusters',
  'SwitchoverGlobalCluster',
  'FailoverGlobalCluster',
];

const instanceXml = (instance: RdsInstanceFixture) =>
  `<DBInstance><DBInstanceIdentifier>${xmlEscape(instance.id)}</DBInstanceIdentifier><DBInstanceStatus>${instance.status}</DBInstanceStatus>${
    instance.source
      ? `<ReadReplicaSourceDBInstanceIdentifier>${xmlEscape(instance.source)}</ReadReplicaSourceDBInstanceIdentifier><StatusInfos><DBInstanceStatusInfo><StatusType>read replication</StatusType><Normal>true</Normal><Status>replicating</Status></DBInstanceStatusInfo></StatusInfos>`
      : ''
  }</DBInstance>`;

const globalClusterXml = (global: RdsGlobalClusterFixture, element: string) =>
  `<${element}><GlobalClusterIdentifier>${xmlEscape(global.id)}</GlobalClusterIdentifier><Status>available</Status><GlobalClusterMembers>${global.clusters
    .map(
      (arn) =>
        `<GlobalClusterMember><DBClusterArn>${xmlEscape(arn)}</DBClusterArn><IsWriter>${arn === global.writer}</IsWriter><SynchronizationStatus>connected</SynchronizationStatus></GlobalClusterMember>`,
    )
    .join('')}</GlobalClusterMembers></${element}>`;

/**
 * The RDS operations the failover engines call (query protocol: a form in, XML out), each authorized
 * on the resources IAM checks for it: the instance, the cluster, the global cluster (an ARN without a
 * region); a switchover or failover on the global cluster and both clusters it moves the writer between.
 */
function rdsRequest(
  form: URLSearchParams,
  region: string,
  rds: RdsFixtures,
): { readonly resources: string[]; readonly answer: () => { status: number; body: string } } {
  const operation = form.get('Action') ?? '';
  const arn = (rest: string, inRegion = region) => `arn:aws:rds:${inRegion}:${ACCOUNT}:${rest}`;
  const ok = (result: string) => ({
    status: 200,
    body: `<${operation}Response xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><${operation}Result>${result}</${operation}Result><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></${operation}Response>`,
  });
  const error = (status: number, code: string, message: string) => ({
    status,
    body: `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>r</RequestId></ErrorResponse>`,
  });
  if (operation === 'DescribeDBInstances' || operation === 'PromoteReadReplica') {
    const id = (form.get('DBInstanceIdentifier') ?? '').toLowerCase();
    const instance = rds.instances.find((i) => i.region === region && i.id.toLowerCase() === id);
    return {
      resources: [arn(`db:${id}`)],
      answer: () => {
        if (!instance) return error(404, 'DBInstanceNotFound', `DBInstance ${id} not found.`);
        if (operation === 'DescribeDBInstances')
          return ok(`<DBInstances>${instanceXml(instance)}</DBInstances>`);
        if (!instance.source) return error(400, 'InvalidDBInstanceState', `${id} is not a read replica`);
        instance.source = undefined;
        return ok(instanceXml(instance));
      },
    };
  }
  if (operation === 'DescribeDBClusters') {
    const named = form.get('DBClusterIdentifier') ?? '';
    const clusterArn = named.startsWith('arn:') ? named : arn(`cluster:${named}`);
    const known = rds.globalClusters.some((g) => g.clusters.includes(clusterArn));
    return {
      resources: [clusterArn],
      answer: () =>
        known
          ? ok(
              `<DBClusters><DBCluster><DBClusterIdentifier>${xmlEscape(clusterArn.split(':').at(-1) ?? '')}</DBClusterIdentifier><Status>available</Status></DBCluster></DBClusters>`,
            )
          : error(404, 'DBClusterNotFoundFault', `DBCluster ${named} not found.`),
    };
  }
  const id = form.get('GlobalClusterIdentifier') ?? '';
  const global = rds.globalClusters.find((g) => g.id === id);
  const globalArn = `arn:aws:rds::${ACCOUNT}:global-cluster:${id}`;
  const notFound = () => error(404, 'GlobalClusterNotFoundFault', `global cluster ${id} not found`);
  if (operation === 'DescribeGlobalClusters') {
    return {
      resources: [globalArn],
      answer: () =>
        global
          ? ok(`<GlobalClusters>${globalClusterXml(global, 'GlobalClusterMember')}</GlobalClusters>`)
          : notFound(),
    };
  }
  // SwitchoverGlobalCluster, FailoverGlobalCluster.
  const target = form.get('TargetDbClusterIdentifier') ?? '';
  return {
    resources: [globalArn, target, ...(global && global.writer !== target ? [global.writer] : [])],
    answer: () => {
      if (!global) return notFound();
      if (!global.clusters.includes(target))
        return error(400, 'InvalidGlobalClusterStateFault', `${target} is not a member`);
      global.writer = target;
      return ok(globalClusterXml(global, 'GlobalCluster'));
    },
  };
}

const ROUTE53_XMLNS = 'https://route53.amazonaws.com/doc/2013-04-01/';

const xmlUnescape = (text: string) =>
  text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, entity: string) => {
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (!entity.startsWith('#')) return named[entity.toLowerCase()] ?? '';
    const hex = entity[1]?.toLowerCase() === 'x';
    return String.fromCodePoint(Number.parseInt(entity.slice(hex ? 2 : 1), hex ? 16 : 10));
  });

/**
 * A record name as Route 53's condition key `route53:ChangeResourceRecordSetsNormalizedRecordNames`
 * carries it: the name's `\ddd` (octal) escapes read, then lower case, no trailing dot, and every
 * character but a-z, 0-9, `-`, `_` and `.` written as `\` and its three-digit octal code (`*` is `\052`).
 */
export function route53NormalizedName(name: string): string {
  return name
    .replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)))
    .toLowerCase()
    .replace(/\.$/, '')
    .replace(/[^a-z0-9_.-]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

/** A name as Route 53 keeps and answers it: fully qualified, lower case. */
const route53Fqdn = (name: string) => `${name.toLowerCase().replace(/\.$/, '')}.`;

/** One change of a ChangeResourceRecordSets request body (`<Change>` of its `<ChangeBatch>`). */
interface Route53Change {
  readonly action: string;
  readonly record: Route53RecordSet;
  /** Routing policies and aliases the recorder does not keep (it refuses such a change). */
  readonly unsupported?: string;
}

function route53ChangesOf(xml: string): Route53Change[] {
  return [...xml.matchAll(/<Change>([\s\S]*?)<\/Change>/g)].map(([, change = '']) => {
    const set = /<ResourceRecordSet>([\s\S]*?)<\/ResourceRecordSet>/.exec(change)?.[1] ?? '';
    const text = (tag: string, within: string) => {
      const found = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(within)?.[1];
      return found === undefined ? undefined : xmlUnescape(found);
    };
    const unsupported = ['SetIdentifier', 'AliasTarget', 'Failover', 'Weight', 'Region', 'GeoLocation'].find(
      (tag) => set.includes(`<${tag}>`),
    );
    return {
      action: text('Action', change) ?? '',
      record: {
        name: text('Name', set) ?? '',
        type: text('Type', set) ?? '',
        ttl: Number(text('TTL', set) ?? 0),
        values: [...set.matchAll(/<Value>([^<]*)<\/Value>/g)].map(([, value = '']) => xmlUnescape(value)),
      },
      unsupported,
    };
  });
}

/** Route 53's order of a zone's records: by name with its labels reversed (`com.example.api`), then type. */
const route53Order = (record: Pick<Route53RecordSet, 'name' | 'type'>) =>
  `${route53Fqdn(record.name).slice(0, -1).split('.').reverse().join('.')}\u0000${record.type}`;

const recordSetXml = (record: Route53RecordSet) =>
  `<ResourceRecordSet><Name>${xmlEscape(record.name)}</Name><Type>${record.type}</Type><TTL>${record.ttl}</TTL><ResourceRecords>${record.values
    .map((value) => `<ResourceRecord><Value>${xmlEscape(value)}</Value></ResourceRecord>`)
    .join('')}</ResourceRecords></ResourceRecordSet>`;

const route53Error = (status: number, code: string, message: string) => ({
  status,
  body: `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${ROUTE53_XMLNS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>r</RequestId></ErrorResponse>`,
});

/**
 * The Route 53 operations the failover function calls (REST-XML), each with the resource IAM checks
 * (`arn:aws:route53:::hostedzone/<id>`, `arn:aws:route53:::change/<id>`) and, for
 * ChangeResourceRecordSets, the condition keys Route 53 computes from the change batch. A change batch
 * is applied whole or not at all (CREATE of a record that exists, DELETE of one that does not match,
 * a name outside the zone: InvalidChangeBatch).
 */
function route53Request(
  method: string,
  url: URL,
  body: string,
  route53: Route53Fixtures,
  changes: Map<string, { readonly submittedAt: string; gets: number }>,
): {
  readonly action: string;
  readonly resource: string;
  readonly context?: Record<string, string[]>;
  readonly answer: () => { status: number; body: string };
} {
  const ok = (element: string, content: string) => ({
    status: 200,
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<${element} xmlns="${ROUTE53_XMLNS}">${content}</${element}>`,
  });
  const changeInfo = (id: string, status: string) =>
    `<ChangeInfo><Id>/change/${id}</Id><Status>${status}</Status><SubmittedAt>${changes.get(id)?.submittedAt}</SubmittedAt></ChangeInfo>`;
  const path = url.pathname.replace(/^\/2013-04-01/, '');
  const rrset = /^\/hostedzone\/([^/]+)\/rrset\/?$/.exec(path);
  const zoneId = decodeURIComponent(rrset?.[1] ?? '');
  const zone = route53.zones.find((z) => z.id === zoneId);
  const zoneArn = `arn:aws:route53:::hostedzone/${zoneId}`;
  const noZone = () => route53Error(404, 'NoSuchHostedZone', `No hosted zone found with ID: ${zoneId}`);

  if (rrset && method === 'GET') {
    return {
      action: 'route53:ListResourceRecordSets',
      resource: zoneArn,
      answer: () => {
        if (!zone) return noZone();
        const query = url.searchParams;
        const max = Number(query.get('maxitems') ?? 300);
        const start = query.get('name');
        const from = start ? route53Order({ name: start, type: query.get('type') ?? '' }) : '';
        const sorted = [...zone.records]
          .sort((a, b) => (route53Order(a) < route53Order(b) ? -1 : 1))
          .filter((record) => route53Order(record) >= from);
        const page = sorted.slice(0, max);
        const next = sorted[max];
        return ok(
          'ListResourceRecordSetsResponse',
          `<ResourceRecordSets>${page.map(recordSetXml).join('')}</ResourceRecordSets><IsTruncated>${next !== undefined}</IsTruncated>${
            next
              ? `<NextRecordName>${xmlEscape(next.name)}</NextRecordName><NextRecordType>${next.type}</NextRecordType>`
              : ''
          }<MaxItems>${max}</MaxItems>`,
        );
      },
    };
  }

  if (rrset && method === 'POST') {
    const batch = route53ChangesOf(body);
    const distinct = (values: string[]) => [...new Set(values)];
    return {
      action: 'route53:ChangeResourceRecordSets',
      resource: zoneArn,
      context: {
        'route53:ChangeResourceRecordSetsNormalizedRecordNames': distinct(
          batch.map((change) => route53NormalizedName(change.record.name)),
        ),
        'route53:ChangeResourceRecordSetsRecordTypes': distinct(batch.map((change) => change.record.type)),
        'route53:ChangeResourceRecordSetsActions': distinct(batch.map((change) => change.action)),
      },
      answer: () => {
        if (!zone) return noZone();
        const invalid = (message: string) => route53Error(400, 'InvalidChangeBatch', message);
        if (batch.length === 0) return invalid('The change batch holds no change');
        let records = [...zone.records];
        for (const { action, record, unsupported } of batch) {
          const name = route53Fqdn(record.name);
          const described = `[name='${name}', type='${record.type}']`;
          if (unsupported) return invalid(`the recorder keeps no ${unsupported} record sets`);
          if (name !== zone.name && !name.endsWith(`.${zone.name}`)) {
            return invalid(`RRSet with DNS name ${name} is not permitted in zone ${zone.name}`);
          }
          const same = (r: Route53RecordSet) => r.name === name && r.type === record.type;
          const existing = records.find(same);
          const kept = { ...record, name };
          if (action === 'CREATE') {
            if (existing)
              return invalid(`Tried to create resource record set ${described} but it already exists`);
            records.push(kept);
          } else if (action === 'DELETE') {
            if (
              !existing ||
              existing.ttl !== record.ttl ||
              existing.values.join('\n') !== record.values.join('\n')
            ) {
              return invalid(`Tried to delete resource record set ${described} but it was not found`);
            }
            records = records.filter((r) => !same(r));
          } else if (action === 'UPSERT') {
            records = [...records.filter((r) => !same(r)), kept];
          } else {
            return invalid(`Unknown action ${action}`);
          }
        }
        zone.records = records;
        const id = `C${randomUUID().replaceAll('-', '').slice(0, 13).toUpperCase()}`;
        changes.set(id, { submittedAt: new Date().toISOString(), gets: 0 });
        return ok('ChangeResourceRecordSetsResponse', changeInfo(id, 'PENDING'));
      },
    };
  }

  const change = /^\/change\/([^/]+)$/.exec(path);
  if (change && method === 'GET') {
    const id = decodeURIComponent(change[1] ?? '');
    return {
      action: 'route53:GetChange',
      resource: `arn:aws:route53:::change/${id}`,
      answer: () => {
        const known = changes.get(id);
        if (!known)
          return route53Error(
            404,
            'NoSuchChange',
            `A change with the specified change ID does not exist: ${id}`,
          );
        known.gets += 1;
        return ok('GetChangeResponse', changeInfo(id, known.gets > 1 ? 'INSYNC' : 'PENDING'));
      },
    };
  }
  return {
    action: `unknown:route53 ${method} ${url.pathname}`,
    resource: '',
    answer: () => route53Error(400, 'InvalidInput', 'the recorder does not answer this Route 53 call'),
  };
}

/**
 * ONE loopback endpoint for every AWS API the functions call: DynamoDB is forwarded to a dynalite it
 * starts; S3, Secrets Manager, EventBridge PutEvents, SNS Publish, RDS, Route 53 and Lambda Invoke are
 * answered here. Route 53 is global (route53.amazonaws.com, signed for us-east-1): a client in any
 * region reaches it here through the same endpoint override (AWS_ENDPOINT_URL), told by its signing
 * service.
 * Every request is recorded against the function whose access key id signed it.
 */
export async function startAwsRecorder(options: RecorderOptions): Promise<AwsRecorder> {
  const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => dynamo.listen(0, '127.0.0.1', () => resolve()));
  const dynamoPort = (dynamo.address() as AddressInfo).port;
  const calls: RecordedCall[] = [];
  const events: PutEventEntry[] = [];
  const published: URLSearchParams[] = [];
  const faults: Fault[] = [];
  const objects = new Map<string, S3ObjectVersion[]>();
  const uploads: AwsRecorder['uploads'] = new Map();
  const rds: RdsFixtures = options.rds ?? { instances: [], globalClusters: [] };
  const route53: Route53Fixtures = options.route53 ?? { zones: [] };
  const route53Changes = new Map<string, { readonly submittedAt: string; gets: number }>();

  // Secrets Manager in memory: each fixture starts as one AWSCURRENT version, reachable by the id the
  // code passes and by its ARN.
  const secrets = new Map<string, StoredSecret>();
  const secretIds = new Map<string, StoredSecret>();
  for (const [id, fixture] of Object.entries(options.secrets)) {
    const stored =
      secrets.get(fixture.arn) ??
      ({
        arn: fixture.arn,
        name: /:secret:(.+)-[A-Za-z0-9]{6}$/.exec(fixture.arn)?.[1] ?? id,
        rotationLambdaArn: fixture.rotationLambdaArn,
        versions: new Map([['v1', { value: fixture.value, stages: ['AWSCURRENT'] }]]),
      } satisfies StoredSecret);
    secrets.set(fixture.arn, stored);
    secretIds.set(id, stored);
    secretIds.set(fixture.arn, stored);
  }
  const secretById = (id: string) => secretIds.get(id);

  const faultFor = (call: RecordedCall) => {
    const fault = faults.find(
      (f) =>
        f.times > 0 &&
        f.caller === call.caller &&
        f.action === call.action &&
        (f.leadingKeyPrefix === undefined ||
          (call.leadingKeys ?? []).some((key) => key.startsWith(f.leadingKeyPrefix ?? ''))),
    );
    if (fault && (fault.skip ?? 0) > 0) {
      fault.skip = (fault.skip ?? 0) - 1;
      return undefined;
    }
    if (fault) fault.times -= 1;
    return fault;
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const { keyId, region, service } = signer(req);
      const caller = options.callers[keyId] ?? `unknown key ${keyId}`;
      const arn = (service: string, rest: string) => `arn:aws:${service}:${region}:${ACCOUNT}:${rest}`;
      const target = String(req.headers['x-amz-target'] ?? '');
      const json = (status: number, value: unknown, type = 'application/x-amz-json-1.0') => {
        res.statusCode = status;
        res.setHeader('content-type', type);
        res.end(JSON.stringify(value));
      };
      const record = (call: Omit<RecordedCall, 'caller' | 'status'>) => {
        const recorded: RecordedCall = { caller, ...call, status: 200 };
        calls.push(recorded);
        return recorded;
      };

      if (service === 's3') {
        answerS3(req, body, caller, res);
        return;
      }

      if (target.startsWith('DynamoDB_20120810.')) {
        const input = JSON.parse(body.toString('utf8')) as DynamoRequest;
        const table = arn('dynamodb', `table/${input.TableName}`);
        const call = record({
          action: `dynamodb:${target.slice('DynamoDB_20120810.'.length)}`,
          resource: input.IndexName ? `${table}/index/${input.IndexName}` : table,
          leadingKeys: leadingKeysOf(input, options.hashKeys),
        });
        const fault = faultFor(call);
        if (fault) {
          call.status = fault.status;
          json(fault.status, { __type: `com.amazonaws.dynamodb.v20120810#${fault.type}`, message: 'fault' });
          return;
        }
        const forwarded = httpRequest(
          {
            host: '127.0.0.1',
            port: dynamoPort,
            method: req.method,
            path: '/',
            headers: { ...req.headers, host: `127.0.0.1:${dynamoPort}` },
          },
          (answer) => {
            call.status = answer.statusCode ?? 0;
            res.writeHead(answer.statusCode ?? 500, answer.headers);
            answer.pipe(res);
          },
        );
        forwarded.end(body);
        return;
      }

      if (target.startsWith('secretsmanager.')) {
        const input = JSON.parse(body.toString('utf8')) as SecretsManagerRequest;
        const secret = secretById(input.SecretId);
        const operation = target.slice('secretsmanager.'.length);
        const call = record({
          action: SECRETS_MANAGER_OPERATIONS.includes(operation)
            ? `secretsmanager:${operation}`
            : `unknown:${target}`,
          resource: secret?.arn ?? input.SecretId,
        });
        // RotateSecret is authorized as lambda:InvokeFunction on the rotation function too.
        if (operation === 'RotateSecret' && secret?.rotationLambdaArn) {
          record({ action: 'lambda:InvokeFunction', resource: secret.rotationLambdaArn });
        }
        const fault = faultFor(call);
        const answer = fault
          ? { status: fault.status, body: { __type: fault.type, message: 'fault' } }
          : secret
            ? answerSecretsManager(operation, input, secret)
            : {
                status: 400,
                body: { __type: 'ResourceNotFoundException', message: `no secret ${input.SecretId}` },
              };
        call.status = answer.status;
        json(answer.status, answer.body, 'application/x-amz-json-1.1');
        return;
      }

      if (target === 'AWSEvents.PutEvents') {
        const { Entries } = JSON.parse(body.toString('utf8')) as {
          Entries: Array<Omit<PutEventEntry, 'caller'>>;
        };
        // EventBridge authorizes each entry on its own (its bus, source and detail type).
        const entryCalls = Entries.map((entry) =>
          record({
            action: 'events:PutEvents',
            resource: entry.EventBusName.startsWith('arn:')
              ? entry.EventBusName
              : arn('events', `event-bus/${entry.EventBusName}`),
            source: entry.Source,
            detailType: entry.DetailType,
          }),
        );
        // A fault refuses the whole request (as a throttled or failing PutEvents would).
        const [firstEntry] = entryCalls;
        const fault = firstEntry ? faultFor(firstEntry) : undefined;
        if (fault) {
          for (const call of entryCalls) call.status = fault.status;
          json(fault.status, { __type: fault.type, message: 'fault' }, 'application/x-amz-json-1.1');
          return;
        }
        events.push(...Entries.map((entry) => ({ ...entry, caller })));
        json(
          200,
          { FailedEntryCount: 0, Entries: Entries.map((_, i) => ({ EventId: `e-${events.length}-${i}` })) },
          'application/x-amz-json-1.1',
        );
        return;
      }

      if (service === 'route53') {
        const request = route53Request(
          req.method ?? 'GET',
          new URL(req.url ?? '/', 'http://recorder'),
          body.toString('utf8'),
          route53,
          route53Changes,
        );
        const call = record({
          action: request.action,
          resource: request.resource,
          ...(request.context ? { context: request.context } : {}),
        });
        // IAM first: a refused call reaches no fault and changes nothing.
        const refused = options.authorize?.(call) === false;
        const fault = refused ? undefined : faultFor(call);
        const answer = refused
          ? route53Error(
              403,
              'AccessDenied',
              `User: ${caller} is not authorized to perform: ${call.action} on resource: ${call.resource}`,
            )
          : fault
            ? route53Error(fault.status, fault.type, 'fault')
            : request.answer();
        call.status = answer.status;
        res.statusCode = answer.status;
        res.setHeader('content-type', 'text/xml');
        res.end(answer.body);
        return;
      }

      const form = new URLSearchParams(body.toString('utf8'));
      if (service === 'rds') {
        const operation = form.get('Action') ?? '';
        const request = rdsRequest(form, region, rds);
        const [first, ...rest] = request.resources.map((resource) =>
          record({
            action: RDS_OPERATIONS.includes(operation) ? `rds:${operation}` : `unknown:rds ${operation}`,
            resource,
          }),
        );
        const fault = first ? faultFor(first) : undefined;
        const answer = fault
          ? {
              status: fault.status,
              body: `<ErrorResponse><Error><Type>Sender</Type><Code>${fault.type}</Code><Message>fault</Message></Error><RequestId>f</RequestId></ErrorResponse>`,
            }
          : request.answer();
        for (const call of [first, ...rest]) if (call) call.status = answer.status;
        res.statusCode = answer.status;
        res.setHeader('content-type', 'text/xml');
        res.end(answer.body);
        return;
      }
      if (form.get('Action') === 'Publish') {
        const call = record({ action: 'sns:Publish', resource: String(form.get('TopicArn')) });
        res.setHeader('content-type', 'text/xml');
        const fault = faultFor(call);
        if (fault) {
          call.status = fault.status;
          res.statusCode = fault.status;
          res.end(
            `<ErrorResponse><Error><Type>Receiver</Type><Code>${fault.type}</Code><Message>fault</Message></Error><RequestId>f</RequestId></ErrorResponse>`,
          );
          return;
        }
        published.push(form);
        res.end(
          `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>sns-${published.length}</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>`,
        );
        return;
      }

      const invocation = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(req.url ?? '');
      if (invocation?.[1]) {
        const name = decodeURIComponent(invocation[1]);
        record({
          action: 'lambda:InvokeFunction',
          resource: name.startsWith('arn:') ? name : arn('lambda', `function:${name}`),
        });
        const answer = await options.invoke(name, body.toString('utf8'));
        res.statusCode = 200;
        res.setHeader('content-type', 'application/json');
        res.setHeader('x-amz-executed-version', '$LATEST');
        if (answer.failed) res.setHeader('x-amz-function-error', 'Unhandled');
        res.end(answer.payload);
        return;
      }

      record({ action: `unknown:${target || form.get('Action') || req.url}`, resource: '' });
      json(400, { __type: 'UnknownOperationException', message: 'the recorder does not answer this' });
    })().catch((error: Error) => {
      res.statusCode = 500;
      res.end(error.message);
    });
  });
  /**
   * S3, in memory, path-style (`/<bucket>/<key>`, as the SDK addresses an IP endpoint): PutObject,
   * multipart uploads (create, parts, complete, abort), GetObject/HeadObject (by version id too),
   * object tagging. Each request is recorded as the IAM action it needs, on the object's (or the
   * bucket's) ARN; a request with `x-amz-tagging` also needs s3:PutObjectTagging, recorded with it.
   */
  function answerS3(
    req: IncomingMessage,
    raw: Buffer,
    caller: string,
    res: import('node:http').ServerResponse,
  ) {
    const url = new URL(req.url ?? '/', 'http://recorder');
    const host = String(req.headers.host ?? '');
    const hostBucket = /^([^.]+)\.(127\.0\.0\.1|localhost)/.exec(host)?.[1];
    const parts = url.pathname.slice(1).split('/');
    const bucket = hostBucket ?? decodeURIComponent(parts.shift() ?? '');
    const key = (hostBucket ? url.pathname.slice(1) : parts.join('/'))
      .split('/')
      .map(decodeURIComponent)
      .join('/');
    const method = req.method ?? 'GET';
    const query = url.searchParams;
    const action = s3ActionOf(method, key, query, req.headers);
    const resource = key ? `arn:aws:s3:::${bucket}/${key}` : `arn:aws:s3:::${bucket}`;
    const recordS3 = (recorded: string) => {
      const call: RecordedCall = { caller, action: recorded, resource, status: 200 };
      calls.push(call);
      return call;
    };
    const call = recordS3(action);
    const tagging = String(req.headers['x-amz-tagging'] ?? '');
    if (tagging && action === 's3:PutObject' && !query.has('uploadId')) recordS3('s3:PutObjectTagging');
    const xml = (status: number, text: string, headers: Record<string, string> = {}) => {
      call.status = status;
      res.writeHead(status, { 'content-type': 'application/xml', ...headers });
      res.end(`<?xml version="1.0" encoding="UTF-8"?>${text}`);
    };
    const error = (status: number, code: string) =>
      xml(status, `<Error><Code>${code}</Code><Message>${code}</Message><RequestId>r</RequestId></Error>`);
    const fault = faultFor(call);
    if (fault) return error(fault.status, fault.type);
    const streamed =
      String(req.headers['content-encoding'] ?? '').includes('aws-chunked') ||
      String(req.headers['x-amz-content-sha256'] ?? '').startsWith('STREAMING-');
    const body = streamed ? decodeAwsChunked(raw) : raw;
    const object = `${bucket}/${key}`;
    const versions = objects.get(object) ?? [];
    const wanted = query.get('versionId');
    const current = wanted ? versions.find((v) => v.versionId === wanted) : versions.at(-1);
    const store = (content: Buffer, tags: string) => {
      const version: S3ObjectVersion = {
        versionId: randomUUID().replaceAll('-', ''),
        body: content,
        etag: `"${createHash('md5').update(content).digest('hex')}"`,
        tags,
      };
      objects.set(object, [...versions, version]);
      return version;
    };

    if (action === 's3:PutObject' && method === 'POST' && query.has('uploads')) {
      const uploadId = randomUUID();
      uploads.set(uploadId, { object, parts: new Map(), tags: tagging });
      return xml(
        200,
        `<InitiateMultipartUploadResult><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><UploadId>${uploadId}</UploadId></InitiateMultipartUploadResult>`,
      );
    }
    const upload = query.has('uploadId') ? uploads.get(query.get('uploadId') ?? '') : undefined;
    if (query.has('uploadId') && !upload) return error(404, 'NoSuchUpload');
    if (upload && action === 's3:PutObject' && method === 'PUT') {
      upload.parts.set(Number(query.get('partNumber')), body);
      call.status = 200;
      res.writeHead(200, { etag: `"${createHash('md5').update(body).digest('hex')}"` });
      return res.end();
    }
    if (upload && action === 's3:PutObject' && method === 'POST') {
      const numbers = [...body.toString('utf8').matchAll(/<PartNumber>(\d+)<\/PartNumber>/g)].map((m) =>
        Number(m[1]),
      );
      const content = Buffer.concat(numbers.map((n) => upload.parts.get(n) ?? Buffer.alloc(0)));
      uploads.delete(query.get('uploadId') ?? '');
      const version = store(content, upload.tags);
      return xml(
        200,
        `<CompleteMultipartUploadResult><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><ETag>${version.etag}</ETag></CompleteMultipartUploadResult>`,
        { 'x-amz-version-id': version.versionId },
      );
    }
    if (upload && action === 's3:AbortMultipartUpload') {
      uploads.delete(query.get('uploadId') ?? '');
      call.status = 204;
      res.writeHead(204);
      return res.end();
    }
    if (action === 's3:PutObject') {
      const version = store(body, tagging);
      call.status = 200;
      res.writeHead(200, { etag: version.etag, 'x-amz-version-id': version.versionId });
      return res.end();
    }
    if (/^s3:PutObject(Version)?Tagging$/.test(action)) {
      if (!current) return error(404, 'NoSuchKey');
      const tags = [...body.toString('utf8').matchAll(/<Key>([^<]*)<\/Key>\s*<Value>([^<]*)<\/Value>/g)];
      current.tags = tags.map(([, k, v]) => `${k}=${v}`).join('&');
      return xml(200, '', { 'x-amz-version-id': current.versionId });
    }
    if (/^s3:GetObject(Version)?Tagging$/.test(action)) {
      if (!current) return error(404, 'NoSuchKey');
      const tags = [...new URLSearchParams(current.tags)]
        .map(([k, v]) => `<Tag><Key>${xmlEscape(k)}</Key><Value>${xmlEscape(v)}</Value></Tag>`)
        .join('');
      return xml(200, `<Tagging><TagSet>${tags}</TagSet></Tagging>`, {
        'x-amz-version-id': current.versionId,
      });
    }
    if (/^s3:GetObject(Version)?$/.test(action)) {
      if (!current) return error(404, 'NoSuchKey');
      call.status = 200;
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(current.body.length),
        etag: current.etag,
        'x-amz-version-id': current.versionId,
      });
      return res.end(method === 'HEAD' ? undefined : current.body);
    }
    return error(501, 'NotImplemented');
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    events,
    published,
    faults,
    objects,
    uploads,
    secrets,
    rds,
    route53,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => dynamo.close(() => resolve()));
    },
  };
}
