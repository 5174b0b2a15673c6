import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { FeedbackReport } from '../feedback-processor.js';
import { header, parseJson, WebhookRejection, type WebhookProvider, type WebhookRequest } from './provider.js';

// Postmark's bounce and spam-complaint webhooks, authenticated by the Basic credentials set on the
// webhook's URL (POSTMARK_WEBHOOK_AUTH = user:password). A hard bounce is Postmark's permanent
// kind: HardBounce or BadEmailAddress, or any bounce after which Postmark deactivated the address.

const postmarkSchema = z.object({
  RecordType: z.string(),
  ID: z.union([z.number(), z.string()]),
  Type: z.string().optional(),
  Email: z.string().optional(),
  Details: z.string().optional(),
  Description: z.string().optional(),
  Inactive: z.boolean().optional(),
});

const HARD_TYPES = new Set(['HardBounce', 'BadEmailAddress']);
const SOFT_TYPES = new Set(['SoftBounce', 'Transient', 'DnsError']);
const IGNORED_TYPES = new Set([
  'AutoResponder',
  'Subscribe',
  'AddressChange',
  'OpenRelayTest',
  'ChallengeVerification',
]);

export class PostmarkWebhook implements WebhookProvider {
  readonly name = 'postmark' as const;
  private readonly expected: Buffer;

  constructor(deps: { credentials: string }) {
    this.expected = Buffer.from(`Basic ${Buffer.from(deps.credentials, 'utf8').toString('base64')}`, 'utf8');
  }

  receive(request: WebhookRequest): Promise<FeedbackReport[]> {
    const given = Buffer.from(header(request, 'authorization') ?? '', 'utf8');
    if (given.length !== this.expected.length || !timingSafeEqual(given, this.expected)) {
      throw new WebhookRejection(401, 'Postmark credentials check failed');
    }
    const event = parseJson(request.body, postmarkSchema);
    if (!event.Email) return Promise.resolve([]);
    const common = {
      source: 'postmark' as const,
      eventId: `${event.RecordType}:${event.ID}`,
      recipient: event.Email,
      recipientTrusted: true,
    };
    const diagnostic = [event.Type, event.Details || event.Description].filter(Boolean).join(': ');
    if (event.RecordType === 'SpamComplaint' || event.Type === 'SpamComplaint') {
      return Promise.resolve([{ ...common, kind: 'complaint', diagnostic }]);
    }
    if (event.RecordType !== 'Bounce' || IGNORED_TYPES.has(event.Type ?? '')) return Promise.resolve([]);
    const kind =
      HARD_TYPES.has(event.Type ?? '') || event.Inactive === true
        ? 'hard'
        : SOFT_TYPES.has(event.Type ?? '')
          ? 'soft'
          : 'unclassified';
    return Promise.resolve([{ ...common, kind, diagnostic }]);
  }
}
