import { Duration } from 'aws-cdk-lib';
import { EventBus, Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { ActionKind } from '../../src/config/schema.ts';
import { ACTION_REQUESTED, EVENT_SOURCE } from '../../src/domain/actions.ts';

export interface ActionDispatchProps {
  /** The function that carries out each kind of action. */
  readonly targets: Readonly<Partial<Record<ActionKind, IFunction>>>;
  /** @default Duration.hours(6) - how long EventBridge keeps retrying a target */
  readonly maxEventAge?: Duration;
}

/**
 * The event bus that carries "Action Requested" events from ingest and the schedules to the action
 * functions: one rule per kind, each target with its own encrypted dead-letter queue.
 */
export class ActionDispatch extends Construct {
  public readonly bus: EventBus;
  public readonly rules: Partial<Record<ActionKind, Rule>> = {};
  public readonly deadLetterQueues: Partial<Record<ActionKind, Queue>> = {};

  constructor(scope: Construct, id: string, props: ActionDispatchProps) {
    super(scope, id);
    const kinds = Object.keys(props.targets) as ActionKind[];
    if (kinds.length === 0) throw new Error('ActionDispatch needs at least one target function');
    this.bus = new EventBus(this, 'Bus', { description: 'Responder action requests' });
    for (const kind of kinds) {
      const target = props.targets[kind];
      if (!target) continue;
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
        new LambdaFunction(target, {
          deadLetterQueue: dlq,
          retryAttempts: 8,
          maxEventAge: props.maxEventAge ?? Duration.hours(6),
        }),
      );
      this.rules[kind] = rule;
      this.deadLetterQueues[kind] = dlq;
    }
  }
}
