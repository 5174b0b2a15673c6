import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { BounceAddresses } from '../bounce-address.js';
import type { FeedbackReport } from '../feedback-processor.js';
import { parseJson, WebhookRejection, type WebhookProvider, type WebhookRequest } from './provider.js';

// Mailgun's webhooks (JSON): `signature` holds timestamp, token and HMAC-SHA256(signing key,
// timestamp + token) in hex; a timestamp older (or newer) than five minutes is refused, so a
// captured request cannot be replayed later. `failed` events carry `severity` permanent or
// temporary; `complained` is a complaint.

const mailgunSchema = z.object({
  signature: z.object({ timestamp: z.string(), token: z.string().min(1), signature: z.string().min(1) }),
  'event-data': z.object({
    id: z.string().min(1),
    event: z.string(),
    severity: z.string().optional(),
    reason: z.string().optional(),
    recipient: z.string().optional(),
    envelope: z.object({ sender: z.string().optional() }).partial().optional(),
    'delivery-status': z
      .object({
        code: z.number().optional(),
        message: z.string().optional(),
        description: z.string().optional(),
        'enhanced-code': z.string().optional(),
      })
      .partial()
      .optional(),
    message: z
      .object({ headers: z.record(z.string(), z.string()).optional() })
      .partial()
      .optional(),
  }),
});

export const MAILGUN_MAX_AGE_MS = 5 * 60_000;

export class MailgunWebhook implements WebhookProvider {
  readonly name = 'mailgun' as const;

  constructor(
    private readonly deps: {
      signingKey: string;
      addresses: BounceAddresses | null;
      now?: () => number;
    },
  ) {}

  receive(request: WebhookRequest): Promise<FeedbackReport[]> {
    const payload = parseJson(request.body, mailgunSchema);
    const { timestamp, token, signature } = payload.signature;
    const expected = createHmac('sha256', this.deps.signingKey)
      .update(timestamp + token)
      .digest('hex');
    const given = Buffer.from(signature, 'utf8');
    if (given.length !== expected.length || !timingSafeEqual(given, Buffer.from(expected, 'utf8'))) {
      throw new WebhookRejection(401, 'Mailgun signature check failed');
    }
    const age = (this.deps.now ?? Date.now)() - Number(timestamp) * 1000;
    if (!Number.isFinite(age) || Math.abs(age) > MAILGUN_MAX_AGE_MS) {
      throw new WebhookRejection(401, 'Mailgun signature too old (or from the future): refused as a replay');
    }
    return Promise.resolve(this.reports(payload['event-data']));
  }

  private reports(event: z.infer<typeof mailgunSchema>['event-data']): FeedbackReport[] {
    if (!event.recipient) return [];
    const status = event['delivery-status'];
    const messageId = event.message?.headers?.['message-id'];
    const common = {
      source: 'mailgun' as const,
      eventId: event.id,
      recipient: event.recipient,
      recipientTrusted: true,
      delivery: (event.envelope?.sender && this.deps.addresses?.parse(event.envelope.sender)) || null,
      originalMessageIds: messageId ? [messageId.startsWith('<') ? messageId : `<${messageId}>`] : [],
    };
    if (event.event === 'complained') return [{ ...common, kind: 'complaint', diagnostic: 'Mailgun complaint' }];
    if (event.event !== 'failed') return [];
    const diagnostic = [status?.code, status?.message || status?.description || event.reason].filter(Boolean).join(' ');
    return [
      {
        ...common,
        kind: event.severity === 'permanent' ? 'hard' : 'soft',
        status: status?.['enhanced-code'] || null,
        diagnostic: diagnostic !== '' ? diagnostic : `Mailgun ${event.severity ?? ''} failure`,
      },
    ];
  }
}
