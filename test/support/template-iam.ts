/**
 * Reads a synthesized CloudFormation template the way IAM will see the deployed stack: intrinsics
 * resolved to the concrete names and ARNs CloudFormation would give each resource (derived from its
 * logical id), each function's environment and role statements, and a policy evaluator for the calls
 * the functions are recorded making.
 */

export const ACCOUNT = '123456789012';
/** The UUID at the end of every resolved `AWS::StackId`. */
export const STACK_UUID = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';

type Json = unknown;
interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, Json>;
}
export interface TemplateJson {
  readonly Resources: Record<string, Resource>;
}

export interface Statement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | string[];
  readonly NotAction?: unknown;
  readonly Resource?: string | string[];
  readonly NotResource?: unknown;
  readonly Principal?: unknown;
  readonly NotPrincipal?: unknown;
  readonly Condition?: Record<string, Record<string, string | string[]>>;
  readonly Sid?: string;
}

/** A template whose intrinsics resolve to one region's concrete names. */
export class ResolvedTemplate {
  constructor(
    readonly template: TemplateJson,
    readonly region: string,
    /** Prefix of every physical name, so two stacks' resources never share a name. */
    readonly prefix: string,
  ) {}

  private resource(logicalId: string): Resource {
    const resource = this.template.Resources[logicalId];
    if (!resource) throw new Error(`no resource ${logicalId} in the template`);
    return resource;
  }

  /**
   * The physical name (or id) CloudFormation would give a resource: the name the template gives a
   * function, else one that carries the logical id.
   */
  nameOf(logicalId: string): string {
    const named = this.template.Resources[logicalId]?.Properties?.FunctionName;
    return typeof named === 'string' ? named : `${this.prefix}-${logicalId}`;
  }

  /** `{ Ref }` as CloudFormation answers it, per resource type. */
  ref(logicalId: string): string {
    const pseudo: Record<string, string> = {
      'AWS::Partition': 'aws',
      'AWS::Region': this.region,
      'AWS::AccountId': ACCOUNT,
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::StackName': this.prefix,
      // CloudFormation's stack id ends in a UUID it generates once.
      'AWS::StackId': `arn:aws:cloudformation:${this.region}:${ACCOUNT}:stack/${this.prefix}/${STACK_UUID}`,
    };
    const value = pseudo[logicalId];
    if (value) return value;
    const type = this.resource(logicalId).Type;
    switch (type) {
      case 'AWS::SNS::Topic':
      case 'AWS::SecretsManager::Secret':
        return this.getAtt(logicalId, 'Arn');
      case 'AWS::SQS::Queue':
        return `https://sqs.${this.region}.amazonaws.com/${ACCOUNT}/${this.nameOf(logicalId)}`;
      case 'AWS::ECS::TaskDefinition':
        return this.getAtt(logicalId, 'TaskDefinitionArn');
      case 'AWS::S3::Bucket':
        return this.nameOf(logicalId).toLowerCase();
      default:
        return this.nameOf(logicalId);
    }
  }

  /** `{ Fn::GetAtt }` for the attributes the stacks use. */
  getAtt(logicalId: string, attribute: string): string {
    const type = this.resource(logicalId).Type;
    const name = this.nameOf(logicalId);
    const arn = (service: string, rest: string, region = this.region) =>
      `arn:aws:${service}:${region}:${ACCOUNT}:${rest}`;
    const attributes: Record<string, Record<string, string>> = {
      'AWS::DynamoDB::Table': { Arn: arn('dynamodb', `table/${name}`) },
      'AWS::SNS::Topic': { Arn: arn('sns', name), TopicArn: arn('sns', name), TopicName: name },
      'AWS::SecretsManager::Secret': { Arn: arn('secretsmanager', `secret:${name}-AbCdEf`) },
      'AWS::Events::EventBus': { Arn: arn('events', `event-bus/${name}`), Name: name },
      'AWS::Lambda::Function': { Arn: arn('lambda', `function:${name}`) },
      'AWS::KMS::Key': { Arn: arn('kms', `key/${name}`), KeyId: name },
      'AWS::IAM::Role': { Arn: `arn:aws:iam::${ACCOUNT}:role/${name}`, RoleId: `AROA${name}` },
      'AWS::Logs::LogGroup': { Arn: arn('logs', `log-group:${name}:*`) },
      'AWS::SQS::Queue': { Arn: arn('sqs', name), QueueName: name },
      'AWS::ApiGatewayV2::Api': { ApiEndpoint: `https://${name}.execute-api.${this.region}.amazonaws.com` },
      'AWS::Events::Rule': { Arn: arn('events', `rule/${name}`) },
      'AWS::Scheduler::Schedule': { Arn: arn('scheduler', `schedule/default/${name}`) },
      // S3 ARNs carry neither region nor account; bucket names are lower case.
      'AWS::S3::Bucket': { Arn: `arn:aws:s3:::${name.toLowerCase()}` },
      'AWS::ECS::Cluster': { Arn: arn('ecs', `cluster/${name}`) },
      'AWS::ECS::TaskDefinition': { TaskDefinitionArn: arn('ecs', `task-definition/${name}:1`) },
      'AWS::Lambda::Url': {
        FunctionUrl: `https://${name.toLowerCase()}.lambda-url.${this.region}.on.aws/`,
        FunctionArn: arn('lambda', `function:${name}`),
      },
      'AWS::Route53::HealthCheck': { HealthCheckId: `hc-${name}` },
    };
    const value = attributes[type]?.[attribute];
    if (!value) throw new Error(`teach ResolvedTemplate.getAtt ${type}.${attribute} (${logicalId})`);
    return value;
  }

  /** Resolves Ref, Fn::GetAtt, Fn::Join, Fn::Select and Fn::Split anywhere in a value. */
  resolve(value: Json): Json {
    if (Array.isArray(value)) return value.map((item) => this.resolve(item));
    if (!value || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, Json>);
    const [first] = entries;
    if (entries.length === 1 && first) {
      const [fn, args] = first;
      if (fn === 'Ref') return this.ref(String(args));
      if (fn === 'Fn::GetAtt') {
        const [id, attribute] = Array.isArray(args) ? args : String(args).split('.');
        return this.getAtt(String(id), String(attribute));
      }
      if (fn === 'Fn::Join') {
        const [separator, parts] = args as [string, Json[]];
        return parts.map((part) => String(this.resolve(part))).join(separator);
      }
      if (fn === 'Fn::Select') {
        const [index, list] = args as [number | string, Json];
        return (this.resolve(list) as Json[])[Number(index)];
      }
      if (fn === 'Fn::Split') {
        const [separator, source] = args as [string, Json];
        return String(this.resolve(source)).split(separator);
      }
      if (fn === 'Fn::Sub' && typeof args === 'string') {
        // `${Name}` is a Ref (or pseudo parameter), `${Name.Attribute}` a GetAtt.
        return args.replace(/\$\{([^}.]+)(?:\.([^}]+))?\}/g, (_, id: string, attribute?: string) =>
          attribute ? this.getAtt(id, attribute) : this.ref(id),
        );
      }
      if (fn.startsWith('Fn::')) throw new Error(`teach ResolvedTemplate.resolve ${fn}`);
    }
    return Object.fromEntries(entries.map(([key, item]) => [key, this.resolve(item)]));
  }

  /** Logical ids of the resources of one type. */
  idsOf(type: string): string[] {
    return Object.entries(this.template.Resources)
      .filter(([, resource]) => resource.Type === type)
      .map(([id]) => id);
  }

  properties(logicalId: string): Record<string, Json> {
    return this.resource(logicalId).Properties ?? {};
  }
}

/** AWS managed policies the stacks may attach, as the statements they hold (the parts that matter here). */
const MANAGED_POLICIES: Record<string, Statement[]> = {
  'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole': [
    {
      Effect: 'Allow',
      Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: '*',
    },
  ],
  'arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole': [
    {
      Effect: 'Allow',
      Action: [
        'logs:CreateLogGroup',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'ec2:CreateNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeSubnets',
        'ec2:DeleteNetworkInterface',
        'ec2:AssignPrivateIpAddresses',
        'ec2:UnassignPrivateIpAddresses',
      ],
      Resource: '*',
    },
  ],
};

export interface DeployedFunction {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly region: string;
  readonly roleArn: string;
  readonly environment: Record<string, string>;
  /** Every statement of the role's identity policies: attached AWS::IAM::Policy, inline and managed. */
  readonly statements: Statement[];
}

/** Every Lambda function of a template, with its resolved environment and its role's statements. */
export function functionsOf(resolved: ResolvedTemplate): DeployedFunction[] {
  return resolved.idsOf('AWS::Lambda::Function').map((logicalId) => {
    const props = resolved.properties(logicalId);
    const roleRef = props.Role as { 'Fn::GetAtt': [string, string] };
    const roleId = roleRef['Fn::GetAtt'][0];
    const role = resolved.properties(roleId);
    const attached = resolved
      .idsOf('AWS::IAM::Policy')
      .filter((id) =>
        ((resolved.properties(id).Roles as Array<{ Ref: string }>) ?? []).some((r) => r.Ref === roleId),
      )
      .flatMap((id) => documentStatements(resolved.resolve(resolved.properties(id).PolicyDocument)));
    const inline = ((role.Policies as Array<{ PolicyDocument: Json }>) ?? []).flatMap((policy) =>
      documentStatements(resolved.resolve(policy.PolicyDocument)),
    );
    const managed = ((resolved.resolve(role.ManagedPolicyArns ?? []) as string[]) ?? []).flatMap((arn) => {
      const statements = MANAGED_POLICIES[arn];
      if (!statements) throw new Error(`teach template-iam the managed policy ${arn}`);
      return statements;
    });
    const environment = resolved.resolve(
      (props.Environment as { Variables?: Json } | undefined)?.Variables ?? {},
    ) as Record<string, string>;
    return {
      logicalId,
      name: resolved.ref(logicalId),
      arn: resolved.getAtt(logicalId, 'Arn'),
      region: resolved.region,
      roleArn: resolved.getAtt(roleId, 'Arn'),
      environment,
      statements: [...attached, ...inline, ...managed],
    };
  });
}

function documentStatements(document: Json): Statement[] {
  const statements = (document as { Statement?: Statement | Statement[] }).Statement ?? [];
  return Array.isArray(statements) ? statements : [statements];
}

/** Resource-policy statements of the event buses (AWS::Events::EventBusPolicy and the bus's own Policy). */
export function busPolicyStatements(resolved: ResolvedTemplate): Statement[] {
  const standalone = resolved.idsOf('AWS::Events::EventBusPolicy').flatMap((id) => {
    const props = resolved.resolve(resolved.properties(id)) as { Statement?: Statement; Policy?: Json };
    return props.Statement ? [props.Statement] : props.Policy ? documentStatements(props.Policy) : [];
  });
  const inline = resolved.idsOf('AWS::Events::EventBus').flatMap((id) => {
    const policy = resolved.properties(id).Policy;
    return policy ? documentStatements(resolved.resolve(policy)) : [];
  });
  return [...standalone, ...inline];
}

/** One request a function sent, as IAM authorizes it. */
export interface AuthorizedCall {
  /** `dynamodb:Query`, `sns:Publish`, ... */
  readonly action: string;
  readonly resource: string;
  /** The request's condition keys: `dynamodb:LeadingKeys`, `events:source`, `aws:PrincipalArn`, ... */
  readonly context: Readonly<Record<string, readonly string[]>>;
}

const asList = (value: string | string[] | undefined): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** IAM's `*` and `?` wildcards (actions are case-insensitive, resources and values are not). */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`, ignoreCase ? 'i' : '').test(value);
}

const CONDITION_OPERATORS: Record<string, (pattern: string, value: string) => boolean> = {
  StringEquals: (pattern, value) => pattern === value,
  StringLike: (pattern, value) => wildcardMatch(pattern, value),
  ArnEquals: (pattern, value) => pattern === value,
  ArnLike: (pattern, value) => wildcardMatch(pattern, value),
};

/**
 * One condition operator on one key, as IAM evaluates it: plain operators need the single value to
 * match one of the patterns; `ForAllValues:` needs every value to (and holds when the key is absent);
 * `ForAnyValue:` needs one; `Not` inverts the plain form; `IfExists` holds when the key is absent.
 */
function conditionHolds(
  operator: string,
  patterns: string[],
  values: readonly string[] | undefined,
): boolean {
  let rest = operator;
  let quantifier: 'all' | 'any' | 'single' = 'single';
  if (rest.startsWith('ForAllValues:')) {
    quantifier = 'all';
    rest = rest.slice('ForAllValues:'.length);
  } else if (rest.startsWith('ForAnyValue:')) {
    quantifier = 'any';
    rest = rest.slice('ForAnyValue:'.length);
  }
  const ifExists = rest.endsWith('IfExists');
  if (ifExists) rest = rest.slice(0, -'IfExists'.length);
  const negated = /^(String|Arn)Not/.test(rest);
  const base = negated ? rest.replace('Not', '') : rest;
  const compare = CONDITION_OPERATORS[base];
  if (!compare) throw new Error(`teach template-iam the condition operator ${operator}`);
  const matchesOne = (value: string) => patterns.some((pattern) => compare(pattern, value));
  if (quantifier === 'all') return (values ?? []).every(matchesOne);
  if (!values || values.length === 0) return ifExists || negated;
  if (quantifier === 'any') return values.some(matchesOne);
  const [value] = values;
  if (value === undefined) return ifExists;
  return negated ? !matchesOne(value) : matchesOne(value);
}

/** The condition keys this evaluator knows the request context of; any other fails loudly. */
const KNOWN_CONDITION_KEYS = new Set([
  'dynamodb:LeadingKeys',
  'events:source',
  'events:detail-type',
  'aws:PrincipalArn',
  'ecs:cluster',
  'iam:PassedToService',
  'route53:ChangeResourceRecordSetsNormalizedRecordNames',
  'route53:ChangeResourceRecordSetsRecordTypes',
  'route53:ChangeResourceRecordSetsActions',
]);

export function statementMatches(statement: Statement, call: AuthorizedCall): boolean {
  if (statement.NotAction !== undefined || statement.NotResource !== undefined) {
    throw new Error('teach template-iam NotAction/NotResource');
  }
  if (!asList(statement.Action).some((action) => wildcardMatch(action, call.action, true))) return false;
  if (!asList(statement.Resource).some((resource) => wildcardMatch(resource, call.resource))) return false;
  for (const [operator, keys] of Object.entries(statement.Condition ?? {})) {
    for (const [key, patterns] of Object.entries(keys)) {
      if (!KNOWN_CONDITION_KEYS.has(key)) throw new Error(`teach template-iam the condition key ${key}`);
      if (!conditionHolds(operator, asList(patterns), call.context[key])) return false;
    }
  }
  return true;
}

/**
 * IAM's answer for a call: denied by any matching Deny (identity or resource policy), else allowed by a
 * matching Allow in the identity policy. (Same-account resource policies here only deny.)
 */
export function decide(
  identity: readonly Statement[],
  resourcePolicy: readonly Statement[],
  call: AuthorizedCall,
): 'allowed' | 'implicitly denied' | 'explicitly denied' {
  const principal = call.context['aws:PrincipalArn']?.[0] ?? '';
  const applies = (statement: Statement) => {
    const named = statement.Principal;
    if (named === '*') return true;
    const aws = asList((named as { AWS?: string | string[] } | undefined)?.AWS);
    return aws.some((arn) => arn === '*' || arn === principal || arn === `arn:aws:iam::${ACCOUNT}:root`);
  };
  const denies = [...identity, ...resourcePolicy.filter(applies)].filter((s) => s.Effect === 'Deny');
  if (denies.some((statement) => statementMatches(statement, call))) return 'explicitly denied';
  const allowed = identity.some((s) => s.Effect === 'Allow' && statementMatches(s, call));
  return allowed ? 'allowed' : 'implicitly denied';
}
