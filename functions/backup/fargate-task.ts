import { ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import type { BackupDatabaseConfig } from '../../src/config/backups.ts';
import type { ActionRequest } from '../../src/domain/actions.ts';

/** RunTask's limit on container overrides: the request travels in one environment variable. */
const MAX_OVERRIDE_BYTES = 8192;

export interface FargateRunner {
  readonly clusterArn: string;
  readonly taskDefinitionArn: string;
  readonly containerName: string;
  readonly subnets: readonly string[];
  readonly securityGroups: readonly string[];
}

/** The Fargate settings the stack passes in the environment, or undefined when no database needs them. */
export function fargateRunnerFromEnv(env: NodeJS.ProcessEnv = process.env): FargateRunner | undefined {
  if (!env.BACKUP_CLUSTER_ARN || !env.BACKUP_TASK_DEFINITION_ARN) return undefined;
  const list = (value: string | undefined) => (value ?? '').split(',').filter(Boolean);
  return {
    clusterArn: env.BACKUP_CLUSTER_ARN,
    taskDefinitionArn: env.BACKUP_TASK_DEFINITION_ARN,
    containerName: env.BACKUP_CONTAINER_NAME ?? 'backup',
    subnets: list(env.BACKUP_SUBNETS),
    securityGroups: list(env.BACKUP_SECURITY_GROUPS),
  };
}

/**
 * Starts one backup as a Fargate task running `task.mjs` from the same image, with the request in
 * BACKUP_REQUEST; the task reports to the same catalog and incidents. Returns the task's ARN.
 */
export function fargateStarter(ecs: ECSClient, runner: FargateRunner) {
  return async (request: ActionRequest, database: BackupDatabaseConfig): Promise<string> => {
    const body = JSON.stringify({
      ...request,
      alerts: [],
      params: { ...request.params, database: database.name },
    });
    if (Buffer.byteLength(body) > MAX_OVERRIDE_BYTES) {
      throw new Error(
        `the backup request is ${Buffer.byteLength(body)} bytes: RunTask overrides allow ${MAX_OVERRIDE_BYTES}`,
      );
    }
    const started = await ecs.send(
      new RunTaskCommand({
        cluster: runner.clusterArn,
        taskDefinition: runner.taskDefinitionArn,
        launchType: 'FARGATE',
        count: 1,
        startedBy: 'responder-backup',
        networkConfiguration: {
          awsvpcConfiguration: {
            subnets: [...runner.subnets],
            securityGroups: [...runner.securityGroups],
            assignPublicIp: 'DISABLED',
          },
        },
        overrides: {
          containerOverrides: [
            { name: runner.containerName, environment: [{ name: 'BACKUP_REQUEST', value: body }] },
          ],
        },
      }),
    );
    const failure = started.failures?.[0];
    const arn = started.tasks?.[0]?.taskArn;
    if (!arn)
      throw new Error(
        `RunTask started no task: ${failure?.reason ?? 'no reason given'} ${failure?.detail ?? ''}`.trim(),
      );
    return arn;
  };
}

export { ECSClient };
