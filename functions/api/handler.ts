import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { fromApiGateway, toApiGateway } from '../../src/aws/api-gateway.ts';
import { secretStore, stateStoreFromEnv, webhookCredentialsFromEnv } from '../../src/aws/clients.ts';
import { powertools } from '../../src/aws/powertools.ts';
import { bundledConfig } from '../../src/config/bundled.ts';
import { systemClock } from '../../src/ports.ts';
import { type ApiDeps, handleApiRequest } from './incidents-api.ts';

const config = bundledConfig();
const { logger, tracer, log } = powertools('responder-api');
const deps: ApiDeps = {
  config,
  store: stateStoreFromEnv(tracer),
  credentials: webhookCredentialsFromEnv(secretStore(tracer, config), config),
  clock: systemClock,
  log,
  version: process.env.RESPONDER_VERSION ?? 'unknown',
};

export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { clearState: true }))
  .handler(async (event) => toApiGateway(await handleApiRequest(fromApiGateway(event), deps)));
