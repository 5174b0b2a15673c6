import type { Services } from '../src/app/services.js';
import { getPublication } from '../src/content/content-repository.js';
import { topicSlugsFromKey } from '../src/content/editions.js';
import type { IssueRow } from '../src/db/schema.js';
import { BounceAddresses } from './bounces/bounce-address.js';
import { getIssueById, listIssuesWithStatus, SqlDeliveryStore } from './delivery-repository.js';
import { MessageBuilder } from './message-builder.js';
import { EditionTracker } from '../src/tracking/edition-tracker.js';
import { getTrackingSettings } from '../src/tracking/tracking-repository.js';
import { ClusterRateLimiter } from './rate-limiter.js';
import { expireDeadLocalSenders, SenderLease } from './sender-lease.js';
import { purgeSenders, takeOverExpiredClaims } from './sender-repository.js';
import { wakeableWait } from './wake-up.js';
import { defaultTuning, SendManager, type SendProgress, type SendRunResult, type SendTuning } from './send-manager.js';

export interface SendWorkerOptions {
  /** Only this issue (`newsletter send <issue>`), until it is no longer sending; else every sending issue. */
  issueId?: number;
  tuning?: Partial<SendTuning>;
  /** How often a sender with nothing to do looks for work (and notices resume): 1 s. */
  pollMs?: number;
  onProgress?: (issue: IssueRow, progress: SendProgress) => void;
}

/** What one worker did for one issue, over all its runs. */
export interface WorkerIssueTotals {
  sentThisRun: number;
  editionsBuilt: number;
  /** Edition keys sent with teasers to stay within EMAIL_HTML_BUDGET. */
  fitted: Set<string>;
  /** Edition keys over the budget (the issue's `email_fit` is `full`, or nothing could fit). */
  overBudget: Set<string>;
  /** Deliveries of stalled or dead senders this worker took over. */
  takenOver: number;
  firstSentAt: Date | null;
  last: SendRunResult | null;
}

const SENDERS_KEPT_MS = 7 * 24 * 3600_000;

/**
 * A sender (issue 13): claims batches of deliveries of every issue being sent, side by side with
 * any number of other senders on this or other machines, under a lease it renews. It takes over
 * the claims of senders whose lease ran out, and when it finds its own lease lost (it was stalled),
 * it stops sending at once and comes back as a new sender. `newsletter worker`, `newsletter serve`
 * (unless SEND_WORKER=false) and `newsletter send <issue>` each run one.
 */
export class SendWorker {
  private lease: SenderLease | null = null;
  private current: SendManager | null = null;
  private stopping = false;
  private wake: (() => void) | null = null;
  private readonly rate: ClusterRateLimiter | undefined;
  readonly totals = new Map<number, WorkerIssueTotals>();
  private readonly lastProgress = new Map<number, SendProgress>();

  constructor(
    private readonly services: Services,
    private readonly options: SendWorkerOptions = {},
  ) {
    const limit = services.config.sendRateLimit;
    this.rate = limit ? new ClusterRateLimiter(services.db, limit) : undefined;
  }

  /** This sender's id while it runs. */
  get senderId(): string | null {
    return this.lease?.id ?? null;
  }

  /** Works until stop() (or, for one issue, until that issue is no longer sending). */
  async run(): Promise<void> {
    const { db, config } = this.services;
    const pollMs = this.options.pollMs ?? 1000;
    try {
      while (!this.stopping) {
        if (!this.lease || this.lease.isLost) {
          this.lease = new SenderLease({ db, leaseMs: config.sendLeaseMs, logger: this.services.logger });
          await this.lease.start();
          this.services.logger.info({ sender: this.lease.id }, 'sender started');
          await purgeSenders(db, SENDERS_KEPT_MS);
        }
        const issues = await this.issues();
        if (issues === null) break;
        let wakeAt = Date.now() + pollMs;
        for (const issue of issues) {
          if (this.stopping || this.lease.isLost) break;
          const result = await this.runIssue(issue, this.lease);
          if (result.sentThisRun > 0 && result.outcome === 'idle') wakeAt = Date.now();
          if (result.nextRetryAt) {
            wakeAt = Math.min(wakeAt, Math.max(Date.now(), result.nextRetryAt.getTime()));
            const last = this.lastProgress.get(issue.id);
            if (last) this.options.onProgress?.(issue, { ...last, waitingUntil: result.nextRetryAt });
          }
        }
        if (!this.stopping && !this.lease.isLost) await this.sleep(wakeAt - Date.now());
      }
    } finally {
      await this.lease?.stop();
    }
  }

  /** Stops after the messages in flight (bounded by SEND_STOP_TIMEOUT); run() then resolves. */
  stop(): void {
    this.stopping = true;
    this.current?.requestStop('stopped', 'stop requested');
    this.wake?.();
  }

  /** An editor acted in this process: the sender looks at once instead of at its next poll. */
  poke(): void {
    void this.current?.refreshControl();
    this.wake?.();
  }

  private async issues(): Promise<IssueRow[] | null> {
    if (this.options.issueId === undefined) return listIssuesWithStatus(this.services.db, 'sending');
    const issue = await getIssueById(this.services.db, this.options.issueId);
    return issue?.status === 'sending' ? [issue] : null;
  }

  private totalsOf(issueId: number): WorkerIssueTotals {
    let totals = this.totals.get(issueId);
    if (!totals) {
      totals = {
        sentThisRun: 0,
        editionsBuilt: 0,
        fitted: new Set(),
        overBudget: new Set(),
        takenOver: 0,
        firstSentAt: null,
        last: null,
      };
      this.totals.set(issueId, totals);
    }
    return totals;
  }

  private async runIssue(issue: IssueRow, lease: SenderLease): Promise<SendRunResult> {
    const { db, config } = this.services;
    const logger = this.services.logger.child({ issue: issue.slug, sender: lease.id });
    const totals = this.totalsOf(issue.id);
    await expireDeadLocalSenders(db);
    // A sender's claims are taken over only once its lease ran out by a whole lease more.
    const takenOver = await takeOverExpiredClaims(db, issue.id, config.sendLeaseMs);
    if (takenOver > 0) logger.warn({ takenOver }, 'took over the deliveries of a sender whose lease ran out');
    totals.takenOver += takenOver;
    const publication = await getPublication(db);
    const tracker = new EditionTracker(
      { db, baseUrl: config.baseUrl, secretKey: config.secretKey, settings: await getTrackingSettings(db) },
      issue.id,
    );
    const builder = new MessageBuilder({
      config,
      publicationName: publication.name,
      tracker,
      returnPath: config.bounces.domain
        ? { addresses: new BounceAddresses(config.secretKey, config.bounces.domain), issueId: issue.id }
        : undefined,
    });
    const services = this.services;
    const manager = new SendManager(
      {
        store: new SqlDeliveryStore(db, issue.id, lease.id),
        transport: services.messenger,
        lease,
        rate: this.rate,
        editions: {
          async edition(key) {
            const edition = await services.renderer.edition(issue.slug, topicSlugsFromKey(key));
            if (edition.fit.teasers.length > 0) totals.fitted.add(key);
            if (edition.fit.overBudget) totals.overBudget.add(key);
            // The issue's MJML frame is compiled now; the rest of the send only fills editions into
            // it, so the compiler's thread goes at once instead of idling beside the send's traffic.
            services.mjml.release();
            // Links rewritten for click tracking once per edition (README: Engagement analytics).
            return tracker.track(edition);
          },
        },
        messages: builder,
        logger,
      },
      {
        tuning: {
          ...defaultTuning(config.sendConcurrency),
          drainMs: config.sendStopTimeoutMs,
          ...this.options.tuning,
        },
        waitForRetries: false,
        onSent: () => lease.sent++,
        onProgress: (progress) => {
          this.lastProgress.set(issue.id, progress);
          this.options.onProgress?.(issue, progress);
        },
      },
    );
    this.current = manager;
    if (this.stopping) manager.requestStop('stopped', 'stop requested');
    const result = await manager.run().finally(() => {
      this.current = null;
    });
    totals.sentThisRun += result.sentThisRun;
    totals.editionsBuilt += result.editionsBuilt;
    totals.firstSentAt ??= result.firstSentAt;
    totals.last = result;
    if (result.outcome !== 'idle') {
      const summary = {
        outcome: result.outcome,
        reason: result.reason,
        ...result.counts,
        sent: result.sentThisRun,
        editionsFitted: totals.fitted.size,
        editionsOverBudget: totals.overBudget.size,
      };
      if (result.outcome === 'finished') logger.info(summary, 'send finished');
      else logger.warn(summary, 'send stopped before the end');
    }
    return result;
  }

  private async sleep(ms: number): Promise<void> {
    if (ms <= 0) return;
    const wait = wakeableWait(ms);
    this.wake = wait.wake;
    await wait.done;
    this.wake = null;
  }
}
