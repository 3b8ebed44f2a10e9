import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { type ActionResult, type PerformAction, runActionRequest } from '../actions/run-action.ts';
import { bundledConfig } from '../config/bundled.ts';
import type { ActionKind } from '../config/schema.ts';
import { actionRequestSchema } from '../domain/actions.ts';
import { describeIssuePath } from '../issue-path.ts';
import { systemClock } from '../ports.ts';
import { stateStoreFromEnv } from './clients.ts';
import { powertools } from './powertools.ts';

/**
 * The Lambda entry point shared by the five action functions. It accepts the EventBridge envelope
 * ("Action Requested") or, for `aws lambda invoke` and the CLI, a bare action request.
 */
export function createActionHandler(kind: ActionKind, perform: PerformAction) {
  const config = bundledConfig();
  const { logger, tracer, metrics, log } = powertools(`responder-${kind}`);
  const deps = { config, store: stateStoreFromEnv(tracer), clock: systemClock, log };

  return middy<unknown, ActionResult>()
    .use(captureLambdaHandler(tracer))
    .use(injectLambdaContext(logger, { clearState: true }))
    .use(logMetrics(metrics))
    .handler(async (event) => {
      const detail = (event as { detail?: unknown })?.detail ?? event;
      const parsed = actionRequestSchema.safeParse(detail);
      if (!parsed.success) {
        // A malformed request will not improve with retries: log it and drop it.
        log.error('malformed action request dropped', {
          issues: parsed.error.issues.map((issue) => `${describeIssuePath(issue.path)}: ${issue.message}`),
        });
        metrics.addMetric('MalformedActionRequests', MetricUnit.Count, 1);
        return { status: 'skipped', reason: 'malformed request' };
      }
      const result = await runActionRequest(kind, parsed.data, perform, deps);
      metrics.addDimension('kind', kind);
      metrics.addMetric(`Action_${result.status}`, MetricUnit.Count, 1);
      return result;
    });
}
