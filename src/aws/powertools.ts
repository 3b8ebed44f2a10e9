import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { MiddlewareObj } from '@middy/core';
import type { Log } from '../ports.ts';

/** What the handlers use of Powertools' Tracer. */
export interface Tracing {
  /** Records the client's calls as X-Ray subsegments; the client itself when tracing is off. */
  captureAWSv3Client<T>(client: T): T;
  /** The handler's subsegment with the cold-start and service annotations, response and error; none when off. */
  readonly middlewares: MiddlewareObj[];
}

/**
 * Whether Powertools' Tracer would trace here, by its own rules: in Lambda, unless
 * POWERTOOLS_TRACE_ENABLED is false or SAM or Amplify mock the runtime.
 */
export function tracingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.POWERTOOLS_TRACE_ENABLED?.toLowerCase() === 'false') return false;
  const executionEnv = env.AWS_EXECUTION_ENV ?? '';
  return executionEnv !== '' && executionEnv !== 'AWS_Lambda_amplify-mock' && !env.AWS_SAM_LOCAL;
}

/**
 * The Tracer is loaded only where it traces: it brings the X-Ray SDK, a fifth of a function's cold
 * import, which a container with tracing off would load for nothing.
 */
async function tracing(serviceName: string): Promise<Tracing> {
  if (!tracingEnabled()) return { captureAWSv3Client: (client) => client, middlewares: [] };
  const [{ Tracer }, { captureLambdaHandler }] = await Promise.all([
    import('@aws-lambda-powertools/tracer'),
    import('@aws-lambda-powertools/tracer/middleware'),
  ]);
  const tracer = new Tracer({ serviceName });
  return {
    captureAWSv3Client: (client) => tracer.captureAWSv3Client(client),
    middlewares: [captureLambdaHandler(tracer)],
  };
}

/** One logger and tracing per container, named after the function's capability. */
export async function powertools(serviceName: string) {
  const logger = new Logger({ serviceName });
  const log: Log = {
    debug: (message, extra) => logger.debug(message, extra ?? {}),
    info: (message, extra) => logger.info(message, extra ?? {}),
    warn: (message, extra) => logger.warn(message, extra ?? {}),
    error: (message, extra) => logger.error(message, extra ?? {}),
  };
  return { logger, tracing: await tracing(serviceName), log };
}

/** CloudWatch embedded metrics, for the functions that publish some (the API publishes none). */
export function metricsFor(serviceName: string) {
  return new Metrics({ namespace: 'Responder', serviceName });
}
