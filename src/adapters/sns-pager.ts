import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { snsMessageOf } from '../escalation/pages.ts';
import { DependencyUnavailableError, type Page, type Pager } from '../ports.ts';

export interface SnsPagerProps {
  readonly client: SNSClient;
  /** Topic name in the config → topic ARN (the stack passes them as ESCALATION_TOPICS). */
  readonly topicArns: Readonly<Record<string, string>>;
}

/** Errors a retry cannot fix: a wrong ARN, a refused parameter, a missing permission. */
const PERMANENT = new Set([
  'InvalidParameterException',
  'InvalidParameterValueException',
  'NotFoundException',
  'AuthorizationErrorException',
  'KMSAccessDeniedException',
  'KMSDisabledException',
  'KMSNotFoundException',
]);

/**
 * Publishes a page to its SNS topic: one body per protocol (`MessageStructure: 'json'`) and message
 * attributes for subscription filter policies.
 */
export class SnsPager implements Pager {
  constructor(private readonly props: SnsPagerProps) {}

  async publish(page: Page): Promise<{ messageId: string }> {
    const topicArn = this.props.topicArns[page.topic];
    if (!topicArn) {
      throw new Error(`no SNS topic for '${page.topic}': redeploy the stack so ESCALATION_TOPICS lists it`);
    }
    try {
      const answer = await this.props.client.send(
        new PublishCommand({
          TopicArn: topicArn,
          Subject: page.subject,
          Message: snsMessageOf(page.messages),
          MessageStructure: 'json',
          MessageAttributes: Object.fromEntries(
            Object.entries(page.attributes).map(([name, value]) => [
              name,
              { DataType: 'String', StringValue: value },
            ]),
          ),
        }),
      );
      return { messageId: answer.MessageId ?? '' };
    } catch (error) {
      if (PERMANENT.has((error as { name?: string }).name ?? '')) throw error;
      throw new DependencyUnavailableError('SNS', error);
    }
  }
}

export function topicArnsFromEnv(value: string | undefined): Record<string, string> {
  if (!value) return {};
  const parsed = JSON.parse(value) as unknown;
  if (!parsed || typeof parsed !== 'object') throw new Error('ESCALATION_TOPICS must be a JSON object');
  return parsed as Record<string, string>;
}
