import type { ClaimedDelivery, DeliveryCounts } from '../../scheduler/delivery-repository.js';
import type { Recipient } from '../../scheduler/message-builder.js';
import type {
  BounceOutcome,
  DeliveryStore,
  EditionSource,
  MessageFactory,
  SendTransport,
} from '../../scheduler/send-manager.js';
import type { DeliveryStatus, IssueStatus, SubscriberStatus } from '../../src/db/schema.js';
import { SendError, type OutgoingMessage, type SendResult } from '../../src/mail/messenger.js';
import type { CompiledEdition } from '../../src/render/issue-renderer.js';

// In-memory implementations of the SendManager's own small interfaces, for fast logic tests of
// the engine. The real store (SQLite) and the real transport (SMTP) have their own tests.

export interface MemoryDelivery {
  id: number;
  editionKey: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date | null;
  lastError: string | null;
  subscriber: { id: number; uid: string; email: string; name: string; status: SubscriberStatus };
  bounced: boolean;
  /** Who holds it while `sending`: this store's sender, or another that took it over. */
  claimedBy: string | null;
}

export interface RetryRecord {
  id: number;
  attempts: number;
  delayMs: number;
}

export class MemoryDeliveryStore implements DeliveryStore {
  readonly deliveries: MemoryDelivery[] = [];
  status: IssueStatus = 'sending';
  pauseReason: string | null = null;
  readonly claims: number[][] = [];
  readonly retries: RetryRecord[] = [];
  /** When set, the next bounce trips the safety net with this reason. */
  bounceNetReason: string | null = null;

  constructor(private readonly now: () => Date = () => new Date()) {}

  add(editionKey: string, email: string, fields: Partial<MemoryDelivery> = {}): MemoryDelivery {
    const id = this.deliveries.length + 1;
    const delivery: MemoryDelivery = {
      id,
      editionKey,
      status: 'pending',
      attempts: 0,
      nextAttemptAt: null,
      lastError: null,
      subscriber: { id, uid: `uid-${id}`, email, name: '', status: 'active' },
      bounced: false,
      claimedBy: null,
      ...fields,
    };
    this.deliveries.push(delivery);
    return delivery;
  }

  byEmail(email: string): MemoryDelivery {
    const found = this.deliveries.find((d) => d.subscriber.email === email);
    if (!found) throw new Error(`no delivery to ${email}`);
    return found;
  }

  private get(id: number): MemoryDelivery {
    const found = this.deliveries.find((d) => d.id === id);
    if (!found) throw new Error(`no delivery ${id}`);
    return found;
  }

  claim(limit: number): Promise<ClaimedDelivery[]> {
    const now = this.now();
    const due = this.deliveries
      .filter((d) => d.status === 'pending' && (d.nextAttemptAt === null || d.nextAttemptAt <= now))
      .sort((a, b) => (a.editionKey < b.editionKey ? -1 : a.editionKey > b.editionKey ? 1 : a.id - b.id))
      .slice(0, limit);
    for (const d of due) Object.assign(d, { status: 'sending', claimedBy: MemoryDeliveryStore.SENDER });
    this.claims.push(due.map((d) => d.id));
    return Promise.resolve(
      due.map((d) => ({ id: d.id, editionKey: d.editionKey, attempts: d.attempts, subscriber: { ...d.subscriber } })),
    );
  }

  static readonly SENDER = 'memory-sender';

  /** Writes a result only while this sender holds the claim, as the SQL store does. */
  private settle(id: number, fields: Partial<MemoryDelivery>): Promise<boolean> {
    const d = this.get(id);
    if (d.status !== 'sending' || d.claimedBy !== MemoryDeliveryStore.SENDER) return Promise.resolve(false);
    Object.assign(d, { claimedBy: null, ...fields });
    return Promise.resolve(true);
  }

  markSent(id: number, attempts: number): Promise<boolean> {
    return this.settle(id, { status: 'sent', attempts, lastError: null, nextAttemptAt: null });
  }

  markSkipped(ids: number[], reason: string): Promise<void> {
    for (const id of ids) Object.assign(this.get(id), { status: 'skipped', lastError: reason });
    return Promise.resolve();
  }

  markRetry(id: number, attempts: number, retryInMs: number, error: string): Promise<boolean> {
    this.retries.push({ id, attempts, delayMs: retryInMs });
    const nextAttemptAt = new Date(this.now().getTime() + retryInMs);
    return this.settle(id, { status: 'pending', attempts, nextAttemptAt, lastError: error });
  }

  markFailed(id: number, attempts: number, error: string): Promise<boolean> {
    return this.settle(id, { status: 'failed', attempts, lastError: error, nextAttemptAt: null });
  }

  async bounce(id: number, attempts: number, error: string): Promise<BounceOutcome> {
    if (this.bounceNetReason !== null) {
      if (!(await this.settle(id, { status: 'pending', attempts, lastError: error }))) return { outcome: 'lost' };
      await this.pause(this.bounceNetReason);
      return { outcome: 'paused', reason: this.bounceNetReason };
    }
    const written = await this.settle(id, { status: 'failed', attempts, lastError: error, bounced: true });
    return { outcome: written ? 'recorded' : 'lost' };
  }

  release(ids: number[]): Promise<void> {
    for (const id of ids) {
      const d = this.get(id);
      if (d.status === 'sending' && d.claimedBy === MemoryDeliveryStore.SENDER)
        Object.assign(d, { status: 'pending', claimedBy: null });
    }
    return Promise.resolve();
  }

  requeue(ids: number[]): Promise<void> {
    for (const id of ids) {
      const d = this.get(id);
      if (d.status === 'failed' || d.status === 'pending') Object.assign(d, { status: 'pending', nextAttemptAt: null });
    }
    return Promise.resolve();
  }

  retryDueInMs(): Promise<number | null> {
    const times = this.deliveries
      .filter((d) => d.status === 'pending' && d.nextAttemptAt !== null)
      .map((d) => (d.nextAttemptAt as Date).getTime());
    return Promise.resolve(times.length > 0 ? Math.min(...times) - this.now().getTime() : null);
  }

  counts(): Promise<DeliveryCounts> {
    const counts: DeliveryCounts = { planned: 0, pending: 0, sending: 0, sent: 0, skipped: 0, failed: 0 };
    for (const d of this.deliveries) {
      counts[d.status]++;
      counts.planned++;
    }
    return Promise.resolve(counts);
  }

  control(): Promise<{ status: IssueStatus; pauseReason: string | null }> {
    return Promise.resolve({ status: this.status, pauseReason: this.pauseReason });
  }

  pause(reason: string): Promise<void> {
    if (this.status === 'sending') {
      this.status = 'paused';
      this.pauseReason = reason;
    }
    return Promise.resolve();
  }

  skipRemaining(reason: string): Promise<void> {
    for (const d of this.deliveries)
      if (d.status === 'pending') Object.assign(d, { status: 'skipped', lastError: reason });
    return Promise.resolve();
  }

  finish(): Promise<boolean> {
    if (this.status !== 'sending') return Promise.resolve(false);
    if (this.deliveries.some((d) => d.status === 'pending' || d.status === 'sending')) return Promise.resolve(false);
    this.status = 'sent';
    return Promise.resolve(true);
  }
}

type Reply = (message: OutgoingMessage, attempt: number) => SendError | undefined | 'hold';

/**
 * A transport that answers each message as `reply` decides: accepted, refused with a SendError,
 * or held (no answer) until `releaseHeld()` or `abort()`.
 */
export class MemoryTransport implements SendTransport {
  readonly accepted: OutgoingMessage[] = [];
  readonly attempts = new Map<string, number>();
  private readonly held: { message: OutgoingMessage; resolve: (r: SendResult) => void; reject: (e: Error) => void }[] =
    [];
  private readonly heldWaiters: { count: number; resolve: () => void }[] = [];
  aborted = 0;

  constructor(
    private readonly reply: Reply = () => undefined,
    /** Answer after this long, like a server across a network (0: at once). */
    private readonly delayMs = 0,
  ) {}

  send(message: OutgoingMessage): Promise<SendResult> {
    const to = recipientOf(message);
    const attempt = (this.attempts.get(to) ?? 0) + 1;
    this.attempts.set(to, attempt);
    const answer = this.reply(message, attempt);
    if (answer === 'hold') {
      return new Promise<SendResult>((resolve, reject) => {
        this.held.push({ message, resolve, reject });
        for (const w of this.heldWaiters.filter((w) => this.held.length >= w.count)) w.resolve();
      });
    }
    const answered = new Promise<void>((resolve) => (this.delayMs > 0 ? setTimeout(resolve, this.delayMs) : resolve()));
    return answered.then(() => {
      if (answer) throw answer;
      this.accepted.push(message);
      return { messageId: message.messageId ?? '', response: '250 OK' };
    });
  }

  /** Resolves once `count` messages are held without an answer. */
  whenHeld(count: number): Promise<void> {
    if (this.held.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.heldWaiters.push({ count, resolve }));
  }

  /** Accepts every held message. */
  releaseHeld(): void {
    for (const h of this.held.splice(0)) {
      this.accepted.push(h.message);
      h.resolve({ messageId: h.message.messageId ?? '', response: '250 OK' });
    }
  }

  abort(): void {
    this.aborted++;
    for (const h of this.held.splice(0))
      h.reject(new SendError('Connection closed', undefined, 'Connection closed', 'ECONNECTION', 'DATA'));
  }
}

export function recipientOf(message: OutgoingMessage): string {
  return typeof message.to === 'string' ? message.to : message.to.address;
}

/** Editions that only carry their key; counts how often each was built. */
export class MemoryEditions implements EditionSource {
  readonly built: string[] = [];

  edition(key: string): Promise<CompiledEdition> {
    this.built.push(key);
    return Promise.resolve({
      issueSlug: 'memory',
      key,
      topicSlugs: key === '*' ? null : key.split(','),
      empty: false,
      articleCount: 1,
      fit: { mode: 'auto', budget: 92_160, bytes: 1_000, teasers: [], overBudget: false },
      subject: `Edition ${key}`,
      webUrl: `https://news.example.org/issues/memory?topics=${key}`,
      fill: () => ({ html: `<p>${key}</p>`, text: key }),
      articleOf: () => null,
    });
  }
}

export const memoryMessages: MessageFactory = {
  build(edition: CompiledEdition, recipient: Recipient): OutgoingMessage {
    const body = edition.fill({
      name: recipient.name,
      email: recipient.email,
      webUrl: edition.webUrl,
      manageUrl: `https://news.example.org/manage/${recipient.uid}`,
      unsubscribeUrl: `https://news.example.org/unsubscribe/${recipient.uid}`,
    });
    return {
      to: recipient.email,
      subject: edition.subject,
      html: body.html,
      text: body.text,
      messageId: `<${recipient.uid}@memory>`,
      headers: { 'X-Edition': edition.key },
    };
  },
};

export function smtpReply(code: number, reply: string, command = 'DATA'): SendError {
  return new SendError(reply, code, reply, command === 'DATA' ? 'EMESSAGE' : 'EENVELOPE', command);
}

export function connectionRefused(): SendError {
  const text = 'connect ECONNREFUSED 127.0.0.1:2525';
  return new SendError(text, undefined, text, 'ESOCKET', 'CONN');
}
