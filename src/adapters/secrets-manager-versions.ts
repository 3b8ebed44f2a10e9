import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { type SecretDescription, SecretVersionNotFoundError, type SecretVersions } from '../ports.ts';

/** Secret versions and staging labels in Secrets Manager: what the rotate function reads and moves. */
export class SecretsManagerVersions implements SecretVersions {
  constructor(private readonly client: SecretsManagerClient) {}

  async describeSecret(secretId: string): Promise<SecretDescription> {
    const described = await this.client.send(new DescribeSecretCommand({ SecretId: secretId }));
    return {
      arn: described.ARN ?? secretId,
      name: described.Name ?? secretId,
      rotationEnabled: described.RotationEnabled === true,
      versions: Object.entries(described.VersionIdsToStages ?? {}).map(([versionId, stages]) => ({
        versionId,
        stages: stages ?? [],
      })),
    };
  }

  async getSecretVersion(secretId: string, which: { versionId?: string; stage?: string } = {}) {
    try {
      const got = await this.client.send(
        new GetSecretValueCommand({
          SecretId: secretId,
          VersionId: which.versionId,
          VersionStage: which.stage ?? (which.versionId ? undefined : 'AWSCURRENT'),
        }),
      );
      if (typeof got.SecretString !== 'string') {
        throw new Error(`secret ${secretId} has no SecretString (binary secrets are not rotated)`);
      }
      return { versionId: got.VersionId ?? '', stages: got.VersionStages ?? [], value: got.SecretString };
    } catch (error) {
      if ((error as { name?: string }).name === 'ResourceNotFoundException') {
        throw new SecretVersionNotFoundError(secretId, which.versionId ?? which.stage ?? 'AWSCURRENT');
      }
      throw error;
    }
  }

  async putPendingValue(secretId: string, token: string, value: string) {
    await this.client.send(
      new PutSecretValueCommand({
        SecretId: secretId,
        ClientRequestToken: token,
        SecretString: value,
        VersionStages: ['AWSPENDING'],
      }),
    );
  }

  async updateStage(secretId: string, stage: string, move: { toVersionId?: string; fromVersionId?: string }) {
    await this.client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: secretId,
        VersionStage: stage,
        MoveToVersionId: move.toVersionId,
        RemoveFromVersionId: move.fromVersionId,
      }),
    );
  }
}
