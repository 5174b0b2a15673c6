import { Webhook } from 'standardwebhooks';
import type { Db } from '../../src/db/database.js';
import { eventsAfter, findEvent, purgeEventsBefore, type OutboxEvent } from '../../src/db/event-outbox.js';
import type { Logger } from '../../src/log/logger.js';
import { openWebhookSecret, sealWebhookSecret } from './webhook-secret.js';
import {
  claimDelivery,
  dueDeliveries,
  findEndpoint,
  listEndpoints,
  queueDeliveries,
  recordAttempt,
  relayPosition,
  sealPlainSecrets,
  type AttemptOutcome,
  type DueDelivery,
} from './webhook-repository.js';

// Relays outbox events to the registered endpoints: hands each new event to the endpoints that
// want it (one persisted delivery each), then POSTs the due deliveries, signed the Standard
// Webhooks way (HMAC-SHA256 over `id.timestamp.body` with the endpoint's secret), and retries
// failures with backoff. The action that caused an event never waits for any of this: it only
// wrote an outbox row in its own transaction. Delivery is at least once: a relay killed mid-request
// leaves the delivery claimed until its lease ends, then it is sent again with the same
// `webhook-id`, which receivers use to drop repeats.

/** Waits before attempts 2, 3, …: the Standard Webhooks schedule (about 28 hours in all). */
export const RETRY_DELAYS_MS: readonly number[] = [
  5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
];
/** How much of an answer's body is kept to show in the app. */
const RESPONSE_EXCERPT_BYTES = 1024;
/** Outbox events are kept this long after they were handed on (the retries end well before). */
const EVENT_RETENTION_MS = 7 * 24 * 3600_000;
const PURGE_EVERY_MS = 3600_000;
const EVENTS_PER_PASS = 200;
const DELIVERIES_PER_PASS = 50;

export interface WebhookRelayDeps {
  db: Db;
  logger: Logger;
  /** BASE_URL: issue events carry the issue's address. */
  baseUrl: string;
  /** SECRET_KEY: opens the endpoints' sealed signing secrets. */
  secretKey: string;
  /** A request's deadline (WEBHOOK_TIMEOUT); a claim lasts twice as long. */
  timeoutMs: number;
  /** Requests in flight at once. */
  concurrency?: number;
  retryDelaysMs?: readonly number[];
  /** How often the loop looks for work when `start`ed. */
  pollMs?: number;
  now?: () => number;
}

/** The JSON body every endpoint receives. */
export interface WebhookPayload {
  type: string;
  timestamp: string;
  data: unknown;
}

export function webhookPayload(event: OutboxEvent, baseUrl: string): WebhookPayload {
  let data = event.data;
  if (event.type === 'issue.sent' && typeof data === 'object' && data !== null && 'slug' in data) {
    data = { ...data, url: `${baseUrl}/issues/${String(data.slug)}` };
  }
  return { type: event.type, timestamp: event.createdAt, data };
}

/** `evt_<outbox id>`: the same on every retry and for every endpoint. */
export const webhookMessageId = (eventId: number): string => `evt_${eventId}`;

async function readExcerpt(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < RESPONSE_EXCERPT_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  await reader.cancel().catch(() => undefined);
  return Buffer.concat(chunks).subarray(0, RESPONSE_EXCERPT_BYTES).toString('utf8');
}

export class WebhookRelay {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopping = new AbortController();
  private lastPurge = 0;
  private plainSecretsSealed = false;

  constructor(private readonly deps: WebhookRelayDeps) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** One pass: hand new events on, send what is due. Safe to run from several processes. */
  async tick(): Promise<void> {
    if (!this.plainSecretsSealed) {
      const { db, secretKey, logger } = this.deps;
      const sealed = await sealPlainSecrets(db, (plain) => sealWebhookSecret(secretKey, plain));
      if (sealed > 0) logger.info({ endpoints: sealed }, 'sealed webhook signing secrets stored as plain text');
      this.plainSecretsSealed = true;
    }
    await this.queueNewEvents();
    await this.sendDue();
    await this.purge();
  }

  private async queueNewEvents(): Promise<void> {
    const { db } = this.deps;
    for (;;) {
      const from = await relayPosition(db);
      const events = await eventsAfter(db, from, EVENTS_PER_PASS);
      if (events.length === 0) return;
      const endpoints = await listEndpoints(db);
      const queued = await queueDeliveries(db, from, events, endpoints, new Date(this.now()).toISOString());
      if (queued && events.length < EVENTS_PER_PASS) return;
    }
  }

  private async sendDue(): Promise<void> {
    const due = await dueDeliveries(this.deps.db, new Date(this.now()).toISOString(), DELIVERIES_PER_PASS);
    const width = this.deps.concurrency ?? 4;
    let next = 0;
    const lane = async () => {
      while (next < due.length && !this.stopping.signal.aborted) {
        const delivery = due[next++];
        if (delivery) await this.attempt(delivery);
      }
    };
    await Promise.all(Array.from({ length: Math.min(width, due.length) }, lane));
  }

  private async attempt(due: DueDelivery): Promise<void> {
    const { db, logger, timeoutMs } = this.deps;
    const now = this.now();
    const claimed = await claimDelivery(
      db,
      due,
      new Date(now).toISOString(),
      new Date(now + 2 * timeoutMs).toISOString(),
    );
    if (!claimed) return;
    const [endpoint, event] = await Promise.all([findEndpoint(db, due.endpointId), findEvent(db, due.eventId)]);
    // Removed meanwhile (the endpoint, or the event by an erasure): its delivery went with it.
    if (!endpoint || !event) return;
    const body = JSON.stringify(webhookPayload(event, this.deps.baseUrl));
    const id = webhookMessageId(event.id);
    const sentAt = new Date(now);
    let outcome: AttemptOutcome;
    try {
      // Inside the try: a secret this SECRET_KEY cannot open is a failed attempt that says why.
      const signature = new Webhook(openWebhookSecret(this.deps.secretKey, endpoint.storedSecret)).sign(
        id,
        sentAt,
        body,
      );
      const res = await fetch(endpoint.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'newsletter-webhooks/1',
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
          'webhook-signature': signature,
        },
        body,
        // A redirect is an answer, not a place to send the signed body again.
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), this.stopping.signal]),
      });
      outcome = { status: res.status, response: await readExcerpt(res), error: null };
    } catch (error) {
      if (this.stopping.signal.aborted) return; // left claimed: tried again when the lease ends
      const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
      const message =
        error instanceof Error
          ? `${error.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : error.message}${cause}`
          : 'request failed';
      outcome = { status: null, response: null, error: message };
    }
    const delivered = outcome.status !== null && outcome.status >= 200 && outcome.status < 300;
    if (!delivered && outcome.error === null) outcome.error = `answered ${outcome.status ?? '?'}`;
    const delays = this.deps.retryDelaysMs ?? RETRY_DELAYS_MS;
    const delay = delays[due.attempts];
    const done = this.now();
    const retryAt = delivered || delay === undefined ? null : new Date(done + delay).toISOString();
    await recordAttempt(db, due.id, { ...outcome, delivered, retryAt, now: new Date(done).toISOString() });
    if (!delivered) {
      logger.warn(
        {
          endpoint: endpoint.id,
          event: event.id,
          attempt: due.attempts + 1,
          status: outcome.status,
          error: outcome.error,
        },
        retryAt ? 'webhook delivery failed; will retry' : 'webhook delivery failed; giving up',
      );
    }
  }

  private async purge(): Promise<void> {
    const now = this.now();
    if (now - this.lastPurge < PURGE_EVERY_MS) return;
    this.lastPurge = now;
    const { db } = this.deps;
    await purgeEventsBefore(db, new Date(now - EVENT_RETENTION_MS).toISOString(), await relayPosition(db));
  }

  /** Runs `tick` every `pollMs` until `stop`. */
  start(): void {
    const pollMs = this.deps.pollMs ?? 1000;
    const loop = () => {
      this.running = this.tick()
        .catch((error: unknown) => this.deps.logger.error({ err: error }, 'webhook relay pass failed'))
        .finally(() => {
          if (!this.stopping.signal.aborted) this.timer = setTimeout(loop, pollMs);
        });
    };
    loop();
  }

  /** Stops the loop; requests in flight are abandoned (their deliveries are retried later). */
  async stop(): Promise<void> {
    this.stopping.abort();
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}

/** The relay of a running service (`serve`, `newsletter webhooks run`), already started. */
export function startWebhookRelay(services: {
  db: Db;
  logger: Logger;
  config: { baseUrl: string; secretKey: string; webhooks: { timeoutMs: number } };
}): WebhookRelay {
  const relay = new WebhookRelay({
    db: services.db,
    logger: services.logger,
    baseUrl: services.config.baseUrl,
    secretKey: services.config.secretKey,
    timeoutMs: services.config.webhooks.timeoutMs,
  });
  relay.start();
  return relay;
}
