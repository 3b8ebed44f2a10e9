import type { IRole } from 'aws-cdk-lib/aws-iam';
import {
  ContextAttribute,
  Schedule,
  ScheduleExpression,
  ScheduleTargetInput,
} from 'aws-cdk-lib/aws-scheduler';
import { EventBridgePutEvents } from 'aws-cdk-lib/aws-scheduler-targets';
import type { Construct } from 'constructs';
import { ACTION_REQUESTED, type ActionKind, EVENT_SOURCE } from '../../src/domain/actions.ts';
import type { ActionDispatch } from './action-dispatch.ts';

/** When and as whom a capability's scheduled action requests are put on the bus. */
export interface ActionScheduleOptions {
  /** An EventBridge Scheduler expression: `rate(...)`, `cron(...)` or `at(...)`. */
  readonly expression: string;
  /**
   * The role EventBridge Scheduler assumes to put the requests on the bus; the stack allows it with
   * `ActionDispatch.grantActionRequests`, so one role (and one bus-policy exception) serves every schedule.
   */
  readonly role: IRole;
}

export interface ActionScheduleProps extends ActionScheduleOptions {
  readonly dispatch: ActionDispatch;
  readonly kind: ActionKind;
  /** What is scheduled, in the operator's words (`health probes`): the schedule's description. */
  readonly what: string;
  /** Whether the scheduled requests are dry runs (config `safety.dryRun`). */
  readonly dryRun: boolean;
  /**
   * What one of several schedules of a kind acts on (a database): part of each request's action id,
   * so two schedules firing at the same time never share one.
   * @default - none: one schedule of the kind
   */
  readonly subject?: string;
  /** @default { scheduled: true } */
  readonly params?: Readonly<Record<string, unknown>>;
}

/** An EventBridge Scheduler schedule that puts an "Action Requested" event for `kind` on the bus. */
export function actionSchedule(scope: Construct, id: string, props: ActionScheduleProps): Schedule {
  const { kind } = props;
  const idPrefix = props.subject ? `schedule-${kind}-${props.subject}` : `schedule-${kind}`;
  return new Schedule(scope, id, {
    description: `Responder: ${props.what}`,
    schedule: ScheduleExpression.expression(props.expression),
    target: new EventBridgePutEvents(
      {
        eventBus: props.dispatch.bus,
        source: EVENT_SOURCE,
        detailType: ACTION_REQUESTED,
        detail: ScheduleTargetInput.fromObject({
          actionId: `${idPrefix}-${ContextAttribute.scheduledTime}`,
          kind,
          trigger: 'schedule',
          requestedAt: ContextAttribute.scheduledTime,
          dryRun: props.dryRun,
          params: props.params ?? { scheduled: true },
        }),
      },
      { role: props.role },
    ),
  });
}
