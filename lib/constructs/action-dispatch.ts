import { Duration, Lazy } from 'aws-cdk-lib';
import { EventBus, type IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { EventBus as EventBusTarget, LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { AnyPrincipal, Effect, type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { ActionKind } from '../../src/config/schema.ts';
import { ACTION_REQUESTED, EVENT_SOURCE } from '../../src/domain/actions.ts';

export interface ActionDispatchProps {
  /**
   * The function that carries out each kind of action; more can be added with `addTarget`.
   * @default - none yet: each capability adds its own with `addTarget`
   */
  readonly targets?: Readonly<Partial<Record<ActionKind, IFunction>>>;
  /** @default Duration.hours(6) - how long EventBridge keeps retrying a target */
  readonly maxEventAge?: Duration;
  /**
   * The bus's name, for another stack that builds its ARN (the DR failover function pages through it).
   * @default - a name CloudFormation generates
   */
  readonly busName?: string;
}

/**
 * The event bus that carries "Action Requested" events from ingest and the schedules to the action
 * functions: one rule per kind, each target with its own encrypted dead-letter queue.
 *
 * Its resource policy denies `events:PutEvents` with `events:source` = `responder` to every principal
 * but the roles given `grantActionRequests`: an action request means failover, rotation or a backup,
 * so anyone else in the account (who may put events on any bus) must not be able to forge one.
 */
export class ActionDispatch extends Construct {
  public readonly bus: EventBus;
  public readonly rules: Partial<Record<ActionKind, Rule>> = {};
  public readonly deadLetterQueues: Partial<Record<ActionKind, Queue>> = {};
  /** Role ARNs allowed to put "Action Requested" events (`source: responder`). */
  private readonly requesters: string[] = [];
  private readonly maxEventAge: Duration;

  constructor(scope: Construct, id: string, props: ActionDispatchProps = {}) {
    super(scope, id);
    this.maxEventAge = props.maxEventAge ?? Duration.hours(6);
    // Checked at synthesis, once every capability has had its turn to add its target.
    this.node.addValidation({
      validate: () =>
        Object.keys(this.rules).length === 0
          ? ['ActionDispatch needs at least one target function: call addTarget(kind, fn)']
          : [],
    });
    this.bus = new EventBus(this, 'Bus', {
      description: 'Responder action requests',
      eventBusName: props.busName,
    });
    this.bus.addToResourcePolicy(
      new PolicyStatement({
        sid: 'OnlyResponderRolesRequestActions',
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['events:PutEvents'],
        resources: [this.bus.eventBusArn],
        conditions: {
          StringEquals: { 'events:source': EVENT_SOURCE },
          // Resolved at synthesis, after every grantActionRequests call.
          ArnNotEquals: { 'aws:PrincipalArn': Lazy.list({ produce: () => this.requesters }) },
        },
      }),
    );
    for (const [kind, target] of Object.entries(props.targets ?? {}) as Array<[ActionKind, IFunction]>) {
      this.addTarget(kind, target);
    }
  }

  /** Routes the action requests of one kind to `target`, with a dead-letter queue of its own. */
  addTarget(kind: ActionKind, target: IFunction): Rule {
    if (this.rules[kind]) throw new Error(`ActionDispatch already routes '${kind}' requests to a function`);
    const dlq = new Queue(this, `${kind}DeadLetters`, {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const rule = new Rule(this, `${kind}Rule`, {
      eventBus: this.bus,
      description: `Action Requested (${kind}) -> the ${kind} function`,
      eventPattern: { source: [EVENT_SOURCE], detailType: [ACTION_REQUESTED], detail: { kind: [kind] } },
    });
    rule.addTarget(
      new LambdaFunction(target, { deadLetterQueue: dlq, retryAttempts: 8, maxEventAge: this.maxEventAge }),
    );
    this.rules[kind] = rule;
    this.deadLetterQueues[kind] = dlq;
    return rule;
  }

  /**
   * Forwards the action requests of one kind to a bus in another region (EventBridge delivers to
   * Lambda functions in the rule's region only; a bus in another region is a supported target). The
   * rule's role may put events on that bus only; undelivered events land in a dead-letter queue.
   */
  forward(kind: ActionKind, bus: IEventBus, role: IRole): Rule {
    if (this.rules[kind]) throw new Error(`ActionDispatch already routes '${kind}' requests`);
    const dlq = new Queue(this, `${kind}DeadLetters`, {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const rule = new Rule(this, `${kind}Rule`, {
      eventBus: this.bus,
      description: `Action Requested (${kind}) -> the ${kind} bus in another region`,
      eventPattern: { source: [EVENT_SOURCE], detailType: [ACTION_REQUESTED], detail: { kind: [kind] } },
    });
    rule.addTarget(new EventBusTarget(bus, { role, deadLetterQueue: dlq }));
    this.rules[kind] = rule;
    this.deadLetterQueues[kind] = dlq;
    return rule;
  }

  /**
   * An exception from the bus policy's deny of `source: responder` for a role of another stack, by
   * ARN (the DR failover function's, which pages through this bus); its identity policy, in its own
   * stack, allows the PutEvents.
   */
  allowActionRequestsFrom(roleArn: string): void {
    this.requesters.push(roleArn);
  }

  /**
   * Lets a role put action requests on the bus: `events:PutEvents` on it, and an exception from the
   * bus policy's deny of `source: responder`.
   */
  grantActionRequests(role: IRole): void {
    this.bus.grantPutEventsTo(role);
    this.requesters.push(role.roleArn);
  }

  /** `grantActionRequests` for a function's execution role. */
  grantActionRequestsTo(fn: IFunction): void {
    if (!fn.role) throw new Error(`${fn.node.path} has no execution role to allow action requests from`);
    this.grantActionRequests(fn.role);
  }
}
