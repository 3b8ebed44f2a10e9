import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { ActionResult } from '../../src/actions/run-action.ts';
import { DynamoDbBackupCatalog } from '../../src/adapters/dynamodb-backup-catalog.ts';
import { dynamoDbStateStore } from '../../src/adapters/dynamodb-state-store.ts';
import { StateTable } from '../../src/adapters/state-table.ts';
import { fromApiGateway, toApiGateway } from '../../src/aws/api-gateway.ts';
import { secretStore, stateTableFromEnv, webhookCredentialsFromEnv } from '../../src/aws/clients.ts';
import { escalatorFromEnv } from '../../src/aws/escalator.ts';
import { withOwnRotations } from '../../src/aws/own-rotations.ts';
import { powertools } from '../../src/aws/powertools.ts';
import { bundledConfig } from '../../src/config/bundled.ts';
import type { ActionRequest } from '../../src/domain/actions.ts';
import { systemClock } from '../../src/ports.ts';
import type { ProbeReport } from '../probe/run-probes.ts';
import { type ApiDeps, handleApiRequest, operatorProbeRequest } from './incidents-api.ts';

const config = bundledConfig();
const { logger, tracing, log } = await powertools('responder-api');
const probeFunction = process.env.PROBE_FUNCTION_NAME;
let lambda: Promise<{ client: LambdaClient; InvokeCommand: typeof InvokeCommand }> | undefined;

/**
 * The Lambda client, built by the first `POST /api/probes` of a container rather than at cold start:
 * operators run probes on demand rarely, and most API containers never do.
 */
function lambdaClient() {
  lambda ??= import('@aws-sdk/client-lambda').then(({ LambdaClient, InvokeCommand }) => ({
    client: tracing.captureAWSv3Client(new LambdaClient({ maxAttempts: 2 })),
    InvokeCommand,
  }));
  return lambda;
}

/** `POST /api/probes` invokes the probe function synchronously: it has the network access the probes need. */
async function runProbesRemotely(targets?: string[]): Promise<ProbeReport | undefined> {
  const request = operatorProbeRequest(targets, systemClock, config.safety.dryRun);
  const { client, InvokeCommand } = await lambdaClient();
  const answer = await client.send(
    new InvokeCommand({ FunctionName: probeFunction, Payload: JSON.stringify(request) }),
  );
  const payload = Buffer.from(answer.Payload ?? new Uint8Array()).toString('utf8');
  if (answer.FunctionError) throw new Error(`the probe function failed: ${payload.slice(0, 500)}`);
  const result = JSON.parse(payload) as ActionResult;
  return result.status === 'done' ? (result.outcome.result as ProbeReport) : undefined;
}

const backupFunction = process.env.BACKUP_FUNCTION_NAME;

/**
 * `POST /api/backups` invokes the backup function: a dry run waits for its answer, a backup is
 * invoked asynchronously (it may take up to 15 minutes) and followed in the catalog.
 */
async function runBackupRemotely(request: ActionRequest, wait: boolean): Promise<ActionResult | undefined> {
  const { client, InvokeCommand } = await lambdaClient();
  const answer = await client.send(
    new InvokeCommand({
      FunctionName: backupFunction,
      InvocationType: wait ? 'RequestResponse' : 'Event',
      Payload: JSON.stringify(request),
    }),
  );
  if (!wait) return undefined;
  const payload = Buffer.from(answer.Payload ?? new Uint8Array()).toString('utf8');
  if (answer.FunctionError) throw new Error(`the backup function failed: ${payload.slice(0, 500)}`);
  return JSON.parse(payload) as ActionResult;
}

const rotateFunction = process.env.ROTATE_FUNCTION_NAME;

/**
 * `POST /api/rotations` invokes the rotate function and waits: it repairs what a failed rotation left
 * and calls RotateSecret (Secrets Manager then runs the four steps), which takes seconds.
 */
async function runRotationRemotely(request: ActionRequest): Promise<ActionResult> {
  const { client, InvokeCommand } = await lambdaClient();
  const answer = await client.send(
    new InvokeCommand({ FunctionName: rotateFunction, Payload: JSON.stringify(request) }),
  );
  const payload = Buffer.from(answer.Payload ?? new Uint8Array()).toString('utf8');
  if (answer.FunctionError) throw new Error(`the rotate function failed: ${payload.slice(0, 500)}`);
  return JSON.parse(payload) as ActionResult;
}

const table = stateTableFromEnv(tracing);
const store = dynamoDbStateStore(table);
const secrets = secretStore(tracing, config);
const deps: ApiDeps = {
  // With Responder's own secrets among the rotations, so `POST /api/rotations` accepts them too.
  config: withOwnRotations(config),
  incidents: store,
  escalations: store,
  audit: store,
  targetHealth: store,
  automation: store,
  credentials: webhookCredentialsFromEnv(secrets, config),
  clock: systemClock,
  log,
  version: process.env.RESPONDER_VERSION ?? 'unknown',
  runProbes: probeFunction ? runProbesRemotely : undefined,
  rotations: rotateFunction ? { run: runRotationRemotely } : undefined,
  backups: backupFunction
    ? { catalog: new DynamoDbBackupCatalog(new StateTable(table)), run: runBackupRemotely }
    : undefined,
  // Acknowledgements tell the tiers already paged at once; the sweeper retries what fails here.
  escalator: escalatorFromEnv({ tracing, config, store, secrets, log }),
};

export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
  .use(tracing.middlewares)
  .use(injectLambdaContext(logger, { clearState: true }))
  .handler(async (event) => toApiGateway(await handleApiRequest(fromApiGateway(event), deps)));
