import { recordActionOutcome } from '../../src/actions/action-outcomes.ts';
import type { PerformAction } from '../../src/actions/run-action.ts';
import type { RotationConfig } from '../../src/config/rotations.ts';
import type { ResponderConfig } from '../../src/config/schema.ts';
import type { ActionOutcome, ActionRequest } from '../../src/domain/actions.ts';
import type {
  ActionDispatcher,
  AuditTrail,
  AutomationSwitch,
  Clock,
  IncidentStore,
  Log,
  SecretStore,
  SecretVersions,
} from '../../src/ports.ts';
import { ROTATION_STEPS, type RotationEvent, repairRotation, runRotationStep } from './rotation-steps.ts';
import { strategyFor } from './strategies/index.ts';
import type { RotationStrategy } from './strategy.ts';

export interface RotateDeps {
  readonly config: ResponderConfig;
  readonly versions: SecretVersions;
  /** Reads other secrets (master, admin) for the strategies. */
  readonly secrets: SecretStore;
  readonly log: Log;
  /**
   * Starts a rotation and says who runs its four steps: in AWS, RotateSecret with immediate rotation
   * (Secrets Manager invokes this function once per step); locally, the runtime's secret store, and
   * the steps run here.
   */
  readonly startRotation: (
    secretId: string,
  ) => Promise<{ readonly token: string; readonly stepsHere: boolean }>;
  /** Builds a strategy; tests swap in one that fails on cue. @default strategyFor */
  readonly strategies?: (rotation: RotationConfig) => RotationStrategy;
}

/** The configured rotation of a secret, by the name or ARN it was configured with (or its ARN's name). */
export function rotationOf(config: ResponderConfig, secretId: string): RotationConfig | undefined {
  return config.secrets.rotations.find(
    (rotation) =>
      rotation.secret === secretId ||
      secretId.includes(`:secret:${rotation.secret}-`) ||
      rotation.secret.includes(`:secret:${secretId}-`),
  );
}

function strategyOf(deps: RotateDeps, rotation: RotationConfig): RotationStrategy {
  return deps.strategies
    ? deps.strategies(rotation)
    : strategyFor(rotation, { secrets: deps.secrets, log: deps.log });
}

/**
 * The rotate capability for action requests (an alert route, `responder rotate`, the API): repairs
 * what a failed rotation left, then starts one. Where the steps run here (locally), each step is
 * reported, and a failure is repaired at once; in AWS Secrets Manager runs the steps and this only
 * starts them.
 */
export function createRotateAction(deps: RotateDeps): PerformAction {
  return async (request): Promise<ActionOutcome> => {
    const secretId = request.params.secret;
    if (typeof secretId !== 'string' || secretId.length === 0) {
      throw new Error(
        `name the secret as params.secret (one of: ${deps.config.secrets.rotations.map((r) => r.secret).join(', ') || 'none configured'})`,
      );
    }
    const rotation = rotationOf(deps.config, secretId);
    if (!rotation) {
      return {
        status: 'failed',
        subject: secretId,
        summary: `no rotation of '${secretId.slice(0, 200)}' in secrets.rotations: add one with its strategy`,
      };
    }
    const strategy = strategyOf(deps, rotation);
    const current = await deps.versions.getSecretVersion(rotation.secret);
    if (request.dryRun) {
      const lines = await strategy.describe(current.value);
      return {
        status: 'completed',
        subject: rotation.secret,
        summary: `dry run: nothing changed; rotating ${rotation.secret} (${rotation.strategy}) would run: ${lines.join('; ')}`,
        result: { steps: lines, dryRun: true },
      };
    }
    const lines: string[] = [];
    const repaired = await repairRotation(rotation.secret, {
      versions: deps.versions,
      strategy,
      log: deps.log,
    });
    if (repaired.action === 'current-broken') {
      return {
        status: 'failed',
        subject: rotation.secret,
        summary: `rotation of ${rotation.secret} refused: ${repaired.detail}`,
      };
    }
    if (repaired.action !== 'nothing') lines.push(`repair: ${repaired.detail}`);
    const { token, stepsHere } = await deps.startRotation(rotation.secret);
    if (!stepsHere) {
      return {
        status: 'recorded',
        subject: rotation.secret,
        summary: `rotation of ${rotation.secret} started: Secrets Manager runs the four steps (version ${token})`,
        data: { secret: rotation.secret, token },
        result: { token, steps: lines },
      };
    }
    for (const step of ROTATION_STEPS) {
      try {
        lines.push(
          await runRotationStep(
            { Step: step, SecretId: rotation.secret, ClientRequestToken: token },
            { versions: deps.versions, strategy, log: deps.log },
          ),
        );
      } catch (error) {
        const repair = await repairRotation(rotation.secret, {
          versions: deps.versions,
          strategy,
          log: deps.log,
        }).catch((repairError: Error) => ({
          action: 'failed',
          detail: `repair failed: ${repairError.message}`,
        }));
        return {
          status: 'failed',
          subject: rotation.secret,
          summary: `rotation of ${rotation.secret} failed at ${step}: ${(error as Error).message}; ${repair.detail}`,
          data: { secret: rotation.secret, token, step, repair: repair.action },
          result: { token, steps: lines, failedStep: step, repair },
        };
      }
    }
    return {
      status: 'completed',
      subject: rotation.secret,
      summary: `rotated ${rotation.secret} (${rotation.strategy}): version ${token} is AWSCURRENT`,
      data: { secret: rotation.secret, token },
      result: { token, steps: lines },
    };
  };
}

export interface RotationEventDeps extends RotateDeps {
  /** The kill switch: a rotation Secrets Manager starts is refused at createSecret while it is off. */
  readonly automation: AutomationSwitch;
  readonly incidents: IncidentStore;
  readonly audit: AuditTrail;
  readonly clock: Clock;
  readonly dispatcher: ActionDispatcher;
}

/**
 * One step as Secrets Manager invokes it (its own schedule, or RotateSecret). A failure is rethrown,
 * so Secrets Manager retries the step, and opens (or keeps open) the rotation incident saying what
 * was left; the next success resolves it. The next on-demand rotation repairs the labels first.
 */
export async function handleRotationEvent(
  event: RotationEvent,
  deps: RotationEventDeps,
): Promise<{ step: string; result: string }> {
  const rotation = rotationOf(deps.config, event.SecretId);
  if (!rotation)
    throw new Error(
      `secret ${event.SecretId} has no rotation in secrets.rotations: this function does not rotate it`,
    );
  const strategy = strategyOf(deps, rotation);
  const request: ActionRequest = {
    actionId: `rotation-${event.ClientRequestToken}-${event.Step}`.slice(0, 200),
    kind: 'rotate',
    trigger: 'schedule',
    requestedAt: deps.clock.now().toISOString(),
    dryRun: false,
    params: { secret: rotation.secret },
    alerts: [],
  };
  const outcomeDeps = {
    config: deps.config,
    incidents: deps.incidents,
    audit: deps.audit,
    clock: deps.clock,
    dispatcher: deps.dispatcher,
  };
  if (event.Step === 'createSecret') {
    // The kill switch and dry run apply to Secrets Manager's own schedule too: refused before anything
    // changes, without an incident (it was asked for); the empty AWSPENDING version Secrets Manager
    // left is removed by the next repair.
    const enabled =
      deps.config.safety.automationEnabled && (await deps.automation.getAutomationFlag()).enabled;
    const refusal = !enabled
      ? 'automation is disabled (the kill switch)'
      : deps.config.safety.dryRun
        ? 'safety.dryRun is on'
        : undefined;
    if (refusal) {
      deps.log.warn('rotation refused', { secret: rotation.secret, reason: refusal });
      throw new Error(`${refusal}: the rotation of ${rotation.secret} was refused before anything changed`);
    }
  }
  try {
    const result = await runRotationStep(event, { versions: deps.versions, strategy, log: deps.log });
    deps.log.info('rotation step done', { secret: rotation.secret, step: event.Step, result });
    if (event.Step === 'finishSecret') {
      await recordActionOutcome(
        'rotate',
        request,
        { status: 'completed', subject: rotation.secret, summary: result },
        outcomeDeps,
      ).catch((error: Error) => deps.log.error('rotation success not recorded', { error: error.message }));
    }
    return { step: event.Step, result };
  } catch (error) {
    const message = (error as Error).message;
    deps.log.error('rotation step failed', { secret: rotation.secret, step: event.Step, error: message });
    await recordActionOutcome(
      'rotate',
      request,
      {
        status: 'failed',
        subject: rotation.secret,
        summary: `${event.Step} failed: ${message}. Version ${event.ClientRequestToken} holds AWSPENDING; Secrets Manager retries the step, and \`responder rotate ${rotation.secret}\` repairs the labels and starts again`,
      },
      outcomeDeps,
    ).catch((recordError: Error) =>
      deps.log.error('rotation failure not recorded', { error: recordError.message }),
    );
    throw error;
  }
}
