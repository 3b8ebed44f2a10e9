import { Duration, Stack } from 'aws-cdk-lib';
import { Policy, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { CfnPermission } from 'aws-cdk-lib/aws-lambda';
import { CfnRotationSchedule, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { OWN_SECRET_ENV } from '../../src/config/own-secrets.ts';
import type { RotationConfig } from '../../src/config/rotations.ts';
import type { ResponderConfig } from '../../src/config/schema.ts';
import { grantSecretValue } from '../grants.ts';
import { acknowledgeTracing, acknowledgeVpcAccess } from '../nag.ts';
import { importSecret } from '../secrets.ts';
import type { ActionDispatch } from './action-dispatch.ts';
import { importedNetwork, ResponderFunction, reservedConcurrencyOf } from './responder-function.ts';
import type { StateTable } from './state-table.ts';

/**
 * What the rotate function calls on each secret it rotates: the four steps (DescribeSecret,
 * GetSecretValue by stage and by version id, PutSecretValue of AWSPENDING, UpdateSecretVersionStage)
 * and RotateSecret for on-demand rotations. No `GetRandomPassword`: the function generates values itself.
 */
export const ROTATION_SECRET_ACTIONS = [
  'secretsmanager:DescribeSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:PutSecretValue',
  'secretsmanager:UpdateSecretVersionStage',
  'secretsmanager:RotateSecret',
] as const;

/** The service that invokes a rotation function. */
export const SECRETS_MANAGER_PRINCIPAL = 'secretsmanager.amazonaws.com';

/** Responder's own secrets the stack created, which rotate on `secrets.own`. */
export interface OwnSecrets {
  /** The webhook and API credential `{"token","username"}`: its `token` rotates. @default - not rotated here */
  readonly webhookCredential?: ISecret;
  /** The ack-link HMAC key `{"key"}`: its `key` rotates. @default - not rotated here */
  readonly ackSigningKey?: ISecret;
}

export interface SecretRotationProps {
  /** The validated config: `secrets` (rotations, VPC, own schedule), the Lambda settings. */
  readonly config: ResponderConfig;
  /** Where claims, the audit trail, the kill switch and the rotation incidents live. */
  readonly state: StateTable;
  /** The bus that brings `rotate` requests and takes the escalations a failed rotation requests. */
  readonly dispatch: ActionDispatch;
  /**
   * Responder's own secrets to rotate on `secrets.own` as `generated` rotations. Pass only secrets
   * the stack creates: one the config names is the operator's, rotated (or not) through `secrets.rotations`.
   * @default - none
   */
  readonly ownSecrets?: OwnSecrets;
}

/** One rotated secret: how it is rotated, its schedule and Secrets Manager's permission to invoke. */
export interface RotatedSecret {
  readonly secret: ISecret;
  /** The config reference (`secrets.rotations[].secret`), or `own:webhookCredential` / `own:ackSigningKey`. */
  readonly ref: string;
  readonly schedule: CfnRotationSchedule;
  readonly permission: CfnPermission;
}

/**
 * Secret rotation: the rotate function (in `secrets.vpc`'s private subnets when the config names one),
 * its `rotate` rule on the bus, and for each configured secret (and Responder's own) a Secrets Manager
 * rotation schedule (`ScheduleExpression` and `Duration` window) with the function as its rotation
 * Lambda, and an invoke permission for Secrets Manager limited to this account and that secret.
 *
 * Its role may run the rotation calls on exactly the rotated secrets, read (only) the master and admin
 * secrets the strategies log in with, keep its claims, the audit trail and the rotation incidents, read
 * the kill switch, and request the escalation a failed rotation opens.
 */
export class SecretRotation extends Construct {
  /** The rotate function. Its id is `Default`, so its resources keep the logical ids of this construct's id. */
  public readonly handler: ResponderFunction;
  /** Each rotated secret, in config order, then Responder's own. */
  public readonly rotated: readonly RotatedSecret[];
  /** The secrets the strategies only read (`masterSecret`, `adminSecret`), by config reference. */
  public readonly readOnlySecrets: Readonly<Record<string, ISecret>>;
  /** OWN_WEBHOOK_SECRET_ARN / OWN_ACK_SECRET_ARN for the own secrets this stack rotates (the API gets them too). */
  public readonly ownSecretEnvironment: Readonly<Record<string, string>>;
  /** `lambda:InvokeFunction` on the function itself, for RotateSecret (undefined with nothing to rotate). */
  public readonly startRotationPolicy?: Policy;

  constructor(scope: Construct, id: string, props: SecretRotationProps) {
    super(scope, id);
    const { config, state, dispatch } = props;
    const own = props.ownSecrets ?? {};
    validate(config);
    const network = importedNetwork(this, config.secrets.vpc);
    const environment: Record<string, string> = {
      STATE_TABLE_NAME: state.table.tableName,
      EVENT_BUS_NAME: dispatch.bus.eventBusName,
    };
    const ownEnvironment: Record<string, string> = {};
    for (const [which, secret] of Object.entries(own) as Array<[keyof OwnSecrets, ISecret | undefined]>) {
      if (secret) ownEnvironment[OWN_SECRET_ENV[which]] = secret.secretArn;
    }
    this.ownSecretEnvironment = ownEnvironment;
    Object.assign(environment, ownEnvironment);
    this.handler = new ResponderFunction(this, 'Default', {
      name: 'rotate',
      config,
      description: 'Responder: secret rotation (Secrets Manager rotation function)',
      timeout: Duration.minutes(5),
      environment,
      network,
      reservedConcurrentExecutions: reservedConcurrencyOf(config, 'rotate'),
    });
    const fn = this.handler.function;
    dispatch.addTarget('rotate', fn);
    state.grantActionIdempotency(fn);
    state.grantAudit(fn, 'append');
    // Every remediation obeys the automation kill switch.
    state.grantAutomationFlag(fn, 'read');
    // A failed rotation opens an incident, which requests its escalation on the bus.
    state.grantIncidents(fn, 'record');
    dispatch.grantActionRequestsTo(fn);

    const rules = (rotation: Pick<RotationConfig, 'schedule' | 'window'>) => ({
      scheduleExpression: rotation.schedule,
      duration: rotation.window,
    });
    const rotated: RotatedSecret[] = [];
    config.secrets.rotations.forEach((rotation, index) => {
      const secret = importSecret(this, `Secret${index}`, rotation.secret);
      rotated.push(this.rotate(`Rotation${index}`, secret, rotation.secret, rules(rotation)));
    });
    const ownRules = rules(config.secrets.own);
    if (own.webhookCredential) {
      rotated.push(
        this.rotate('OwnWebhookCredential', own.webhookCredential, 'own:webhookCredential', ownRules),
      );
    }
    if (own.ackSigningKey) {
      rotated.push(this.rotate('OwnAckSigningKey', own.ackSigningKey, 'own:ackSigningKey', ownRules));
    }
    this.rotated = rotated;

    if (rotated.length > 0) {
      fn.addToRolePolicy(
        new PolicyStatement({
          actions: [...ROTATION_SECRET_ACTIONS],
          resources: rotated.map(({ secret }) => secretArnPattern(secret)),
        }),
      );
      // Secrets Manager also requires `lambda:InvokeFunction` on the rotation function from whoever
      // calls RotateSecret (the on-demand rotation). A policy of its own, which the function does not
      // depend on: in its default policy, the function's ARN would make a dependency cycle.
      this.startRotationPolicy = new Policy(this, 'StartRotation', {
        roles: [this.handler.role],
        statements: [
          new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [fn.functionArn] }),
        ],
      });
    }
    // The strategies log in with these (ALTER ROLE, ACL SETUSER): read, never written.
    const readOnly: Record<string, ISecret> = {};
    readOnlySecretIds(config).forEach((ref, index) => {
      const secret = importSecret(this, `ReadSecret${index}`, ref);
      grantSecretValue(secret, fn);
      readOnly[ref] = secret;
    });
    this.readOnlySecrets = readOnly;
    // Secrets imported by name or ARN carry no customer-managed key here, and the stack's own secrets
    // use Secrets Manager's default key: neither needs a KMS grant. A secret with a key of its own
    // (`encryptionKey`) gets Decrypt and Encrypt on it (below), for reading and PutSecretValue.
    for (const { secret } of rotated) secret.encryptionKey?.grantEncryptDecrypt(fn);

    acknowledgeTracing(this.handler);
    if (network) acknowledgeVpcAccess(this.handler, 'the rotate function');
  }

  /** The rotation schedule of one secret, and Secrets Manager's permission to invoke for it. */
  private rotate(
    id: string,
    secret: ISecret,
    ref: string,
    rotationRules: CfnRotationSchedule.RotationRulesProperty,
  ): RotatedSecret {
    const fn = this.handler.function;
    // Secrets Manager invokes with this account and the secret's ARN as the source: the permission
    // names both, so no other account's secret and no other secret of this one can use the function.
    fn.addPermission(`Invoke${id}`, {
      scope: this,
      principal: new ServicePrincipal(SECRETS_MANAGER_PRINCIPAL),
      action: 'lambda:InvokeFunction',
      sourceAccount: Stack.of(this).account,
      sourceArn: secretArnPattern(secret),
    });
    const permission = this.node.findChild(`Invoke${id}`) as CfnPermission;
    const schedule = new CfnRotationSchedule(this, id, {
      secretId: secret.secretFullArn ?? secret.secretName,
      rotationLambdaArn: fn.functionArn,
      rotationRules,
      // A deploy never rotates: the first rotation runs in the first window (or on demand).
      rotateImmediatelyOnUpdate: false,
    });
    // Secrets Manager checks that it may invoke the function when the schedule is set.
    schedule.addDependency(permission);
    return { secret, ref, schedule, permission };
  }
}

/** A secret's ARN for IAM: the full ARN, or the partial one with Secrets Manager's six-character suffix. */
function secretArnPattern(secret: ISecret): string {
  return secret.secretFullArn ?? `${secret.secretArn}-??????`;
}

/** The master and admin secrets the strategies read, other than the rotated ones. */
export function readOnlySecretIds(config: ResponderConfig): string[] {
  const rotated = new Set(config.secrets.rotations.map((rotation) => rotation.secret));
  const ids = new Set<string>();
  for (const rotation of config.secrets.rotations) {
    const reader =
      rotation.strategy === 'postgres-alternating-users'
        ? rotation.masterSecret
        : rotation.strategy === 'redis-acl'
          ? rotation.adminSecret
          : undefined;
    if (reader && !rotated.has(reader)) ids.add(reader);
  }
  return [...ids];
}

/** The construct's constraints the schema cannot see. */
function validate(config: ResponderConfig) {
  for (const rotation of config.secrets.rotations) {
    if (rotation.strategy === 'postgres-alternating-users' && rotation.masterSecret === rotation.secret) {
      throw new Error(
        `SecretRotation: '${rotation.secret}' names itself as masterSecret; alternating users need a separate user allowed to ALTER ROLE`,
      );
    }
  }
}
