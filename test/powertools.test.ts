import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { powertools, tracingEnabled } from '../src/aws/powertools.ts';

const IN_LAMBDA = { AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x' };
const xrayMiddleware = (client: DynamoDBClient) =>
  client.middlewareStack.identify().filter((name) => /xray/i.test(name));

describe('Function: tracingEnabled', () => {
  it('traces in Lambda unless POWERTOOLS_TRACE_ENABLED is false or SAM or Amplify mock the runtime', () => {
    // PREPARE, ACT and ASSESS: Powertools' Tracer's own rules
    expect(tracingEnabled(IN_LAMBDA)).toBe(true);
    expect(tracingEnabled({ ...IN_LAMBDA, POWERTOOLS_TRACE_ENABLED: 'true' })).toBe(true);
    expect(tracingEnabled({ ...IN_LAMBDA, POWERTOOLS_TRACE_ENABLED: 'FALSE' })).toBe(false);
    expect(tracingEnabled({ ...IN_LAMBDA, AWS_SAM_LOCAL: 'true' })).toBe(false);
    expect(tracingEnabled({ AWS_EXECUTION_ENV: 'AWS_Lambda_amplify-mock' })).toBe(false);
    expect(tracingEnabled({})).toBe(false);
  });
});

describe('Function: powertools', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('loads the Tracer where tracing is on: clients are captured and the handler gets its segment', async () => {
    // PREPARE
    Object.assign(process.env, IN_LAMBDA, { POWERTOOLS_TRACER_CAPTURE_HTTPS_REQUESTS: 'false' });
    delete process.env.POWERTOOLS_TRACE_ENABLED;

    // ACT
    const { tracing } = await powertools('responder-test');
    const client = tracing.captureAWSv3Client(new DynamoDBClient({ region: 'eu-west-1' }));

    // ASSESS
    expect(tracing.middlewares).toHaveLength(1);
    expect(tracing.middlewares[0]).toMatchObject({
      before: expect.any(Function),
      after: expect.any(Function),
      onError: expect.any(Function),
    });
    expect(xrayMiddleware(client)).toHaveLength(1);
  });

  it('leaves clients and handlers as they are where tracing is off', async () => {
    // PREPARE
    Object.assign(process.env, IN_LAMBDA, { POWERTOOLS_TRACE_ENABLED: 'false' });

    // ACT
    const { tracing } = await powertools('responder-test');
    const plain = new DynamoDBClient({ region: 'eu-west-1' });
    const client = tracing.captureAWSv3Client(plain);

    // ASSESS
    expect(tracing.middlewares).toEqual([]);
    expect(client).toBe(plain);
    expect(xrayMiddleware(client)).toEqual([]);
  });
});
