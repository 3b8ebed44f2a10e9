import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import {
  type ITopicSubscription,
  SubscriptionFilter,
  SubscriptionProtocol,
  Topic,
} from 'aws-cdk-lib/aws-sns';
import { EmailSubscription, SmsSubscription, UrlSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { TopicConfig } from '../../src/config/escalation.ts';

/** The String message attributes every page carries (src/escalation/pages.ts); filters may use only these. */
export const PAGE_ATTRIBUTES = ['severity', 'tier', 'incident_id', 'service', 'event'] as const;

/** SNS refuses a display name longer than this. */
export const SNS_DISPLAY_NAME_MAX = 100;

const TOPIC_NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;

export interface EscalationTopicsProps {
  /** One SNS topic per entry (config `escalation.topics`), keyed by the name the escalation policy uses. */
  readonly topics: Readonly<Record<string, TopicConfig>>;
  /**
   * Prefix of each topic's default display name (`${displayNamePrefix} ${name}`), shown as the sender of
   * SMS and email when the topic sets no `displayName`.
   */
  readonly displayNamePrefix: string;
  /** @default - a new customer-managed key with yearly rotation, shared by every topic */
  readonly encryptionKey?: IKey;
}

/**
 * The paging topics: one SNS topic per configured name, KMS-encrypted with a customer-managed key,
 * refusing publishes without TLS, with the configured email, SMS and HTTPS subscriptions and their
 * filter policies on the page attributes.
 */
export class EscalationTopics extends Construct {
  /** Topic name in the config → topic. */
  public readonly topics: Readonly<Record<string, Topic>>;
  /** The key that encrypts every topic. */
  public readonly key: IKey;

  constructor(scope: Construct, id: string, props: EscalationTopicsProps) {
    super(scope, id);
    validate(props);
    this.key =
      props.encryptionKey ??
      new Key(this, 'Key', { description: 'Responder paging topics encryption', enableKeyRotation: true });
    const topics: Record<string, Topic> = {};
    for (const [name, config] of Object.entries(props.topics)) {
      const topic = new Topic(this, name, {
        displayName: (config.displayName ?? `${props.displayNamePrefix} ${name}`).slice(
          0,
          SNS_DISPLAY_NAME_MAX,
        ),
        masterKey: this.key,
        enforceSSL: true,
      });
      for (const subscription of config.subscriptions) topic.addSubscription(subscriptionOf(subscription));
      topics[name] = topic;
    }
    this.topics = topics;
  }

  /** Topic name → topic ARN, as the functions read it from ESCALATION_TOPICS. */
  get topicArns(): Record<string, string> {
    return Object.fromEntries(Object.entries(this.topics).map(([name, topic]) => [name, topic.topicArn]));
  }

  /** `sns:Publish` on every topic, and `kms:GenerateDataKey*`/`kms:Decrypt` on their key. */
  grantPublish(grantee: IGrantable): void {
    for (const topic of Object.values(this.topics)) topic.grantPublish(grantee);
  }
}

type SubscriptionConfig = TopicConfig['subscriptions'][number];

function subscriptionOf(subscription: SubscriptionConfig): ITopicSubscription {
  const filterPolicy = subscription.filter
    ? Object.fromEntries(
        Object.entries(subscription.filter).map(([attribute, values]) => [
          attribute,
          SubscriptionFilter.stringFilter({ allowlist: values }),
        ]),
      )
    : undefined;
  switch (subscription.protocol) {
    case 'email':
      return new EmailSubscription(subscription.endpoint, { filterPolicy });
    case 'sms':
      return new SmsSubscription(subscription.endpoint, { filterPolicy });
    case 'https':
      return new UrlSubscription(subscription.endpoint, {
        protocol: SubscriptionProtocol.HTTPS,
        filterPolicy,
      });
  }
}

function validate(props: EscalationTopicsProps) {
  const names = Object.keys(props.topics);
  if (names.length === 0) throw new Error('EscalationTopics needs at least one topic');
  for (const name of names) {
    if (!TOPIC_NAME.test(name)) {
      throw new Error(`topic name '${name}': use 1-40 lower-case letters, digits and dashes`);
    }
    const config = props.topics[name];
    if (!config) continue;
    if (config.displayName !== undefined && config.displayName.length > SNS_DISPLAY_NAME_MAX) {
      throw new Error(`topic ${name}: displayName is longer than SNS's ${SNS_DISPLAY_NAME_MAX} characters`);
    }
    const endpoints = new Set<string>();
    config.subscriptions.forEach((subscription, index) => {
      const where = `topic ${name}, subscriptions[${index}]`;
      const key = `${subscription.protocol}:${subscription.endpoint}`;
      if (endpoints.has(key)) {
        throw new Error(`${where}: ${key} is subscribed twice; SNS keeps one subscription per endpoint`);
      }
      endpoints.add(key);
      for (const [attribute, values] of Object.entries(subscription.filter ?? {})) {
        if (!(PAGE_ATTRIBUTES as readonly string[]).includes(attribute)) {
          throw new Error(
            `${where}: filter on '${attribute}' would drop every page; pages carry ${PAGE_ATTRIBUTES.join(', ')}`,
          );
        }
        if (values.length === 0) throw new Error(`${where}: filter on '${attribute}' lists no values`);
      }
    });
  }
}
