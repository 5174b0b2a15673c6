import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../../src/db/database.js';
import { nowIso } from '../../src/db/database.js';
import { OUTBOX_EVENT_TYPES, type OutboxEventType } from '../../src/db/event-outbox.js';
import { insertEndpoint, type WebhookEndpoint } from './webhook-repository.js';
import { sealWebhookSecret } from './webhook-secret.js';

// Registering an endpoint (the app and `newsletter webhooks add` share this): the URL checked, the
// events named, a fresh signing secret made (stored sealed; its text is handed back once, to show).

export const MAX_DESCRIPTION_LENGTH = 200;

export const EVENT_HELP: Record<OutboxEventType, string> = {
  'subscriber.created': 'someone signed up (pending until they confirm) or was added',
  'subscriber.confirmed': 'a sign-up was confirmed, or someone came back',
  'subscriber.updated': 'a subscriber changed their name or topics',
  'subscriber.unsubscribed': 'someone unsubscribed, or complained (status says which)',
  'subscriber.bounced': 'mail to someone bounced for good',
  'subscriber.erased': 'someone had their data erased (only their id is sent)',
  'issue.sent': 'an issue finished sending',
};

export class EndpointInputError extends Error {
  constructor(
    readonly field: 'url' | 'events' | 'description',
    message: string,
  ) {
    super(message);
  }
}

const urlSchema = z.url({ protocol: /^https?$/, hostname: z.regexes.hostname });

/** Reads a comma- or space-separated event list (CLI); names every unknown event. */
export function parseEventList(text: string): OutboxEventType[] {
  const names = [...new Set(text.split(/[\s,]+/).filter((s) => s !== ''))];
  const unknown = names.filter((n) => !(OUTBOX_EVENT_TYPES as readonly string[]).includes(n));
  if (unknown.length > 0) {
    throw new EndpointInputError(
      'events',
      `Unknown event ${unknown.map((s) => `"${s}"`).join(', ')}; events are ${OUTBOX_EVENT_TYPES.join(', ')}`,
    );
  }
  return OUTBOX_EVENT_TYPES.filter((t) => names.includes(t));
}

/** A Standard Webhooks secret: `whsec_` and 24 random bytes in base64 (32 characters, no padding). */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

export async function createEndpoint(
  db: Db,
  secretKey: string,
  input: { url: string; description: string; events: readonly OutboxEventType[]; createdBy: string },
): Promise<WebhookEndpoint & { secret: string }> {
  const url = input.url.trim();
  if (!urlSchema.safeParse(url).success) {
    throw new EndpointInputError(
      'url',
      'Give the full address that receives the events, e.g. https://crm.example.org/hooks/newsletter',
    );
  }
  if (new URL(url).username || new URL(url).password) {
    throw new EndpointInputError(
      'url',
      'Leave user names and passwords out of the address: each delivery is signed instead',
    );
  }
  if (input.events.length === 0) throw new EndpointInputError('events', 'Choose at least one event');
  const description = input.description.trim();
  if (description.length > MAX_DESCRIPTION_LENGTH) {
    throw new EndpointInputError(
      'description',
      `A description can be at most ${MAX_DESCRIPTION_LENGTH} characters long`,
    );
  }
  const secret = newWebhookSecret();
  const endpoint = await insertEndpoint(db, {
    url,
    description,
    events: input.events,
    storedSecret: sealWebhookSecret(secretKey, secret),
    createdBy: input.createdBy,
    now: nowIso(),
  });
  return { ...endpoint, secret };
}
