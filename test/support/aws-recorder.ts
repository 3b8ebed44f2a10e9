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
  /** The ARN IAM checks: table (or `<table>/index/<name>`), topic, secret, bus, function. */
  readonly resource: string;
  /** DynamoDB: the partition key value(s) the request reaches (`dynamodb:LeadingKeys`). */
  readonly leadingKeys?: readonly string[];
  /** PutEvents: the entry's source and detail type. */
  readonly source?: string;
  readonly detailType?: string;
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
  readonly status: number;
  /** The error type in the JSON body (`__type`), or the query-protocol error code. */
  readonly type: string;
}

export interface SecretFixture {
  readonly arn: string;
  readonly value: string;
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
}

export interface PutEventEntry {
  readonly caller: string;
  readonly Source: string;
  readonly DetailType: string;
  readonly Detail: string;
  readonly EventBusName: string;
}

export interface AwsRecorder {
  readonly url: string;
  readonly calls: RecordedCall[];
  readonly events: PutEventEntry[];
  readonly published: URLSearchParams[];
  readonly faults: Fault[];
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

/** `Credential=AKID/20260101/eu-west-1/dynamodb/aws4_request` → access key id and region. */
function signer(req: IncomingMessage): { keyId: string; region: string } {
  const match = /Credential=([^/]+)\/\d+\/([^/]+)\//.exec(String(req.headers.authorization ?? ''));
  return { keyId: match?.[1] ?? 'unsigned', region: match?.[2] ?? 'unknown' };
}

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

/**
 * ONE loopback endpoint for every AWS API the functions call: DynamoDB is forwarded to a dynalite it
 * starts; Secrets Manager, EventBridge PutEvents, SNS Publish and Lambda Invoke are answered here.
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

  const faultFor = (call: RecordedCall) => {
    const fault = faults.find(
      (f) =>
        f.times > 0 &&
        f.caller === call.caller &&
        f.action === call.action &&
        (f.leadingKeyPrefix === undefined ||
          (call.leadingKeys ?? []).some((key) => key.startsWith(f.leadingKeyPrefix ?? ''))),
    );
    if (fault) fault.times -= 1;
    return fault;
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const { keyId, region } = signer(req);
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

      if (target === 'secretsmanager.GetSecretValue') {
        const { SecretId } = JSON.parse(body.toString('utf8')) as { SecretId: string };
        const secret = options.secrets[SecretId];
        const call = record({ action: 'secretsmanager:GetSecretValue', resource: secret?.arn ?? SecretId });
        if (!secret) {
          call.status = 400;
          json(400, { __type: 'ResourceNotFoundException', message: `no secret ${SecretId}` });
          return;
        }
        json(
          200,
          { ARN: secret.arn, Name: SecretId, SecretString: secret.value, VersionId: 'v1' },
          'application/x-amz-json-1.1',
        );
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

      const form = new URLSearchParams(body.toString('utf8'));
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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    events,
    published,
    faults,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => dynamo.close(() => resolve()));
    },
  };
}
