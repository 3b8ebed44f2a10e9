import { join } from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ISecurityGroup, ISubnet, IVpc } from 'aws-cdk-lib/aws-ec2';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
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

export interface ResponderFunctionProps {
  /** Which folder under functions/ holds the handler. */
  readonly name: FunctionName;
  readonly config: ResponderConfig;
  readonly description: string;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  /** @default - none beyond the Powertools settings */
  readonly environment?: Record<string, string>;
  /** Runs the function in these subnets, e.g. to reach private databases. @default - not in a VPC */
  readonly network?: {
    readonly vpc: IVpc;
    readonly subnets: ISubnet[];
    readonly securityGroups: ISecurityGroup[];
  };
}

/**
 * One Responder Lambda: bundled locally by esbuild (no Docker), Node.js 24 on arm64, source maps,
 * X-Ray tracing, and its own log group with the configured retention.
 */
export class ResponderFunction extends Construct {
  public readonly function: NodejsFunction;
  public readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: ResponderFunctionProps) {
    super(scope, id);
    if (props.memorySize !== undefined && (props.memorySize < 128 || props.memorySize > 10240)) {
      throw new Error(`memorySize must be between 128 and 10240 MB, got ${props.memorySize}`);
    }
    this.logGroup = new LogGroup(this, 'Logs', {
      retention: retentionFor(props.config.logRetentionDays),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.function = new NodejsFunction(this, 'Function', {
      entry: join(ROOT, 'functions', props.name, 'handler.ts'),
      handler: 'handler',
      projectRoot: ROOT,
      depsLockFilePath: join(ROOT, 'package-lock.json'),
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      tracing: Tracing.ACTIVE,
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
  }
}
