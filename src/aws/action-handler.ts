import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import middy from '@middy/core';
import type { ActionEnvironment, CapabilityFactory } from '../actions/environment.ts';
import { type ActionResult, runActionRequest } from '../actions/run-action.ts';
import { dynamoDbActionIdempotency } from '../adapters/dynamodb-action-idempotency.ts';
import { DynamoDbBackupCatalog } from '../adapters/dynamodb-backup-catalog.ts';
import { dynamoDbStateStore } from '../adapters/dynamodb-state-store.ts';
import { EventBridgeDispatcher } from '../adapters/eventbridge-dispatcher.ts';
import { StateTable } from '../adapters/state-table.ts';
import { bundledConfig } from '../config/bundled.ts';
import type { ActionKind } from '../config/schema.ts';
import { actionRequestSchema } from '../domain/actions.ts';
import { describeIssuePath } from '../domain/issue-path.ts';
import type { Escalator } from '../escalation/escalator.ts';
import { type ActionDispatcher, type ProbeMetrics, systemClock } from '../ports.ts';
import { secretStore, stateTableFromEnv } from './clients.ts';
import type { EscalatorDeps } from './escalator.ts';
import { metricsFor, powertools } from './powertools.ts';

/** Per-target latency and up/down as CloudWatch embedded metrics, one metric set per target. */
function probeMetricsOf(metrics: Metrics): ProbeMetrics {
  return {
    publish(results) {
      for (const result of results) {
        const single = metrics.singleMetric();
        single.addDimensions({ target: result.target, kind: result.kind });
        single.addMetric('ProbeLatency', MetricUnit.Milliseconds, result.latencyMs);
        single.addMetric('ProbeUp', MetricUnit.Count, result.ok ? 1 : 0);
        if (typeof result.observed.daysToExpiry === 'number') {
          single.addMetric('CertificateDaysToExpiry', MetricUnit.Count, result.observed.daysToExpiry);
        }
        single.publishStoredMetrics();
      }
    },
  };
}

/** Functions deployed without a bus (the DR failover) refuse to dispatch, loudly. */
const noBus: ActionDispatcher = {
  async dispatch(requests) {
    if (requests.length > 0)
      throw new Error('EVENT_BUS_NAME is not set for this function: it cannot request actions');
  },
};

/**
 * The Lambda entry point shared by the five action functions. It accepts the EventBridge envelope
 * ("Action Requested") or, for `aws lambda invoke` and the API, a bare action request. Only the
 * function that pages passes `escalator` (`escalatorFromEnv`), so the others neither build an SNS
 * client nor bundle one.
 */
export async function createActionHandler(
  kind: ActionKind,
  capability: CapabilityFactory,
  options: {
    readonly escalator?: (deps: EscalatorDeps) => Escalator;
    /** Reads the backup catalog (backup freshness probes). */
    readonly backupCatalog?: boolean;
    /**
     * Where the function's own requests (the escalate request of an incident it opens) go when it has
     * no EVENT_BUS_NAME: the DR failover function's go to the primary region's bus.
     * @default - EVENT_BUS_NAME's bus; without one, requesting anything throws
     */
    readonly dispatcher?: ActionDispatcher;
    /**
     * Events that are not action requests, handled with the same environment: the rotate function's
     * `{Step, SecretId, ClientRequestToken}` from Secrets Manager.
     */
    readonly otherEvents?: {
      matches(event: unknown): boolean;
      handle(event: unknown, env: ActionEnvironment): Promise<unknown>;
    };
  } = {},
) {
  const config = bundledConfig();
  const { logger, tracing, log } = await powertools(`responder-${kind}`);
  const metrics = metricsFor(`responder-${kind}`);
  const busName = process.env.EVENT_BUS_NAME;
  const stateTable = stateTableFromEnv(tracing);
  const store = dynamoDbStateStore(stateTable);
  const idempotency = dynamoDbActionIdempotency(stateTable);
  const secrets = secretStore(tracing, config);
  const env: ActionEnvironment = {
    config,
    incidents: store,
    audit: store,
    automation: store,
    targetHealth: store,
    idempotency,
    secrets,
    dispatcher: busName
      ? new EventBridgeDispatcher(
          tracing.captureAWSv3Client(new EventBridgeClient({ maxAttempts: 3 })),
          busName,
        )
      : (options.dispatcher ?? noBus),
    clock: systemClock,
    log,
    metrics: probeMetricsOf(metrics),
    escalator: options.escalator?.({ tracing, config, store, secrets, log }),
    backupCatalog: options.backupCatalog ? new DynamoDbBackupCatalog(new StateTable(stateTable)) : undefined,
  };
  const perform = capability(env);

  return middy<unknown, ActionResult | unknown>()
    .use(tracing.middlewares)
    .use(injectLambdaContext(logger, { clearState: true }))
    .use(logMetrics(metrics))
    .handler(async (event, context) => {
      if (options.otherEvents?.matches(event)) return options.otherEvents.handle(event, env);
      // An action in progress holds its id for this invocation's time left, not a fixed lease.
      idempotency.config.registerLambdaContext(context);
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
      const result = await runActionRequest(kind, parsed.data, perform, env);
      metrics.addDimension('kind', kind);
      metrics.addMetric(`Action_${result.status}`, MetricUnit.Count, 1);
      return result;
    });
}
