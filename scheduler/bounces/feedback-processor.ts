import type { Config } from '../../src/config/config.js';
import type { Db } from '../../src/db/database.js';
import { nowIso } from '../../src/db/database.js';
import {
  findSubscriberByEmail,
  markSubscriberUndeliverable,
  withdrawSubscriber,
} from '../../subscribers/subscriber-repository.js';
import { normaliseEmail } from '../../subscribers/address.js';
import { MessageBuilder } from '../message-builder.js';
import type { DeliveryRef } from './bounce-address.js';
import {
  countIssueFeedback,
  countSent,
  findDelivery,
  insertFeedbackEvent,
  issuesWithBounces,
  sentDeliveriesOf,
  setFeedbackOutcome,
  type DeliveryTarget,
  type FeedbackKind,
  type FeedbackOutcome,
  type FeedbackSource,
} from './feedback-repository.js';

// The one pipeline every way in ends in (the SMTP receiver, the mailbox poller, the provider
// webhooks): find whom an event concerns, record it once, change the subscriber through the
// subscribers repository with the evidence in the consent log, and pause the issue's send when
// its complaint or hard-bounce rate passes the limit.

/** One bounce, complaint or unclassified reply, as any way in reports it. */
export interface FeedbackReport {
  source: FeedbackSource;
  /** The provider's event id, or the report's Message-ID: the same event applies once. */
  eventId: string;
  kind: FeedbackKind;
  /** The delivery a VERP token named (the receiver checked it at RCPT, or a token found in the report). */
  delivery?: DeliveryRef | null;
  /** The address the report names (Final-Recipient, Original-Rcpt-To, the provider's recipient). */
  recipient?: string | null;
  /**
   * Provider webhooks are authenticated, so their recipient address alone names the subscriber.
   * A mail report without a token must prove it: the returned original's Message-ID has to be the
   * one we sent that subscriber (a keyed hash nobody else can make).
   */
  recipientTrusted: boolean;
  originalMessageIds?: string[];
  status?: string | null;
  diagnostic?: string | null;
  subject?: string | null;
  from?: string | null;
  excerpt?: string | null;
}

export interface FeedbackResult {
  /** False when this event had been applied before (a replay). */
  applied: boolean;
  outcome: FeedbackOutcome | 'duplicate';
  subscriberId: number | null;
  issueId: number | null;
  /** The reason shown when this event paused the issue's send. */
  paused: string | null;
}

export interface FeedbackLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface FeedbackProcessorDeps {
  db: Db;
  config: Pick<Config, 'baseUrl' | 'secretKey' | 'mailFrom' | 'bounces'>;
  logger: FeedbackLogger;
  /** Pauses a send in progress with the reason shown (the send's own pause); false when it was not sending. */
  pauseSend(issueSlug: string, reason: string): Promise<boolean>;
}

/** How many of a subscriber's latest deliveries are searched for the one a Message-ID names. */
const DELIVERIES_SEARCHED = 50;
const MAX_DIAGNOSTIC = 1000;
const MAX_EXCERPT = 2000;

interface Target {
  subscriberId: number;
  issueId: number | null;
  issueSlug: string | null;
}

export class FeedbackProcessor {
  private readonly messageIds: MessageBuilder;

  constructor(private readonly deps: FeedbackProcessorDeps) {
    this.messageIds = new MessageBuilder({ config: deps.config, publicationName: '' });
  }

  async apply(report: FeedbackReport): Promise<FeedbackResult> {
    const target = await this.resolve(report);
    const eventKey = `${report.source}:${report.eventId}`.slice(0, 500);
    const outcome = await this.deps.db.transaction().execute(async (trx) => {
      const inserted = await insertFeedbackEvent(trx, {
        event_key: eventKey,
        source: report.source,
        kind: report.kind,
        subscriber_id: target?.subscriberId ?? null,
        issue_id: target?.issueId ?? null,
        recipient: report.recipient ? report.recipient.slice(0, 320) : null,
        status_code: report.status ?? null,
        diagnostic: report.diagnostic ? report.diagnostic.slice(0, MAX_DIAGNOSTIC) : null,
        outcome: 'no-subscriber',
        subject: report.subject ? report.subject.slice(0, 300) : null,
        from_address: report.from ? report.from.slice(0, 320) : null,
        excerpt: report.kind === 'unclassified' && report.excerpt ? report.excerpt.slice(0, MAX_EXCERPT) : null,
        received_at: nowIso(),
      });
      if (!inserted) return 'duplicate' as const;
      if (!target) return report.kind === 'unclassified' ? ('kept-for-editor' as const) : ('no-subscriber' as const);
      const done = await this.act(trx, report, target, eventKey);
      await setFeedbackOutcome(trx, eventKey, done);
      return done;
    });
    const result: FeedbackResult = {
      applied: outcome !== 'duplicate',
      outcome,
      subscriberId: target?.subscriberId ?? null,
      issueId: target?.issueId ?? null,
      paused: null,
    };
    const fields = { source: report.source, event: report.eventId, kind: report.kind, ...result };
    if (outcome === 'duplicate') {
      this.deps.logger.info(fields, 'feedback event seen before: nothing changed');
      return result;
    }
    this.deps.logger.info(fields, 'feedback event applied');
    if (target?.issueSlug && target.issueId !== null && (report.kind === 'hard' || report.kind === 'complaint')) {
      result.paused = await this.checkSendRates(target.issueId, target.issueSlug);
    }
    return result;
  }

  /** Whom the report concerns: the token's delivery, or a recipient it names and can vouch for. */
  private async resolve(report: FeedbackReport): Promise<Target | null> {
    const { db } = this.deps;
    if (report.delivery) {
      const delivery = await findDelivery(db, report.delivery);
      return delivery ? targetOf(delivery) : null;
    }
    if (!report.recipient) return null;
    const subscriber = await findSubscriberByEmail(db, normaliseEmail(report.recipient));
    if (!subscriber) return null;
    const deliveries = await sentDeliveriesOf(db, subscriber.id, DELIVERIES_SEARCHED);
    const ids = new Set(report.originalMessageIds ?? []);
    const named = deliveries.find((d) => ids.has(this.messageIds.messageId(d.issueSlug, d.subscriberUid)));
    if (named) return targetOf(named);
    if (!report.recipientTrusted) return null;
    const latest = deliveries[0];
    return latest ? targetOf(latest) : { subscriberId: subscriber.id, issueId: null, issueSlug: null };
  }

  private async act(db: Db, report: FeedbackReport, target: Target, eventKey: string): Promise<FeedbackOutcome> {
    const evidence: Record<string, unknown> = {
      via: report.source,
      event: eventKey,
      issue: target.issueSlug,
      kind: report.kind,
      status: report.status ?? null,
      diagnostic: report.diagnostic ? report.diagnostic.slice(0, 300) : null,
    };
    switch (report.kind) {
      case 'hard': {
        const changed = await markSubscriberUndeliverable(db, target.subscriberId, 'bounced', JSON.stringify(evidence));
        return changed ? 'bounced' : 'already-withdrawn';
      }
      case 'complaint': {
        const changed = await withdrawSubscriber(
          db,
          target.subscriberId,
          'complained',
          'complaint',
          { source: 'complaint' },
          JSON.stringify(evidence),
        );
        return changed ? 'complained' : 'already-withdrawn';
      }
      case 'soft':
        return this.countSoftBounce(db, target, evidence);
      case 'unclassified':
        return 'kept-for-editor';
    }
  }

  /**
   * BOUNCE_SOFT_LIMIT soft (or hard) bounces on as many consecutive issues, that is on each of the
   * subscriber's latest deliveries that reached a server, make the subscriber bounced. Several on
   * one issue count once; one issue without a bounce in between starts the count again.
   */
  private async countSoftBounce(db: Db, target: Target, evidence: Record<string, unknown>): Promise<FeedbackOutcome> {
    const limit = this.deps.config.bounces.softLimit;
    const latest = await sentDeliveriesOf(db, target.subscriberId, limit);
    if (latest.length < limit) return 'soft-counted';
    const bounced = await issuesWithBounces(
      db,
      target.subscriberId,
      latest.map((d) => d.issueId),
    );
    if (!latest.every((d) => bounced.has(d.issueId))) return 'soft-counted';
    const detail = { ...evidence, softBounceIssues: latest.map((d) => d.issueSlug), softLimit: limit };
    const changed = await markSubscriberUndeliverable(db, target.subscriberId, 'bounced', JSON.stringify(detail));
    return changed ? 'bounced' : 'already-withdrawn';
  }

  /**
   * After the first BOUNCE_PAUSE_AFTER messages of an issue, a complaint rate above
   * BOUNCE_PAUSE_COMPLAINT_RATE or a hard-bounce rate above BOUNCE_PAUSE_HARD_BOUNCE_RATE pauses
   * its send (if it is still sending), with the figures as the reason editors see.
   */
  private async checkSendRates(issueId: number, issueSlug: string): Promise<string | null> {
    const { db, config } = this.deps;
    const limits = config.bounces;
    const sent = await countSent(db, issueId);
    if (sent < limits.pauseAfterSent) return null;
    const counts = await countIssueFeedback(db, issueId);
    const reason = pauseReason(counts.complaints, counts.hard, sent, limits);
    if (!reason) return null;
    const paused = await this.deps.pauseSend(issueSlug, reason);
    if (paused) this.deps.logger.warn({ issue: issueSlug, reason }, 'send paused automatically');
    return paused ? reason : null;
  }
}

function targetOf(delivery: DeliveryTarget): Target {
  return { subscriberId: delivery.subscriberId, issueId: delivery.issueId, issueSlug: delivery.issueSlug };
}

/** The reason a send pauses for, or null when both rates are within their limits. */
export function pauseReason(
  complaints: number,
  hardBounces: number,
  sent: number,
  limits: Pick<Config['bounces'], 'pauseComplaintRate' | 'pauseHardBounceRate' | 'pauseAfterSent'>,
): string | null {
  if (sent < limits.pauseAfterSent || sent === 0) return null;
  const percent = (rate: number) => `${(rate * 100).toFixed(2).replace(/\.?0+$/, '')}%`;
  if (complaints / sent > limits.pauseComplaintRate) {
    return `Paused automatically: complaint rate ${percent(complaints / sent)} (${complaints} of ${sent} sent) is above ${percent(limits.pauseComplaintRate)}`;
  }
  if (hardBounces / sent > limits.pauseHardBounceRate) {
    return `Paused automatically: hard-bounce rate ${percent(hardBounces / sent)} (${hardBounces} of ${sent} sent) is above ${percent(limits.pauseHardBounceRate)}`;
  }
  return null;
}
