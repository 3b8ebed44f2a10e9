import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { ActionResult } from '../../src/actions/run-action.ts';
import { DynamoDbBackupCatalog } from '../../src/adapters/dynamodb-backup-catalog.ts';
import { dynamoDbStateStore } from '../../src/adapters/dynamodb-state-store.ts';
import { StateTable } from '../../src/adapters/state-table.ts';
import { fromApiGateway, toApiGateway } from '../../src/aws/api-gateway.ts';
import { secretStore, stateTableFromEnv, webhookCredentialsFromEnv } from '../../src/aws/clients.ts';
import { escalatorFromEnv } from '../../src/aws/escalator.ts';
import { type InvokeFunction, invokeAction } from '../../src/aws/invoke-action.ts';
import { withOwnRotations } from '../../src/aws/own-rotations.ts';
import { powertools } from '../../src/aws/powertools.ts';
import { bundledConfig } from '../../src/config/bundled.ts';
import type { ActionRequest } from '../../src/domain/actions.ts';
import { systemClock } from '../../src/ports.ts';
import type { ProbeReport } from '../probe/run-probes.ts';
import { drFailover } from './failover-route.ts';
import { type ApiDeps, handleApiRequest, operatorProbeRequest } from './incidents-api.ts';

const config = bundledConfig();
const { logger, tracing, log } = await powertools('responder-api');
const probeFunction = process.env.PROBE_FUNCTION_NAME;
const backupFunction = process.env.BACKUP_FUNCTION_NAME;
const rotateFunction = process.env.ROTATE_FUNCTION_NAME;
const drFailoverRegion = process.env.DR_FAILOVER_REGION;
const drFailoverFunction = process.env.DR_FAILOVER_FUNCTION_NAME;
const invokers = new Map<string, Promise<InvokeFunction>>();

/**
 * Invokes through a Lambda client in `region` (this function's own by default), built by the first
 * request that needs it rather than at cold start: operators run probes, backups, rotations and
 * failovers on demand rarely, and most API containers never do. The DR region's client makes one
 * attempt and gives up on a connection after 3 s: a region that does not answer is said at once.
 */
function invoker(region?: string): InvokeFunction {
  const key = region ?? '';
  return async (input, options) => {
    let built = invokers.get(key);
    if (!built) {
      built = import('@aws-sdk/client-lambda').then(({ LambdaClient, InvokeCommand }) => {
        const client = tracing.captureAWSv3Client(
          region
            ? new LambdaClient({ region, maxAttempts: 1, requestHandler: { connectionTimeout: 3000 } })
            : new LambdaClient({ maxAttempts: 2 }),
        );
        return (commandInput, commandOptions) => client.send(new InvokeCommand(commandInput), commandOptions);
      });
      invokers.set(key, built);
    }
    return (await built)(input, options);
  };
}

/** `POST /api/probes` invokes the probe function synchronously: it has the network access the probes need. */
async function runProbesRemotely(targets?: string[]): Promise<ProbeReport | undefined> {
  const request = operatorProbeRequest(targets, systemClock, config.safety.dryRun);
  const result = await invokeAction(invoker(), probeFunction ?? '', request, { what: 'the probe function' });
  return result?.status === 'done' ? (result.outcome.result as ProbeReport) : undefined;
}

/**
 * `POST /api/backups` invokes the backup function: a dry run waits for its answer, a backup is
 * invoked asynchronously (it may take up to 15 minutes) and followed in the catalog.
 */
const runBackupRemotely = (request: ActionRequest, wait: boolean) =>
  invokeAction(invoker(), backupFunction ?? '', request, { what: 'the backup function', wait });

/**
 * `POST /api/rotations` invokes the rotate function and waits: it repairs what a failed rotation left
 * and calls RotateSecret (Secrets Manager then runs the four steps), which takes seconds.
 */
async function runRotationRemotely(request: ActionRequest): Promise<ActionResult> {
  const result = await invokeAction(invoker(), rotateFunction ?? '', request, {
    what: 'the rotate function',
  });
  if (!result) throw new Error('the rotate function was invoked without waiting');
  return result;
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
  // Failover runs in the DR region: each request is invoked on its failover function there.
  failover:
    drFailoverRegion && drFailoverFunction
      ? drFailover({
          invoke: invoker(drFailoverRegion),
          region: drFailoverRegion,
          functionName: drFailoverFunction,
        })
      : undefined,
  // Acknowledgements tell the tiers already paged at once; the sweeper retries what fails here.
  escalator: escalatorFromEnv({ tracing, config, store, secrets, log }),
};

export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
  .use(tracing.middlewares)
  .use(injectLambdaContext(logger, { clearState: true }))
  .handler(async (event) => toApiGateway(await handleApiRequest(fromApiGateway(event), deps)));
