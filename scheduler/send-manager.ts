import { LRUCache } from 'lru-cache';
import type { IssueStatus } from '../src/db/schema.js';
import type { CompiledEdition } from '../src/render/issue-renderer.js';
import type { ClaimedDelivery, DeliveryCounts } from './delivery-repository.js';
import { NO_ARTICLE_EDITION_KEY } from './delivery-repository.js';
import type { Recipient } from './message-builder.js';
import { classifySendFailure, type FailureVerdict } from './smtp-failures.js';
import { SendError, type OutgoingMessage, type SendResult } from '../src/mail/messenger.js';
import { wakeableWait } from './wake-up.js';

// The engine of one issue's send, in the manner of listmonk's manager: it depends on a store and
// a messenger only, so it runs the same against SQLite + SMTP, or anything else that keeps the
// promises below.
//
// Crash safety rests on one rule: a delivery becomes `sent` only after the server accepted the
// message, and that write happens right then, one row at a time. A kill can only leave behind
// rows in `sending`; those go back to pending on restart and are sent again with the same
// Message-ID. The copies that can arrive twice are therefore those the server had accepted in
// the instant before the kill: at most one per SMTP connection.

/** Everything the manager needs from the database, for one issue. */
export interface DeliveryStore {
  /**
   * Marks up to `limit` due pending deliveries `sending`, in (edition_key, id) order. Retry times
   * are the store's (the database's clock), so senders whose clocks disagree agree on what is due.
   */
  claim(limit: number): Promise<ClaimedDelivery[]>;
  /** Each result is written only where this sender still holds the claim: false when it does not. */
  markSent(id: number, attempts: number, at: Date): Promise<boolean>;
  markSkipped(ids: number[], reason: string): Promise<void>;
  /** Pending again, due `retryInMs` from now by the store's clock. */
  markRetry(id: number, attempts: number, retryInMs: number, error: string): Promise<boolean>;
  markFailed(id: number, attempts: number, error: string): Promise<boolean>;
  /**
   * A final recipient status: the delivery fails and the subscriber is marked bounced, unless the
   * bounce safety net holds it (see `BOUNCE_SAFETY_NET`): `paused` when this bounce tripped the net
   * (the issue is paused; nobody was marked), `lost` when the claim was no longer this sender's.
   */
  bounce(id: number, attempts: number, error: string, subscriberId: number): Promise<BounceOutcome>;
  /** Claimed but never handed to the server: back to pending without counting an attempt. */
  release(ids: number[]): Promise<void>;
  /** Failed or deferred because the server was broken: pending again, due now. */
  requeue(ids: number[]): Promise<void>;
  /** How long until the earliest deferred retry is due by the store's clock (≤ 0: due); null when none. */
  retryDueInMs(): Promise<number | null>;
  counts(): Promise<DeliveryCounts>;
  /** The issue's status as editors set it (pause and cancel come from other processes too). */
  control(): Promise<{ status: IssueStatus; pauseReason: string | null }>;
  pause(reason: string): Promise<void>;
  skipRemaining(reason: string): Promise<void>;
  /** Marks the issue sent when nothing is pending or in flight; true when it did. */
  finish(now: Date): Promise<boolean>;
}

export type BounceOutcome = { outcome: 'recorded' | 'lost' } | { outcome: 'paused'; reason: string };

/** What the manager needs from the transport. */
export interface SendTransport {
  send(message: OutgoingMessage): Promise<SendResult>;
  /** Drops the messages in transit: their sends reject (a stop that cannot wait any longer). */
  abort(): void;
}

export interface EditionSource {
  /** The compiled edition for a delivery's edition key (`*` = whole issue). */
  edition(editionKey: string): Promise<CompiledEdition>;
}

export interface MessageFactory {
  build(edition: CompiledEdition, recipient: Recipient): OutgoingMessage;
}

/** Minimal structured logger (pino fits). */
export interface SendLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface SendTuning {
  /** Messages being prepared or sent at once: the next message is ready when a connection frees. */
  inFlight: number;
  /**
   * Messages handed to the transport at once: one per pooled connection, so none waits inside the
   * transport where a stop (or a lost lease) could no longer hold it back.
   */
  connections: number;
  /** Deliveries claimed per database round trip. */
  batchSize: number;
  /** Attempts per delivery before a temporary failure becomes final. */
  maxAttempts: number;
  /** First retry delay; doubles per attempt up to `retryMaxMs`. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Recent outcomes looked at by the automatic pause. */
  breakerWindow: number;
  /** Outcomes the automatic pause needs before it judges: one failed retry says nothing. */
  breakerMinSample: number;
  /** After a stop request, how long in-flight messages may take before they are dropped (left to resume). */
  drainMs: number;
  /** How often pause/cancel set elsewhere is noticed while sending. */
  controlPollMs: number;
}

export function defaultTuning(concurrency: number): SendTuning {
  return {
    inFlight: Math.max(2, concurrency * 2),
    connections: concurrency,
    batchSize: 50,
    maxAttempts: 5,
    retryBaseMs: 60_000,
    retryMaxMs: 60 * 60_000,
    breakerWindow: Math.max(10, concurrency * 4),
    breakerMinSample: 10,
    drainMs: 20_000,
    controlPollMs: 1000,
  };
}

export interface SendProgress {
  counts: DeliveryCounts;
  /** Accepted by the server in this run (for the rate). */
  sentThisRun: number;
  startedAt: Date;
  firstSentAt: Date | null;
  /** Set while waiting for deferred retries. */
  waitingUntil: Date | null;
}

/** `idle`: nothing this sender can do now (retries not yet due, or other senders finishing theirs). */
export type SendOutcome = 'finished' | 'paused' | 'cancelled' | 'stopped' | 'idle';

export interface SendRunResult {
  outcome: SendOutcome;
  /** Why it paused or stopped. */
  reason: string | null;
  counts: DeliveryCounts;
  sentThisRun: number;
  /** Distinct editions this run built (each once). */
  editionsBuilt: number;
  startedAt: Date;
  firstSentAt: Date | null;
  finishedAt: Date;
  /** With `idle`: when the earliest deferred retry is due, if any, by this process's clock. */
  nextRetryAt: Date | null;
}

/** The sender's lease (see sender-lease.ts): checked before every message leaves. */
export interface LeaseCheck {
  /** True while the lease is surely held; false once it is lost (the sender must stop). */
  ensure(): Promise<boolean>;
}

/** A rate limit shared with other senders (see rate-limiter.ts). */
export interface RateGate {
  acquire(): Promise<void>;
}

export interface SendManagerDeps {
  store: DeliveryStore;
  transport: SendTransport;
  lease?: LeaseCheck;
  rate?: RateGate;
  editions: EditionSource;
  messages: MessageFactory;
  logger?: SendLogger;
  now?: () => Date;
}

export interface SendManagerOptions {
  tuning: SendTuning;
  /** Aborting drains: no new message starts, in-flight ones finish and are recorded. */
  signal?: AbortSignal;
  /**
   * Wait in run() for deferred retries to come due (one sender alone); false returns `idle` with
   * `nextRetryAt` instead, for a sender that has other issues to look after meanwhile.
   */
  waitForRetries?: boolean;
  /** Called as each message is accepted by the server. */
  onSent?: () => void;
  onProgress?: (progress: SendProgress) => void;
}

interface StopRequest {
  outcome: Exclude<SendOutcome, 'finished' | 'idle'>;
  reason: string;
}

interface Outcome {
  ok: boolean;
  id: number;
  verdict?: FailureVerdict;
}

interface ClaimedBatch {
  size: number;
  done: number;
  systemicFailures: number;
}

type Job = ClaimedDelivery & { batch: ClaimedBatch; edition: CompiledEdition };

/**
 * Editions held by the engine at once. Claims come in edition-key order, so a batch spans one or
 * two keys; a retry that revisits an older edition rebuilds it in about a millisecond.
 */
const EDITIONS_KEPT = 4;

const noopLogger: SendLogger = { info() {}, warn() {}, error() {} };

export class SendManager {
  private readonly store: DeliveryStore;
  private readonly now: () => Date;
  private readonly logger: SendLogger;
  private readonly tuning: SendTuning;
  private queue: Job[] = [];
  private head = 0;
  private refilling: Promise<void> | null = null;
  private exhausted = false;
  private stopRequest: StopRequest | null = null;
  private wake: (() => void) | null = null;
  /** Recently used editions; claims come in edition-key order, so a few suffice and memory stays flat. */
  private readonly editionCache = new LRUCache<string, Promise<CompiledEdition>>({ max: EDITIONS_KEPT });
  private readonly editionKeys = new Set<string>();
  private readonly window: Outcome[] = [];
  private breakerTripped = false;
  private atTransport = 0;
  private readonly transportQueue: (() => void)[] = [];
  /** Set once the drain time ran out: failures from here on are the stop's doing, not the server's. */
  private abandoning = false;
  private drainTimer: NodeJS.Timeout | null = null;
  private readonly background = new Set<Promise<void>>();
  private counts: DeliveryCounts = { planned: 0, pending: 0, sending: 0, sent: 0, skipped: 0, failed: 0 };
  private sentThisRun = 0;
  private startedAt = new Date(0);
  private firstSentAt: Date | null = null;
  private waitingUntil: Date | null = null;

  constructor(
    private readonly deps: SendManagerDeps,
    private readonly options: SendManagerOptions,
  ) {
    this.store = deps.store;
    this.now = deps.now ?? (() => new Date());
    this.logger = deps.logger ?? noopLogger;
    this.tuning = options.tuning;
  }

  /** Asks the run to stop after in-flight messages finish (SIGTERM, pause, lost lease). */
  requestStop(outcome: StopRequest['outcome'], reason: string): void {
    if (this.stopRequest) return;
    this.stopRequest = { outcome, reason };
    this.wake?.();
    // A server that never answers must not hold the stop hostage: past the drain time, messages
    // still in transit are dropped and go back to pending, to be sent again with the same Message-ID.
    this.drainTimer = setTimeout(() => {
      this.abandoning = true;
      this.logger.warn({ drainMs: this.tuning.drainMs }, 'replies overdue at stop: dropping the messages in transit');
      this.deps.transport.abort();
    }, this.tuning.drainMs);
    this.drainTimer.unref();
  }

  get stopping(): boolean {
    return this.stopRequest !== null;
  }

  async run(): Promise<SendRunResult> {
    this.startedAt = this.now();
    this.counts = await this.store.counts();
    const signal = this.options.signal;
    const onAbort = () => this.requestStop('stopped', 'stop requested');
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort);
    const poll = setInterval(() => void this.checkControl(), this.tuning.controlPollMs);
    let finished = false;
    let nextRetryAt: Date | null = null;
    try {
      await this.checkControl();
      while (!this.stopRequest) {
        this.exhausted = false;
        const workers = Array.from({ length: this.tuning.inFlight }, () => this.worker());
        await Promise.all(workers);
        await this.settle();
        if (this.stopRequest) break;
        const dueInMs = await this.store.retryDueInMs();
        if (dueInMs === null) break;
        nextRetryAt = new Date(this.now().getTime() + Math.max(0, dueInMs));
        if (this.options.waitForRetries === false) break;
        await this.sleepUntil(nextRetryAt);
        nextRetryAt = null;
      }
      await this.settle();
      // Claimed but never started: release (or skip, when cancelled) so nothing stays in doubt.
      const leftover = this.queue.slice(this.head).map((j) => j.id);
      this.queue = [];
      this.head = 0;
      if (this.stopRequest?.outcome === 'cancelled') {
        await this.store.markSkipped(leftover, 'send cancelled');
        await this.store.skipRemaining('send cancelled');
      } else {
        await this.store.release(leftover);
      }
      if (!this.stopRequest && nextRetryAt === null) finished = await this.store.finish(this.now());
      if (!finished && !this.stopRequest) await this.checkControl();
      this.counts = await this.store.counts();
    } finally {
      clearInterval(poll);
      if (this.drainTimer) clearTimeout(this.drainTimer);
      signal?.removeEventListener('abort', onAbort);
    }
    const result: SendRunResult = {
      outcome: finished ? 'finished' : (this.stopRequest?.outcome ?? 'idle'),
      reason: this.stopRequest?.reason ?? null,
      nextRetryAt,
      counts: this.counts,
      sentThisRun: this.sentThisRun,
      editionsBuilt: this.editionKeys.size,
      startedAt: this.startedAt,
      firstSentAt: this.firstSentAt,
      finishedAt: this.now(),
    };
    this.report();
    return result;
  }

  private async worker(): Promise<void> {
    for (;;) {
      if (this.stopRequest) return;
      const job = await this.take();
      if (!job) return;
      try {
        await this.deliver(job);
      } catch (error) {
        // A database write failed: stop like a crash would; the restart resets what is in doubt.
        const message = error instanceof Error ? error.message : String(error);
        this.logger.error({ delivery: job.id, err: message }, 'send stopped by an internal error');
        this.requestStop('stopped', `internal error: ${message}`);
        return;
      }
    }
  }

  private async take(): Promise<Job | undefined> {
    while (this.head >= this.queue.length) {
      if (this.exhausted || this.stopRequest) return undefined;
      await this.refill();
    }
    const job = this.queue[this.head++];
    // Claim the next batch before this one runs dry, so connections never wait on the database.
    if (this.queue.length - this.head < this.tuning.inFlight && !this.exhausted) void this.refill();
    return job;
  }

  private refill(): Promise<void> {
    this.refilling ??= this.claimBatch().finally(() => {
      this.refilling = null;
    });
    return this.refilling;
  }

  private async claimBatch(): Promise<void> {
    if (this.stopRequest || this.exhausted) return;
    let claimed: ClaimedDelivery[] = [];
    try {
      claimed = await this.store.claim(this.tuning.batchSize);
      if (claimed.length === 0) {
        this.exhausted = true;
        return;
      }
      this.counts.pending -= claimed.length;
      this.counts.sending += claimed.length;
      const batch: ClaimedBatch = { size: 0, done: 0, systemicFailures: 0 };
      const notActive: number[] = [];
      const empty: number[] = [];
      const jobs: Job[] = [];
      for (const d of claimed) {
        if (d.subscriber.status !== 'active') {
          notActive.push(d.id);
          continue;
        }
        const edition = d.editionKey === NO_ARTICLE_EDITION_KEY ? null : await this.edition(d.editionKey);
        if (!edition || edition.empty) empty.push(d.id);
        else jobs.push({ ...d, batch, edition });
      }
      batch.size = jobs.length;
      // Unsubscribed (or bounced) after the send started: skipped at send time, never mailed.
      await this.store.markSkipped(notActive, 'subscriber no longer active');
      await this.store.markSkipped(empty, 'edition holds no article');
      this.counts.sending -= notActive.length + empty.length;
      this.counts.skipped += notActive.length + empty.length;
      // Jobs already taken leave the queue at every claim (only a few untaken ones are copied), so
      // they become garbage while still young instead of being kept until V8 promotes them.
      if (this.head > 0) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.queue.push(...jobs);
      if (notActive.length + empty.length > 0) this.report();
    } catch (error) {
      // Rendering or database trouble: pause with the reason rather than fail silently.
      const message = error instanceof Error ? error.message : String(error);
      const handed = new Set(this.queue.map((j) => j.id));
      await this.store.release(claimed.map((c) => c.id).filter((id) => !handed.has(id))).catch(() => {});
      this.logger.error({ err: message }, 'send stopped: could not prepare messages');
      const reason = `Paused: could not prepare messages: ${message}`;
      await this.store.pause(reason).catch(() => {});
      this.requestStop('paused', reason);
    }
  }

  private edition(key: string): Promise<CompiledEdition> {
    let edition = this.editionCache.get(key);
    if (!edition) {
      edition = this.deps.editions.edition(key);
      this.editionKeys.add(key);
      this.editionCache.set(key, edition);
    }
    return edition;
  }

  private async deliver(job: Job): Promise<void> {
    const attempts = job.attempts + 1;
    let message: OutgoingMessage;
    try {
      message = this.deps.messages.build(job.edition, job.subscriber);
    } catch (error) {
      const reason = `could not build the message: ${error instanceof Error ? error.message : String(error)}`;
      if (!(await this.store.markFailed(job.id, attempts, reason))) return this.claimLost(job);
      this.counts.sending--;
      this.counts.failed++;
      this.logger.error({ delivery: job.id, err: reason }, 'delivery failed');
      return this.finishJob(job, { ok: false, id: job.id, verdict: { action: 'fail', systemic: false, reason } });
    }
    await this.enterTransport();
    // The last checks before the message leaves: the shared rate, then the lease, so a sender that
    // was stalled past its lease finds out here and sends nothing more.
    if (!this.stopRequest && this.deps.rate) await this.deps.rate.acquire();
    if (!this.stopRequest && this.deps.lease && !(await this.deps.lease.ensure()))
      this.requestStop('stopped', 'this sender lost its lease (stalled too long); another sender takes over');
    if (this.stopRequest) {
      // Stopped while this message waited for a connection: it never left, so it was not an attempt.
      this.leaveTransport();
      await this.store.release([job.id]);
      this.counts.sending--;
      this.counts.pending++;
      return;
    }
    try {
      await this.deps.transport.send(message);
    } catch (error) {
      const sendError =
        error instanceof SendError
          ? error
          : new SendError(error instanceof Error ? error.message : String(error), undefined, String(error));
      this.leaveTransport();
      return this.failed(job, attempts, classifySendFailure(sendError));
    }
    this.leaveTransport();
    // The server has it: record at once (see the header comment).
    const at = this.now();
    this.options.onSent?.();
    if (!(await this.store.markSent(job.id, attempts, at))) return this.claimLost(job);
    this.counts.sending--;
    this.counts.sent++;
    this.sentThisRun++;
    this.firstSentAt ??= at;
    this.finishJob(job, { ok: true, id: job.id });
  }

  /**
   * A result whose claim is no longer this sender's: another sender took it over after this one's
   * lease ran out, and sends it again itself (same Message-ID). Nothing is written, and a sender in
   * that state has lost its lease: it stops.
   */
  private claimLost(job: Job): void {
    this.counts.sending--;
    this.logger.warn({ delivery: job.id }, 'result not recorded: the claim was taken over by another sender');
    this.requestStop('stopped', 'this sender lost its claims (stalled too long); another sender takes over');
  }

  /** Waits for one of the `connections` places at the transport. */
  private enterTransport(): Promise<void> {
    if (this.atTransport < this.tuning.connections) {
      this.atTransport++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.transportQueue.push(resolve));
  }

  private leaveTransport(): void {
    const next = this.transportQueue.shift();
    if (next) next();
    else this.atTransport--;
  }

  private async failed(job: Job, attempts: number, verdict: FailureVerdict): Promise<void> {
    const fields = { delivery: job.id, subscriber: job.subscriber.id, attempt: attempts, reply: verdict.reason };
    this.counts.sending--;
    if (this.breakerTripped || this.abandoning || verdict.action === 'pause') {
      // The send is pausing because the server is broken or refuses us, or the stop dropped the
      // message: it was not this recipient's fault, and it goes back to pending as it was.
      await this.store.release([job.id]);
      this.counts.pending++;
      if (verdict.action === 'pause') this.senderRefused(verdict.reason);
      return;
    }
    if (verdict.action === 'retry' && attempts < this.tuning.maxAttempts) {
      const delay = Math.min(this.tuning.retryMaxMs, this.tuning.retryBaseMs * 2 ** (attempts - 1));
      const jittered = Math.round(delay * (0.9 + Math.random() * 0.2));
      if (!(await this.store.markRetry(job.id, attempts, jittered, verdict.reason))) return this.claimLost(job);
      this.counts.pending++;
      this.logger.warn({ ...fields, retryInMs: jittered }, 'delivery deferred, will retry');
    } else if (verdict.action === 'bounce') {
      const bounced = await this.store.bounce(job.id, attempts, verdict.reason, job.subscriber.id);
      if (bounced.outcome === 'lost') return this.claimLost(job);
      if (bounced.outcome === 'paused') {
        this.counts = await this.store.counts();
        this.logger.error({ reason: bounced.reason }, 'send paused: too many recipients bounced');
        this.requestStop('paused', bounced.reason);
      } else {
        this.counts.failed++;
        this.logger.warn(fields, 'delivery bounced');
      }
    } else {
      const reason =
        verdict.action === 'retry' ? `gave up after ${attempts} attempts: ${verdict.reason}` : verdict.reason;
      if (!(await this.store.markFailed(job.id, attempts, reason))) return this.claimLost(job);
      this.counts.failed++;
      this.logger.warn({ ...fields, reply: reason }, 'delivery failed');
    }
    this.finishJob(job, { ok: false, id: job.id, verdict });
  }

  private finishJob(job: Job, outcome: Outcome): void {
    job.batch.done++;
    if (outcome.verdict?.systemic) job.batch.systemicFailures++;
    // A bounce is about one address; it says nothing about the server.
    if (outcome.verdict?.action !== 'bounce') {
      this.window.push(outcome);
      if (this.window.length > Math.max(this.tuning.breakerWindow, this.tuning.breakerMinSample)) this.window.shift();
    }
    if (!outcome.ok) this.checkBreaker(job.batch, outcome);
    this.report();
  }

  /**
   * Pauses the issue when most of a batch fails (server down, bad credentials, relay refusing
   * everything) instead of burning through the list: more than half of the recent window, or
   * more than half of a finished batch failing for server-level reasons.
   */
  private checkBreaker(batch: ClaimedBatch, last: Outcome): void {
    if (this.breakerTripped || this.stopRequest) return;
    const failures = this.window.filter((o) => !o.ok);
    const windowFull = this.window.length >= Math.max(this.tuning.breakerWindow, this.tuning.breakerMinSample);
    const windowTrips = windowFull && failures.length * 2 > this.window.length;
    // A batch of retries can be one message long: it takes a sample as large as the window's.
    const batchTrips =
      batch.size >= this.tuning.breakerMinSample &&
      batch.done === batch.size &&
      batch.systemicFailures * 2 > batch.size;
    if (!windowTrips && !batchTrips) return;
    this.breakerTripped = true;
    const seen = windowTrips ? this.window.length : batch.size;
    const failed = windowTrips ? failures.length : batch.systemicFailures;
    const reason = `Paused automatically: ${failed} of the last ${seen} messages failed. Last error: ${last.verdict?.reason ?? 'unknown'}`;
    const requeue = failures.map((o) => o.id);
    this.logger.error({ failed, seen, lastError: last.verdict?.reason }, 'send paused automatically');
    this.requestStop('paused', reason);
    this.inBackground(
      (async () => {
        await this.store.pause(reason);
        await this.store.requeue(requeue);
      })(),
    );
  }

  /** The server refused our envelope sender or our standing: pause for an editor, mark nobody. */
  private senderRefused(reply: string): void {
    if (this.breakerTripped || this.stopRequest) return;
    this.breakerTripped = true;
    const reason = `Paused: the mail server refused our sender, not a recipient; nobody was marked. Fix the sender (MAIL_FROM, the relay's account or policy), then resume. Reply: ${reply}`;
    this.logger.error({ reply }, 'send paused: the server refused our sender');
    this.requestStop('paused', reason);
    this.inBackground(this.store.pause(reason));
  }

  /** Reads the issue's status now instead of at the next poll (an editor acted in this process). */
  refreshControl(): Promise<void> {
    return this.checkControl();
  }

  private async checkControl(): Promise<void> {
    if (this.stopRequest) return;
    try {
      const { status, pauseReason } = await this.store.control();
      if (status === 'paused') this.requestStop('paused', pauseReason ?? 'paused');
      else if (status === 'cancelled') this.requestStop('cancelled', 'send cancelled');
      else if (status !== 'sending') this.requestStop('stopped', `the issue is ${status}`);
    } catch (error) {
      this.logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'could not read the issue status',
      );
    }
  }

  private async sleepUntil(until: Date): Promise<void> {
    const ms = until.getTime() - this.now().getTime();
    if (ms <= 0 || this.stopRequest) return;
    this.waitingUntil = until;
    this.report();
    this.logger.info({ until: until.toISOString() }, 'waiting for deferred retries');
    const wait = wakeableWait(ms);
    this.wake = wait.wake;
    await wait.done;
    this.wake = null;
    this.waitingUntil = null;
  }

  /** Database writes nobody awaits inline; the run waits for them before it reports its end. */
  private inBackground(promise: Promise<void>): void {
    const tracked: Promise<void> = promise
      .catch((error: unknown) => {
        this.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'background write failed');
      })
      .finally(() => this.background.delete(tracked));
    this.background.add(tracked);
  }

  private async settle(): Promise<void> {
    while (this.background.size > 0) await Promise.all([...this.background]);
    if (this.refilling) await this.refilling;
  }

  private report(): void {
    this.options.onProgress?.({
      counts: { ...this.counts },
      sentThisRun: this.sentThisRun,
      startedAt: this.startedAt,
      firstSentAt: this.firstSentAt,
      waitingUntil: this.waitingUntil,
    });
  }
}
