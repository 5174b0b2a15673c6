import type { BounceAddresses, DeliveryRef } from './bounce-address.js';
import type { FeedbackSource } from './feedback-repository.js';
import type { FeedbackProcessor, FeedbackReport, FeedbackResult } from './feedback-processor.js';
import { readReturnedMail, type ReturnedMail } from './returned-mail.js';

// Mail that came back (through the SMTP receiver or the bounce mailbox) becomes one feedback
// report for the pipeline, or is set aside: auto-replies and reports that ask for nothing change
// nothing and are not recorded.

export interface InboundContext {
  source: Extract<FeedbackSource, 'smtp' | 'imap'>;
  /** The delivery the envelope recipient named (the receiver checked its token at RCPT). */
  delivery?: DeliveryRef;
}

export type InboundResult = { ignored: string; mail: ReturnedMail } | (FeedbackResult & { mail: ReturnedMail });

export interface ReturnedMailHandler {
  handle(raw: Buffer, context: InboundContext): Promise<InboundResult>;
}

export class InboundMail implements ReturnedMailHandler {
  constructor(
    private readonly deps: {
      processor: Pick<FeedbackProcessor, 'apply'>;
      /** Absent without BOUNCE_DOMAIN: then only a recipient vouched for by the original's Message-ID counts. */
      addresses: BounceAddresses | null;
    },
  ) {}

  async handle(raw: Buffer, context: InboundContext): Promise<InboundResult> {
    const mail = await readReturnedMail(raw);
    const verdict = mail.verdict;
    if (verdict.kind === 'auto-reply') return { ignored: 'auto-reply', mail };
    if (verdict.kind === 'no-action') return { ignored: verdict.reason, mail };
    const delivery = context.delivery ?? this.deps.addresses?.findIn(mail.addressText) ?? null;
    const common = {
      source: context.source,
      // Keyed by the delivery too: reports from different places may share a Message-ID.
      eventId: delivery ? `${mail.eventId}#${delivery.issueId}.${delivery.subscriberId}` : mail.eventId,
      delivery,
      recipientTrusted: false,
      originalMessageIds: mail.originalMessageIds,
      subject: mail.subject,
      from: mail.from,
    };
    let report: FeedbackReport;
    switch (verdict.kind) {
      case 'bounce':
        report = {
          ...common,
          kind: verdict.severity,
          recipient: verdict.recipient,
          status: verdict.status,
          diagnostic: verdict.diagnostic,
        };
        break;
      case 'complaint':
        report = {
          ...common,
          kind: 'complaint',
          recipient: verdict.recipient,
          diagnostic: `Feedback-Type: ${verdict.feedbackType}`,
        };
        break;
      case 'unclassified':
        report = { ...common, kind: 'unclassified', diagnostic: verdict.reason, excerpt: mail.excerpt };
        break;
    }
    return { ...(await this.deps.processor.apply(report)), mail };
  }
}
