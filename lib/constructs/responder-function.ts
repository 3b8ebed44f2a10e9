import { join } from 'node:path';
import { Duration, RemovalPolicy, type Size } from 'aws-cdk-lib';
import {
  type ISecurityGroup,
  type ISubnet,
  type IVpc,
  SecurityGroup,
  Subnet,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { ManagedPolicy, Policy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import {
  Architecture,
  type CfnFunction,
  type DockerImageCode,
  DockerImageFunction,
  type FunctionOptions,
  type Function as LambdaFunction,
  Runtime,
} from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { VpcPlacement } from '../../src/config/fields.ts';
import type { ResponderConfig } from '../../src/config/schema.ts';
import {
  configDefine,
  ESM_REQUIRE_BANNER,
  EXTERNAL_MODULES,
  type FunctionName,
  LAMBDA_NODE_TARGET,
} from '../bundling.ts';

const ROOT = join(import.meta.dirname, '..', '..');

const RETENTION: Record<ResponderConfig['logRetentionDays'], RetentionDays> = {
  7: RetentionDays.ONE_WEEK,
  14: RetentionDays.TWO_WEEKS,
  30: RetentionDays.ONE_MONTH,
  90: RetentionDays.THREE_MONTHS,
  180: RetentionDays.SIX_MONTHS,
  365: RetentionDays.ONE_YEAR,
};

/** The log retention for the config's `logRetentionDays`. */
export const retentionFor = (days: ResponderConfig['logRetentionDays']): RetentionDays => RETENTION[days];

/** The config's reserved concurrency for a function, or none when `lambda.reserveConcurrency` is false. */
export function reservedConcurrencyOf(
  config: ResponderConfig,
  name: keyof ResponderConfig['lambda']['reservedConcurrency'],
): number | undefined {
  return config.lambda.reserveConcurrency ? config.lambda.reservedConcurrency[name] : undefined;
}

export interface ResponderFunctionProps {
  /** Which folder under functions/ holds the handler. */
  readonly name: FunctionName;
  readonly config: ResponderConfig;
  readonly description: string;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  /**
   * Executions reserved for this function, which are also its cap: a flood of one trigger can neither
   * take the account's concurrency from the others nor be starved by them.
   * @default - none: the function shares the account's unreserved concurrency
   */
  readonly reservedConcurrentExecutions?: number;
  /** @default - none beyond the Powertools settings */
  readonly environment?: Record<string, string>;
  /**
   * Runs this container image (its own Node.js, e.g. with pg_dump beside it) instead of the esbuild
   * bundle of `functions/<name>/handler.ts` on the managed runtime.
   * @default - the esbuild bundle on Node.js 24
   */
  readonly image?: DockerImageCode;
  /** @default - Lambda's default 512 MiB of /tmp */
  readonly ephemeralStorageSize?: Size;
  /** Runs the function in these subnets, e.g. to reach private databases. @default - not in a VPC */
  readonly network?: {
    readonly vpc: IVpc;
    readonly subnets: ISubnet[];
    readonly securityGroups: ISecurityGroup[];
  };
}

/**
 * A config's VPC placement (`probes.vpc`, `backups.vpc`, `secrets.vpc`) as a function's network: the
 * VPC, subnets and security groups imported without lookups, so synthesis stays offline.
 */
export function importedNetwork(
  scope: Construct,
  placement: VpcPlacement | undefined,
): ResponderFunctionProps['network'] {
  if (!placement) return undefined;
  return {
    vpc: Vpc.fromVpcAttributes(scope, 'Vpc', {
      vpcId: placement.vpcId,
      availabilityZones: placement.availabilityZones,
      privateSubnetIds: placement.privateSubnetIds,
    }),
    subnets: placement.privateSubnetIds.map((id) => Subnet.fromSubnetId(scope, `Subnet-${id}`, id)),
    securityGroups: placement.securityGroupIds.map((id) =>
      SecurityGroup.fromSecurityGroupId(scope, `Sg-${id}`, id),
    ),
  };
}

/**
 * One Responder Lambda: bundled locally by esbuild (no Docker), Node.js 24 on arm64, source maps,
 * X-Ray tracing, and its own log group with the configured retention. With `image`, the same on arm64
 * from a container image instead (the backup function, which needs pg_dump beside Node.js).
 *
 * Its role may write to that log group only (not AWSLambdaBasicExecutionRole, which allows every log
 * group); X-Ray's two actions, which take no resource, sit in a policy of their own (`tracingPolicy`)
 * so an acknowledgement of their `*` covers nothing else.
 */
export class ResponderFunction extends Construct {
  /** A `NodejsFunction`, or a `DockerImageFunction` with `image`. */
  public readonly function: LambdaFunction;
  public readonly logGroup: LogGroup;
  /** The execution role; grants to the function land in its default policy. */
  public readonly role: Role;
  /** `xray:PutTraceSegments` and `xray:PutTelemetryRecords` on `*`, alone. */
  public readonly tracingPolicy: Policy;

  constructor(scope: Construct, id: string, props: ResponderFunctionProps) {
    super(scope, id);
    if (props.memorySize !== undefined && (props.memorySize < 128 || props.memorySize > 10240)) {
      throw new Error(`memorySize must be between 128 and 10240 MB, got ${props.memorySize}`);
    }
    const reserved = props.reservedConcurrentExecutions;
    if (reserved !== undefined && (!Number.isInteger(reserved) || reserved < 1)) {
      throw new Error(
        `reservedConcurrentExecutions must be a whole number of at least 1 (0 stops the function), got ${reserved}`,
      );
    }
    this.logGroup = new LogGroup(this, 'Logs', {
      retention: retentionFor(props.config.logRetentionDays),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.role = new Role(this, 'ServiceRole', {
      description: `Responder ${props.name} function`,
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    });
    this.logGroup.grantWrite(this.role);
    if (props.network) {
      // Lambda creates and removes the function's network interfaces with these permissions.
      this.role.addManagedPolicy(
        ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole'),
      );
    }
    this.tracingPolicy = new Policy(this, 'Tracing', {
      roles: [this.role],
      statements: [
        new PolicyStatement({
          actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
          resources: ['*'],
        }),
      ],
    });
    const options: FunctionOptions = {
      role: this.role,
      description: props.description,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      ephemeralStorageSize: props.ephemeralStorageSize,
      reservedConcurrentExecutions: reserved,
      logGroup: this.logGroup,
      vpc: props.network?.vpc,
      vpcSubnets: props.network ? { subnets: props.network.subnets } : undefined,
      securityGroups: props.network?.securityGroups,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: `responder-${props.name}`,
        POWERTOOLS_METRICS_NAMESPACE: 'Responder',
        POWERTOOLS_LOG_LEVEL: 'INFO',
        RESPONDER_SERVICE: props.config.service,
        ...props.environment,
      },
    };
    this.function = props.image
      ? new DockerImageFunction(this, 'Function', { ...options, code: props.image })
      : new NodejsFunction(this, 'Function', {
          ...options,
          entry: join(ROOT, 'functions', props.name, 'handler.ts'),
          handler: 'handler',
          projectRoot: ROOT,
          depsLockFilePath: join(ROOT, 'package-lock.json'),
          runtime: Runtime.NODEJS_24_X,
          bundling: {
            forceDockerBundling: false,
            format: OutputFormat.ESM,
            target: LAMBDA_NODE_TARGET,
            minify: true,
            sourceMap: true,
            sourcesContent: false,
            mainFields: ['module', 'main'],
            banner: ESM_REQUIRE_BANNER,
            externalModules: EXTERNAL_MODULES,
            define: configDefine(props.config),
          },
        });
    // Active tracing set on the resource: the `tracing` prop would put X-Ray's statement into the
    // role's default policy, next to the grants (see `tracingPolicy`).
    (this.function.node.defaultChild as CfnFunction).tracingConfig = { mode: 'Active' };
    this.function.node.addDependency(this.tracingPolicy);
  }
}
