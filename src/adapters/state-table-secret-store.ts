import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import {
  type Clock,
  DependencyUnavailableError,
  type RotatedSecretReader,
  type SecretDescription,
  type SecretGeneration,
  type SecretStore,
  SecretVersionNotFoundError,
  type SecretVersions,
  STAGES,
  systemClock,
} from '../ports.ts';
import { isConditionFailure } from './state-table.ts';
import { DOCUMENT_TRANSLATION } from './state-table-schema.ts';

interface StoredVersion {
  value?: string;
  stages: string[];
  createdAt: string;
}

interface StoredSecret {
  /** The AWSCURRENT value, kept at the top so older readers (and `getSecretString`) read one field. */
  secretString?: string;
  versions: Record<string, StoredVersion>;
  rotationEnabled: boolean;
  rev: number;
}

/** Versions without a label are deprecated; Secrets Manager keeps about 100 and deletes the rest. */
const MAX_UNLABELLED_VERSIONS = 10;

/**
 * The local stand-in for Secrets Manager: secret values kept in the state table (dynalite), so the
 * local runtime reads secrets the way the functions do, with versions and staging labels under
 * Secrets Manager's rules: one version per label, AWSPREVIOUS follows AWSCURRENT, a token repeated
 * with the same value changes nothing, and a rotation cannot start while another is pending. Only for
 * local use: the table is not a vault.
 */
export class StateTableSecretStore implements SecretStore, SecretVersions, RotatedSecretReader {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
    /** Dates new versions (what grace periods after a rotation count from). */
    private readonly clock: Clock = systemClock,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, DOCUMENT_TRANSLATION);
  }

  async getSecretString(secretId: string): Promise<string> {
    return (await this.getSecretVersion(secretId, { stage: STAGES.current })).value;
  }

  /** AWSCURRENT and AWSPREVIOUS with their creation dates, read at once (no cache: the table is local). */
  async getCurrentAndPrevious(secretId: string) {
    const secret = await this.read(secretId);
    const generation = (stage: string): SecretGeneration | undefined => {
      const version = Object.values(secret?.versions ?? {}).find((v) => v.stages.includes(stage));
      if (typeof version?.value !== 'string') return undefined;
      const created = Date.parse(version.createdAt);
      return { value: version.value, ...(Number.isNaN(created) ? {} : { createdAt: new Date(created) }) };
    };
    const current = generation(STAGES.current);
    if (!current) {
      throw new Error(`cannot read secret ${secretId} (ResourceNotFoundException): no such local secret`);
    }
    const previous = generation(STAGES.previous);
    return previous ? { current, previous } : { current };
  }

  /** PutSecretValue without stages: a new version, AWSCURRENT (the one before becomes AWSPREVIOUS). */
  async putSecretString(secretId: string, secretString: string): Promise<string> {
    const versionId = randomUUID();
    await this.update(secretId, (secret) => {
      secret.versions[versionId] = {
        value: secretString,
        stages: [],
        createdAt: this.clock.now().toISOString(),
      };
      moveStage(secret, STAGES.current, versionId);
    });
    return versionId;
  }

  /** Turns rotation on for a local secret (the stack does it with a rotation schedule in AWS). */
  async enableRotation(secretId: string): Promise<void> {
    await this.update(secretId, (secret) => {
      secret.rotationEnabled = true;
    });
  }

  /**
   * RotateSecret: a new version labelled AWSPENDING with no value yet, whose id is the token the four
   * steps run with; refused while another version holds AWSPENDING, as Secrets Manager does.
   */
  async startRotation(secretId: string, token = randomUUID()): Promise<string> {
    await this.update(secretId, (secret) => {
      if (!secret.rotationEnabled) throw new Error(`secret ${secretId} is not enabled for rotation`);
      const pending = Object.entries(secret.versions).find(
        ([, v]) => v.stages.includes(STAGES.pending) && !v.stages.includes(STAGES.current),
      );
      if (pending && pending[0] !== token) {
        throw new Error(
          `A previous rotation isn't complete for ${secretId} (AWSPENDING is on ${pending[0]}). That rotation will be reattempted.`,
        );
      }
      secret.versions[token] ??= { stages: [], createdAt: this.clock.now().toISOString() };
      moveStage(secret, STAGES.pending, token);
    });
    return token;
  }

  async describeSecret(secretId: string): Promise<SecretDescription> {
    const secret = await this.read(secretId);
    if (!secret)
      throw new Error(`cannot describe secret ${secretId} (ResourceNotFoundException): no such local secret`);
    return {
      arn: `arn:aws:secretsmanager:local:000000000000:secret:${secretId}`,
      name: secretId,
      rotationEnabled: secret.rotationEnabled,
      versions: Object.entries(secret.versions)
        .filter(([, v]) => v.stages.length > 0)
        .map(([versionId, v]) => ({ versionId, stages: [...v.stages] })),
    };
  }

  async getSecretVersion(secretId: string, which: { versionId?: string; stage?: string } = {}) {
    const secret = await this.read(secretId);
    if (!secret) {
      throw new Error(`cannot read secret ${secretId} (ResourceNotFoundException): no such local secret`);
    }
    const stage = which.stage ?? (which.versionId ? undefined : STAGES.current);
    const entry = Object.entries(secret.versions).find(
      ([id, v]) =>
        (which.versionId === undefined || id === which.versionId) &&
        (stage === undefined || v.stages.includes(stage)),
    );
    if (!entry || typeof entry[1].value !== 'string') {
      throw new SecretVersionNotFoundError(secretId, which.versionId ?? stage ?? STAGES.current);
    }
    return { versionId: entry[0], stages: [...entry[1].stages], value: entry[1].value };
  }

  async putPendingValue(secretId: string, token: string, value: string) {
    await this.update(secretId, (secret) => {
      const existing = secret.versions[token];
      if (existing?.value !== undefined) {
        if (existing.value !== value) {
          throw new Error(
            `version ${token} of ${secretId} already has another value (ResourceExistsException)`,
          );
        }
        return;
      }
      secret.versions[token] = {
        value,
        stages: existing?.stages ?? [],
        createdAt: this.clock.now().toISOString(),
      };
      moveStage(secret, STAGES.pending, token);
    });
  }

  async updateStage(secretId: string, stage: string, move: { toVersionId?: string; fromVersionId?: string }) {
    await this.update(secretId, (secret) => {
      const holder = Object.entries(secret.versions).find(([, v]) => v.stages.includes(stage))?.[0];
      if (move.fromVersionId !== undefined && holder !== move.fromVersionId) {
        throw new Error(
          `${stage} is not on version ${move.fromVersionId} of ${secretId} (InvalidParameterException)`,
        );
      }
      if (move.toVersionId === undefined) {
        const from = move.fromVersionId ? secret.versions[move.fromVersionId] : undefined;
        if (from) from.stages = from.stages.filter((s) => s !== stage);
        return;
      }
      if (!secret.versions[move.toVersionId]) {
        throw new Error(`secret ${secretId} has no version ${move.toVersionId} (ResourceNotFoundException)`);
      }
      moveStage(secret, stage, move.toVersionId);
    });
  }

  private async read(secretId: string): Promise<StoredSecret | undefined> {
    let item: Record<string, unknown> | undefined;
    try {
      item = (await this.doc.send(new GetCommand({ TableName: this.tableName, Key: this.key(secretId) })))
        .Item;
    } catch (error) {
      throw new DependencyUnavailableError('local secret store', error);
    }
    if (!item) return undefined;
    if (!item.versions && typeof item.secretString === 'string') {
      // Written by an older release: one unversioned value.
      return {
        secretString: item.secretString,
        versions: { initial: { value: item.secretString, stages: [STAGES.current], createdAt: '' } },
        rotationEnabled: false,
        rev: 0,
      };
    }
    return item as unknown as StoredSecret;
  }

  /** Read, change, write back only if nobody wrote in between (two local rotations at once). */
  private async update(secretId: string, change: (secret: StoredSecret) => void): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const found = await this.read(secretId);
      const secret: StoredSecret = found
        ? structuredClone(found)
        : { versions: {}, rotationEnabled: false, rev: 0 };
      change(secret);
      const current = Object.values(secret.versions).find((v) => v.stages.includes(STAGES.current));
      secret.secretString = current?.value;
      prune(secret);
      const rev = secret.rev;
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { ...this.key(secretId), entity: 'secret', ...secret, rev: rev + 1 },
            ConditionExpression: rev === 0 ? 'attribute_not_exists(rev)' : 'rev = :rev',
            ExpressionAttributeValues: rev === 0 ? undefined : { ':rev': rev },
          }),
        );
        return;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
    }
    throw new Error(`secret ${secretId} kept changing while it was updated; try again`);
  }

  private key(secretId: string) {
    return { pk: `SECRET#${secretId}`, sk: 'AWSCURRENT' };
  }
}

/** Puts `stage` on one version only; moving AWSCURRENT labels the version it leaves AWSPREVIOUS. */
function moveStage(secret: StoredSecret, stage: string, toVersionId: string) {
  let left: string | undefined;
  for (const [id, version] of Object.entries(secret.versions)) {
    if (id !== toVersionId && version.stages.includes(stage)) {
      version.stages = version.stages.filter((s) => s !== stage);
      left = id;
    }
  }
  const target = secret.versions[toVersionId];
  if (target && !target.stages.includes(stage)) target.stages.push(stage);
  if (stage === STAGES.current && left) moveStage(secret, STAGES.previous, left);
}

function prune(secret: StoredSecret) {
  const unlabelled = Object.entries(secret.versions)
    .filter(([, v]) => v.stages.length === 0)
    .sort(([, a], [, b]) => a.createdAt.localeCompare(b.createdAt));
  for (const [id] of unlabelled.slice(0, Math.max(0, unlabelled.length - MAX_UNLABELLED_VERSIONS))) {
    delete secret.versions[id];
  }
}
