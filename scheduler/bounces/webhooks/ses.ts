import { z } from 'zod';
import type { BounceAddresses } from '../bounce-address.js';
import type { FeedbackReport } from '../feedback-processor.js';
import { parseJson, WebhookRejection, type WebhookProvider, type WebhookRequest } from './provider.js';
import { snsMessageSchema, type SnsVerifier, type SnsMessage } from './sns-verifier.js';

// Amazon SES bounce and complaint notifications delivered by SNS to /webhooks/ses. Both SES's
// notification form (`notificationType`) and its event-publishing form (`eventType`) are read.

const recipient = z.object({
  emailAddress: z.string(),
  status: z.string().optional(),
  diagnosticCode: z.string().optional(),
  action: z.string().optional(),
});

const sesEventSchema = z.object({
  notificationType: z.string().optional(),
  eventType: z.string().optional(),
  bounce: z
    .object({
      bounceType: z.string(),
      bounceSubType: z.string().optional(),
      bouncedRecipients: z.array(recipient),
      feedbackId: z.string().optional(),
    })
    .optional(),
  complaint: z
    .object({
      complainedRecipients: z.array(z.object({ emailAddress: z.string() })),
      complaintFeedbackType: z.string().optional(),
      feedbackId: z.string().optional(),
    })
    .optional(),
  mail: z
    .object({
      source: z.string().optional(),
      messageId: z.string().optional(),
      commonHeaders: z.object({ messageId: z.string().optional() }).partial().optional(),
    })
    .optional(),
});

export interface SesWebhookDeps {
  verifier: SnsVerifier;
  addresses: BounceAddresses | null;
  /** Topics taken (SES_TOPIC_ARNS); empty = any. */
  topicArns: string[];
  logger: { info(fields: object, message: string): void };
}

export class SesWebhook implements WebhookProvider {
  readonly name = 'ses' as const;

  constructor(private readonly deps: SesWebhookDeps) {}

  async receive(request: WebhookRequest): Promise<FeedbackReport[]> {
    // SNS posts JSON as text/plain; the body is read as it is whatever the content type.
    const message = parseJson(request.body, snsMessageSchema);
    try {
      await this.deps.verifier.verify(message);
    } catch (error) {
      throw new WebhookRejection(
        401,
        `SNS signature check failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const { topicArns } = this.deps;
    if (topicArns.length > 0 && !topicArns.includes(message.TopicArn)) {
      throw new WebhookRejection(403, `topic ${message.TopicArn} is not in SES_TOPIC_ARNS`);
    }
    if (message.Type === 'SubscriptionConfirmation') {
      await this.deps.verifier.confirmSubscription(message);
      this.deps.logger.info({ topic: message.TopicArn }, 'SNS subscription confirmed');
      return [];
    }
    if (message.Type === 'UnsubscribeConfirmation') return [];
    return this.reports(message);
  }

  private reports(message: SnsMessage): FeedbackReport[] {
    const event = parseJson(Buffer.from(message.Message, 'utf8'), sesEventSchema);
    const type = event.notificationType ?? event.eventType;
    const delivery = (event.mail?.source && this.deps.addresses?.parse(event.mail.source)) || null;
    const messageId = event.mail?.commonHeaders?.messageId;
    const common = {
      source: 'ses' as const,
      delivery,
      recipientTrusted: true,
      originalMessageIds: messageId ? [messageId] : [],
    };
    if (type === 'Bounce' && event.bounce) {
      const bounce = event.bounce;
      const kind =
        bounce.bounceType === 'Permanent' ? 'hard' : bounce.bounceType === 'Transient' ? 'soft' : 'unclassified';
      return bounce.bouncedRecipients.map((r) => ({
        ...common,
        eventId: `${message.MessageId}:${r.emailAddress}`,
        kind,
        recipient: r.emailAddress,
        status: r.status ?? null,
        diagnostic: r.diagnosticCode ?? `SES ${bounce.bounceType}/${bounce.bounceSubType ?? ''}`,
      }));
    }
    if (type === 'Complaint' && event.complaint) {
      const complaint = event.complaint;
      return complaint.complainedRecipients.map((r) => ({
        ...common,
        eventId: `${message.MessageId}:${r.emailAddress}`,
        kind: 'complaint' as const,
        recipient: r.emailAddress,
        diagnostic: `SES complaint${complaint.complaintFeedbackType ? `: ${complaint.complaintFeedbackType}` : ''}`,
      }));
    }
    // Deliveries, opens and the like: nothing to do.
    return [];
  }
}
