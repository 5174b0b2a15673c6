import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import type { FeedbackReport } from '../feedback-processor.js';
import { header, parseJson, WebhookRejection, type WebhookProvider, type WebhookRequest } from './provider.js';

// SendGrid's signed Event Webhook: ECDSA (P-256, SHA-256) over the timestamp header followed by
// the body's exact bytes, verified with the public key SendGrid shows (SENDGRID_WEBHOOK_PUBLIC_KEY,
// base64 DER or PEM). `bounce` of type `bounce` is permanent, of type `blocked` and `deferred`
// temporary; `spamreport` is a complaint; `dropped` (SendGrid's own suppression) says nothing new.

const SIGNATURE_HEADER = 'x-twilio-email-event-webhook-signature';
const TIMESTAMP_HEADER = 'x-twilio-email-event-webhook-timestamp';

const sendgridSchema = z.array(
  z.looseObject({
    email: z.string(),
    event: z.string(),
    sg_event_id: z.string().min(1),
    type: z.string().optional(),
    status: z.string().optional(),
    reason: z.string().optional(),
    response: z.string().optional(),
    'smtp-id': z.string().optional(),
  }),
);

export function sendgridKey(text: string): KeyObject {
  const trimmed = text.trim();
  if (trimmed.startsWith('-----BEGIN')) return createPublicKey(trimmed);
  return createPublicKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'spki' });
}

export class SendgridWebhook implements WebhookProvider {
  readonly name = 'sendgrid' as const;
  private readonly key: KeyObject;

  constructor(deps: { publicKey: string }) {
    this.key = sendgridKey(deps.publicKey);
  }

  receive(request: WebhookRequest): Promise<FeedbackReport[]> {
    const signature = header(request, SIGNATURE_HEADER);
    const timestamp = header(request, TIMESTAMP_HEADER);
    const valid =
      signature !== undefined &&
      timestamp !== undefined &&
      verify(
        'sha256',
        Buffer.concat([Buffer.from(timestamp, 'utf8'), request.body]),
        this.key,
        Buffer.from(signature, 'base64'),
      );
    if (!valid) throw new WebhookRejection(401, 'SendGrid signature check failed');
    const reports: FeedbackReport[] = [];
    for (const event of parseJson(request.body, sendgridSchema)) {
      const common = {
        source: 'sendgrid' as const,
        eventId: event.sg_event_id,
        recipient: event.email,
        recipientTrusted: true,
        originalMessageIds: event['smtp-id'] ? [event['smtp-id']] : [],
        status: event.status ?? null,
        diagnostic: event.reason ?? event.response ?? event.event,
      };
      if (event.event === 'spamreport') reports.push({ ...common, kind: 'complaint' });
      else if (event.event === 'bounce') reports.push({ ...common, kind: event.type === 'blocked' ? 'soft' : 'hard' });
      else if (event.event === 'deferred') reports.push({ ...common, kind: 'soft' });
    }
    return Promise.resolve(reports);
  }
}
