import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { EventBridgeDispatcher } from '../../src/adapters/eventbridge-dispatcher.ts';
import { fromApiGateway, toApiGateway } from '../../src/aws/api-gateway.ts';
import { secretStore, stateStoreFromEnv, webhookCredentialsFromEnv } from '../../src/aws/clients.ts';
import { metricsFor, powertools } from '../../src/aws/powertools.ts';
import { bundledConfig, requireEnv } from '../../src/config/bundled.ts';
import { compileRoutes } from '../../src/domain/routing.ts';
import { systemClock } from '../../src/ports.ts';
import { handleAlertmanagerWebhook, type IngestDeps } from './ingest-alerts.ts';

const config = bundledConfig();
const { logger, tracing, log } = await powertools('responder-ingest');
const metrics = metricsFor('responder-ingest');
const store = stateStoreFromEnv(tracing);
const deps: IngestDeps = {
  config,
  routes: compileRoutes(config.routes),
  deliveries: store,
  incidents: store,
  audit: store,
  floodLimits: store,
  automation: store,
  dispatcher: new EventBridgeDispatcher(
    tracing.captureAWSv3Client(new EventBridgeClient({ maxAttempts: 3 })),
    requireEnv('EVENT_BUS_NAME'),
  ),
  credentials: webhookCredentialsFromEnv(secretStore(tracing, config), config),
  clock: systemClock,
  log,
};

export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
  .use(tracing.middlewares)
  .use(injectLambdaContext(logger, { clearState: true }))
  .use(logMetrics(metrics))
  .handler(async (event) => {
    const response = await handleAlertmanagerWebhook(fromApiGateway(event), deps);
    metrics.addDimension('status', String(response.statusCode));
    metrics.addMetric('WebhookResponses', MetricUnit.Count, 1);
    return toApiGateway(response);
  });
