import { randomUUID } from 'node:crypto';
import { appendFile } from 'node:fs/promises';
import type { Log, Page, Pager } from '../ports.ts';

export interface LocalPagerProps {
  /** `outbox.jsonl` in the data folder: one line per page, as SNS would have received it. */
  readonly outboxFile: string;
  readonly log: Log;
  /** Also POSTs each page's JSON body here (local.pagerWebhookUrl), e.g. a chat incoming webhook. */
  readonly webhookUrl?: string;
  readonly now?: () => Date;
}

/** The local stand-in for SNS: pages go to the console, the outbox file and an optional webhook. */
export class LocalPager implements Pager {
  constructor(private readonly props: LocalPagerProps) {}

  async publish(page: Page): Promise<{ messageId: string }> {
    const messageId = randomUUID();
    const at = (this.props.now?.() ?? new Date()).toISOString();
    await appendFile(
      this.props.outboxFile,
      `${JSON.stringify({ at, messageId, topic: page.topic, subject: page.subject, attributes: page.attributes, messages: page.messages })}\n`,
      { mode: 0o600 },
    );
    this.props.log.warn(`PAGE → ${page.topic}: ${page.subject}`, {
      event: page.attributes.event,
      sms: page.messages.sms,
    });
    if (this.props.webhookUrl) {
      try {
        const response = await fetch(this.props.webhookUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: page.messages.json,
          signal: AbortSignal.timeout(5_000),
        });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
      } catch (error) {
        // The outbox has the page; a chat webhook being down must not stop the escalation.
        this.props.log.warn('pager webhook did not take the page (it is in the outbox)', {
          error: (error as Error).message,
        });
      }
    }
    return { messageId };
  }
}
