import type { IncomingHttpHeaders } from 'node:http';
import type { ZodType } from 'zod';
import type { FeedbackReport } from '../feedback-processor.js';

// What every provider webhook (webhooks/<provider>.ts) does: check that the request comes from the
// provider, and turn its events into feedback reports. The route answers 401 to a failed check and
// changes nothing.

export interface WebhookRequest {
  headers: IncomingHttpHeaders;
  /** The body exactly as it arrived (SendGrid signs the bytes). */
  body: Buffer;
}

export interface WebhookProvider {
  readonly name: 'ses' | 'mailgun' | 'postmark' | 'sendgrid';
  /** The events of an authentic request; throws WebhookRejection otherwise. */
  receive(request: WebhookRequest): Promise<FeedbackReport[]>;
}

/** A request refused: 401 when its authenticity failed, 400 when it is not what the provider sends. */
export class WebhookRejection extends Error {
  constructor(
    readonly status: 400 | 401 | 403,
    message: string,
  ) {
    super(message);
  }
}

/** Parses the body as JSON of the given shape, or refuses it with 400 naming the problem. */
export function parseJson<T>(body: Buffer, schema: ZodType<T>): T {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new WebhookRejection(400, 'the body is not JSON');
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new WebhookRejection(
      400,
      `unexpected payload: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(),
    );
  }
  return parsed.data;
}

/** One header's value (the first, when repeated). */
export function header(request: WebhookRequest, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}
