import { sql, type Transaction } from 'kysely';
import type { Db } from '../src/db/database.js';
import type {
  BounceCheck,
  Database,
  DeliveryStatus,
  IssueRow,
  IssueStatus,
  SubscriberStatus,
} from '../src/db/schema.js';
import { freezeIssueContent, listIssueSlugs, UnknownIssueError } from '../src/content/content-repository.js';
import { FULL_EDITION_KEY } from '../src/content/editions.js';
import { markSubscriberUndeliverable } from '../subscribers/subscriber-repository.js';
import { issueSubject, recordEvents } from '../src/db/event-outbox.js';
import { dbNowMs, dbTimeAfter, isPostgres } from './db-clock.js';
import type { BounceOutcome } from './send-manager.js';

// All SQL of the sending domain: deliveries and their claims, the send-related columns of `issues`.
// Portable kysely only. (A bounce's subscriber change is the subscribers repository's; senders'
// leases are in sender-repository.ts.)

/** More than `percent` % bounced among the first `recipients` of a send pauses it (issue 9). */
export const BOUNCE_SAFETY_NET = { recipients: 100, percent: 20 } as const;

/** The edition key of a subscriber whose topics are all absent from the issue: nothing to send. */
export const NO_ARTICLE_EDITION_KEY = '';

export interface DeliveryCounts {
  planned: number;
  pending: number;
  sending: number;
  sent: number;
  skipped: number;
  failed: number;
}

export const EMPTY_COUNTS: DeliveryCounts = { planned: 0, pending: 0, sending: 0, sent: 0, skipped: 0, failed: 0 };

export interface ClaimedDelivery {
  id: number;
  editionKey: string;
  /** Attempts made before this one. */
  attempts: number;
  subscriber: {
    id: number;
    uid: string;
    email: string;
    name: string;
    status: SubscriberStatus;
    /** Agreed to individual click tracking (src/tracking; used only at the `individual` level). */
    trackingOptIn?: boolean;
  };
}

export async function requireIssue(db: Db, slug: string): Promise<IssueRow> {
  const row = await db.selectFrom('issues').selectAll().where('slug', '=', slug).executeTakeFirst();
  if (!row) throw new UnknownIssueError(slug, await listIssueSlugs(db));
  return row;
}

export async function getIssueById(db: Db, id: number): Promise<IssueRow | undefined> {
  return db.selectFrom('issues').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Sets or clears the send time. `updated_at` is left alone: it versions the content (render cache). */
export async function setIssueSchedule(db: Db, issueId: number, sendAt: string | null): Promise<void> {
  await db
    .updateTable('issues')
    .set({ send_at: sendAt, status: sendAt === null ? 'draft' : 'scheduled', pause_reason: null })
    .where('id', '=', issueId)
    .execute();
}

/** Scheduled issues whose time has come (including times that passed while the service was down). */
export async function listDueIssues(db: Db, now: string): Promise<IssueRow[]> {
  return db
    .selectFrom('issues')
    .selectAll()
    .where('status', '=', 'scheduled')
    .where('send_at', 'is not', null)
    .where('send_at', '<=', now)
    .orderBy('send_at')
    .execute();
}

export async function listIssuesWithStatus(db: Db, status: IssueStatus): Promise<IssueRow[]> {
  return db
    .selectFrom('issues')
    .selectAll()
    .where('status', '=', status)
    .orderBy('started_at', (o) => o.asc().nullsLast())
    .orderBy('id')
    .execute();
}

export async function setIssueStatus(
  db: Db,
  issueId: number,
  status: IssueStatus,
  fields: { pauseReason?: string | null; sentAt?: string } = {},
): Promise<void> {
  await db
    .updateTable('issues')
    .set({
      status,
      ...(fields.pauseReason !== undefined ? { pause_reason: fields.pauseReason } : {}),
      ...(fields.sentAt !== undefined ? { sent_at: fields.sentAt } : {}),
    })
    .where('id', '=', issueId)
    .execute();
}

/**
 * Moves an issue from one of the `from` statuses to `to` in one conditional update, so two editors
 * (or an editor and a sender) cannot both act on a status one of them has already changed.
 * Returns whether it moved, and the status the issue has now (read after the update, for the message).
 */
export async function transitionIssue(
  db: Db,
  issueId: number,
  from: readonly IssueStatus[],
  to: IssueStatus,
  fields: { pauseReason?: string | null } = {},
): Promise<{ changed: boolean; status: IssueStatus }> {
  const result = await db
    .updateTable('issues')
    .set({
      status: to,
      ...(fields.pauseReason !== undefined ? { pause_reason: fields.pauseReason } : {}),
      // An editor resuming after the bounce safety net tripped has looked: bounces apply from now on.
      ...(to === 'sending'
        ? {
            bounce_check: sql<BounceCheck | null>`case when bounce_check = 'tripped' then 'passed' else bounce_check end`,
          }
        : {}),
    })
    .where('id', '=', issueId)
    .where('status', 'in', [...from])
    .executeTakeFirst();
  const changed = Number(result.numUpdatedRows) === 1;
  const row = await db.selectFrom('issues').select('status').where('id', '=', issueId).executeTakeFirst();
  return { changed, status: row?.status ?? to };
}

/** Why a delivery whose subscriber chose only topics absent from the issue is skipped at planning. */
const NO_TOPIC_IN_ISSUE = 'none of the subscriber’s topics is in this issue';

/**
 * Plans an issue's send, once: one delivery per active subscriber (unique per issue and
 * subscriber, so a second run adds nothing), keyed by the subscriber's topics that occur in this
 * issue (`*` for a subscriber with no topic = whole issue; '' when none occurs = nothing to send,
 * written skipped). In the same transaction the issue becomes `sending` with `started_at`, so later
 * sign-ups are never added by a resume, and its content is frozen (the snapshot every edition of
 * this send is rendered from). Returns false when the issue had already started.
 */
export async function planIssueDeliveries(db: Db, issueId: number, now: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const claimed = await trx
      .updateTable('issues')
      .set({ status: 'sending', started_at: now, pause_reason: null })
      .where('id', '=', issueId)
      .where('started_at', 'is', null)
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) === 0) return false;
    // From here on the issue is a record: every subscriber of this send, and the archive, get this content.
    await freezeIssueContent(trx, issueId, now);
    await insertPlannedDeliveries(trx, issueId, now);
    return true;
  });
}

/**
 * The INSERT…SELECT of planning; idempotent on its own (ON CONFLICT DO NOTHING). Each delivery is
 * written as it will stay until a sender claims it: `pending`, or `skipped` with the reason when
 * none of the subscriber's topics is in the issue.
 *
 * The edition keys come from one pass over `subscriber_topics`, grouped by subscriber and joined to
 * the subscribers, rather than from subqueries run once per subscriber: planning a million
 * subscribers on PostgreSQL spent most of its time in those (see the README, bench:send).
 */
export async function insertPlannedDeliveries(
  db: Db | Transaction<Database>,
  issueId: number,
  now: string,
): Promise<number> {
  // Topics this issue's articles carry: their section, plus any extra topics.
  const issueTopicIds = db
    .selectFrom('issue_articles as ia')
    .innerJoin('articles as a', 'a.id', 'ia.article_id')
    .select('a.section_topic_id as topic_id')
    .where('ia.issue_id', '=', issueId)
    .union(
      db
        .selectFrom('issue_articles as ia')
        .innerJoin('article_topics as at', 'at.article_id', 'ia.article_id')
        .select('at.topic_id')
        .where('ia.issue_id', '=', issueId),
    );
  // Per subscriber who chose topics: the chosen ones in this issue, as the edition key (NULL when
  // none is). string_agg(… ORDER BY …) FILTER (…) exists in PostgreSQL and SQLite ≥ 3.44 alike.
  // Slugs are [a-z0-9-], so byte order equals the JS sort of editionKey().
  const chosen = db
    .selectFrom('subscriber_topics as st')
    .innerJoin('topics as t', 't.id', 'st.topic_id')
    .select([
      'st.subscriber_id',
      sql<string | null>`string_agg(t.slug, ',' order by t.slug) filter (where t.id in (${issueTopicIds}))`.as(
        'topics_in_issue',
      ),
    ])
    .groupBy('st.subscriber_id')
    .as('c');
  // No row in `c`: the subscriber chose no topic, the whole issue.
  const noTopicInIssue = sql<boolean>`c.subscriber_id is not null and c.topics_in_issue is null`;
  const result = await db
    .insertInto('deliveries')
    .columns(['issue_id', 'subscriber_id', 'edition_key', 'status', 'last_error', 'attempts', 'created_at'])
    .expression(
      db
        .selectFrom('subscribers as s')
        .leftJoin(chosen, 'c.subscriber_id', 's.id')
        .select([
          sql<number>`${issueId}`.as('issue_id'),
          's.id as subscriber_id',
          sql<string>`case when c.subscriber_id is null then ${FULL_EDITION_KEY}
            else coalesce(c.topics_in_issue, ${NO_ARTICLE_EDITION_KEY}) end`.as('edition_key'),
          sql<DeliveryStatus>`case when ${noTopicInIssue} then ${'skipped'} else ${'pending'} end`.as('status'),
          sql<string | null>`case when ${noTopicInIssue} then ${NO_TOPIC_IN_ISSUE} end`.as('last_error'),
          sql<number>`0`.as('attempts'),
          sql<string>`${now}`.as('created_at'),
        ])
        .where('s.status', '=', 'active'),
    )
    .onConflict((oc) => oc.columns(['issue_id', 'subscriber_id']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0);
}

export async function countDeliveries(db: Db, issueId: number): Promise<DeliveryCounts> {
  const rows = await db
    .selectFrom('deliveries')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('issue_id', '=', issueId)
    .groupBy('status')
    .execute();
  const counts = { ...EMPTY_COUNTS };
  for (const row of rows) {
    counts[row.status] = Number(row.n);
    counts.planned += Number(row.n);
  }
  return counts;
}

/** Deferred retries run now (an editor resumed after fixing the server). */
export async function clearRetryWaits(db: Db, issueId: number): Promise<void> {
  await db
    .updateTable('deliveries')
    .set({ next_attempt_at: null })
    .where('issue_id', '=', issueId)
    .where('status', '=', 'pending')
    .where('next_attempt_at', 'is not', null)
    .execute();
}

/** Cancelling: whatever was not sent is skipped, with the reason. */
export async function skipUnsent(db: Db, issueId: number, reason: string, statuses: DeliveryStatus[]): Promise<number> {
  const result = await db
    .updateTable('deliveries')
    .set({ status: 'skipped', last_error: reason, claimed_at: null })
    .where('issue_id', '=', issueId)
    .where('status', 'in', statuses)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * Marks the issue sent when nothing is pending or in flight any more; true when it did. The
 * `issue.sent` event is recorded in the same transaction (src/db/event-outbox.ts).
 */
export async function finishIssueIfDone(db: Db, issueId: number, now: string): Promise<boolean> {
  const finish = async (trx: Db): Promise<boolean> => {
    const result = await trx
      .updateTable('issues')
      .set({ status: 'sent', sent_at: now, pause_reason: null })
      .where('id', '=', issueId)
      .where('status', '=', 'sending')
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('deliveries')
              .select('id')
              .where('issue_id', '=', issueId)
              .where('status', 'in', ['pending', 'sending']),
          ),
        ),
      )
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return false;
    const issue = await trx
      .selectFrom('issues')
      .select(['slug', 'title', 'edition', 'period'])
      .where('id', '=', issueId)
      .executeTakeFirstOrThrow();
    await recordEvents(trx, [
      { type: 'issue.sent', subject: issueSubject(issue.slug), data: { ...issue, sentAt: now } },
    ]);
    return true;
  };
  return db.isTransaction ? finish(db) : db.transaction().execute(finish);
}

export interface FailedDelivery {
  id: number;
  email: string;
  error: string | null;
}

export async function listFailedDeliveries(db: Db, issueId: number, limit: number): Promise<FailedDelivery[]> {
  return db
    .selectFrom('deliveries as d')
    .innerJoin('subscribers as s', 's.id', 'd.subscriber_id')
    .select(['d.id', 's.email', 'd.last_error as error'])
    .where('d.issue_id', '=', issueId)
    .where('d.status', '=', 'failed')
    .orderBy('d.id')
    .limit(limit)
    .execute();
}

export async function findSubscriberByEmail(
  db: Db,
  email: string,
): Promise<{ uid: string; name: string; email: string } | undefined> {
  return db
    .selectFrom('subscribers')
    .select(['uid', 'name', 'email'])
    .where('email', '=', email.trim().toLowerCase())
    .executeTakeFirst();
}

// ---------------------------------------------------------------------------------------------
// The store a SendManager drives, bound to one issue.

export class SqlDeliveryStore {
  constructor(
    private readonly db: Db,
    readonly issueId: number,
    /** The sender whose claims this store makes and whose claims guard every result it writes. */
    readonly senderId: string,
  ) {}

  /** Only rows this sender still holds: a result of a claim taken over meanwhile is not written. */
  private held(id: number) {
    return this.db
      .updateTable('deliveries')
      .where('id', '=', id)
      .where('status', '=', 'sending')
      .where('claimed_by', '=', this.senderId);
  }

  /**
   * Claims up to `limit` due pending deliveries in (edition_key, id) order and marks them `sending`
   * by this sender in one statement, so two claimers can never take the same row: on PostgreSQL
   * the rows are locked with SKIP LOCKED (concurrent senders take the next rows instead of
   * waiting); SQLite has one writer at a time. A sender whose lease ran out claims nothing.
   * Retries are due by the database's clock, never the sender's own.
   */
  async claim(limit: number): Promise<ClaimedDelivery[]> {
    const at = dbTimeAfter(this.db, 0);
    const candidates = this.db
      .selectFrom('deliveries')
      .select('id')
      .where('issue_id', '=', this.issueId)
      .where('status', '=', 'pending')
      .where((w) => w.or([w('next_attempt_at', 'is', null), w('next_attempt_at', '<=', at)]))
      .orderBy('edition_key')
      .orderBy('id')
      .limit(limit)
      .$if(isPostgres(this.db), (q) => q.forUpdate().skipLocked());
    const claimed = await this.db
      .updateTable('deliveries')
      .set({ status: 'sending', claimed_at: at, claimed_by: this.senderId })
      .where('id', 'in', candidates)
      .where('status', '=', 'pending')
      .where((eb) =>
        eb.and([
          eb.exists(
            eb
              .selectFrom('senders')
              .select('senders.id')
              .where('senders.id', '=', this.senderId)
              .where('senders.lease_until_ms', '>=', dbNowMs(this.db)),
          ),
          // A paused or cancelled send gives no sender a new batch, whenever it looks next.
          eb.exists(
            eb
              .selectFrom('issues')
              .select('issues.id')
              .where('issues.id', '=', this.issueId)
              .where('issues.status', '=', 'sending'),
          ),
        ]),
      )
      .returning(['id', 'subscriber_id', 'edition_key', 'attempts'])
      .execute();
    if (claimed.length === 0) return [];
    const subscribers = await this.db
      .selectFrom('subscribers')
      .select(['id', 'uid', 'email', 'name', 'status', 'tracking_opt_in'])
      .where(
        'id',
        'in',
        claimed.map((c) => c.subscriber_id),
      )
      .execute();
    const byId = new Map(
      subscribers.map(({ tracking_opt_in, ...s }) => [s.id, { ...s, trackingOptIn: tracking_opt_in }]),
    );
    const out: ClaimedDelivery[] = [];
    for (const c of claimed) {
      const subscriber = byId.get(c.subscriber_id);
      if (!subscriber) continue; // erased meanwhile: the delivery row went with it (cascade)
      out.push({ id: c.id, editionKey: c.edition_key, attempts: c.attempts, subscriber });
    }
    // RETURNING order is not guaranteed; editions are built in key order.
    out.sort((a, b) => (a.editionKey < b.editionKey ? -1 : a.editionKey > b.editionKey ? 1 : a.id - b.id));
    return out;
  }

  async markSent(id: number, attempts: number, at: Date): Promise<boolean> {
    const result = await this.held(id)
      .set({
        status: 'sent',
        sent_at: at.toISOString(),
        attempts,
        last_error: null,
        next_attempt_at: null,
        claimed_by: null,
      })
      .executeTakeFirst();
    // While the safety net judges the first recipients, each one settled may close its window.
    if (this.bounceCheck !== 'passed') await this.reviewBounces(false);
    return Number(result.numUpdatedRows) === 1;
  }

  async markSkipped(ids: number[], reason: string): Promise<void> {
    if (ids.length === 0) return;
    await this.db
      .updateTable('deliveries')
      .set({ status: 'skipped', last_error: reason, claimed_at: null, claimed_by: null })
      .where('id', 'in', ids)
      .where('status', '=', 'sending')
      .where('claimed_by', '=', this.senderId)
      .execute();
  }

  /** The next attempt is due `retryInMs` from now by the database's clock, whatever the sender's own says. */
  async markRetry(id: number, attempts: number, retryInMs: number, error: string): Promise<boolean> {
    const result = await this.held(id)
      .set({
        status: 'pending',
        attempts,
        next_attempt_at: dbTimeAfter(this.db, retryInMs),
        last_error: error,
        claimed_at: null,
        claimed_by: null,
      })
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async markFailed(id: number, attempts: number, error: string): Promise<boolean> {
    const result = await this.held(id)
      .set({ status: 'failed', attempts, last_error: error, claimed_at: null, next_attempt_at: null, claimed_by: null })
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * A final recipient status. Once the safety net has passed the send, the subscriber is marked
   * bounced at once (the subscribers domain writes the status and the consent log); before that,
   * the bounce is held on the delivery until the net decides. Returns the pause reason when this
   * bounce tripped the net; `lost` when the claim was no longer this sender's.
   */
  async bounce(id: number, attempts: number, error: string, subscriberId: number): Promise<BounceOutcome> {
    const written = await this.db.transaction().execute(async (trx) => {
      // Read the verdict through a write to its row: PostgreSQL makes this wait for a verdict being
      // written by another connection (and a verdict wait for this bounce), SQLite takes its write
      // lock; either way a bounce and the net's verdict happen one after the other, so no bounce is
      // left held (or failed) after the net tripped or passed.
      const issue = await trx
        .updateTable('issues')
        .set((eb) => ({ bounce_check: eb.ref('bounce_check') }))
        .where('id', '=', this.issueId)
        .returning('bounce_check')
        .executeTakeFirst();
      const verdict = issue?.bounce_check ?? null;
      const mine = trx
        .updateTable('deliveries')
        .where('id', '=', id)
        .where('status', '=', 'sending')
        .where('claimed_by', '=', this.senderId);
      if (verdict === 'tripped') {
        // The net tripped meanwhile (the send is pausing): this one waits with the rest, unmarked.
        const result = await mine
          .set({ status: 'pending', attempts, last_error: error, claimed_at: null, claimed_by: null })
          .executeTakeFirst();
        return { verdict, held: Number(result.numUpdatedRows) === 1 };
      }
      const result = await mine
        .set({
          status: 'failed',
          attempts,
          last_error: error,
          claimed_at: null,
          claimed_by: null,
          next_attempt_at: null,
          bounce_held: verdict === 'passed' ? 0 : 1,
        })
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return { verdict, held: false };
      if (verdict === 'passed') await markSubscriberUndeliverable(trx, subscriberId, 'bounced', error);
      return { verdict, held: true };
    });
    this.bounceCheck = written.verdict;
    if (!written.held) return { outcome: 'lost' };
    const tripped = written.verdict === null ? await this.reviewBounces(false) : null;
    return tripped === null ? { outcome: 'recorded' } : { outcome: 'paused', reason: tripped };
  }

  /** The net's verdict as this process last saw it; 'passed' never changes back within a run. */
  private bounceCheck: BounceCheck | null = null;

  private async readBounceCheck(): Promise<BounceCheck | null> {
    const row = await this.db
      .selectFrom('issues')
      .select('bounce_check')
      .where('id', '=', this.issueId)
      .executeTakeFirst();
    this.bounceCheck = row?.bounce_check ?? null;
    return this.bounceCheck;
  }

  /**
   * The bounce safety net (issue 9): when more than 20 % of the first 100 recipients of a send
   * would be bounced, the list or the relay is wrong, not the people on it. Then the send pauses
   * for an editor and the held bounces go back to pending, nobody marked; otherwise, once 100
   * recipients are settled (or the send ends before that), the held bounces are applied. Every
   * sender may review; the conditional update on `issues.bounce_check` makes one verdict win.
   * Returns the pause reason when the net tripped.
   */
  async reviewBounces(final: boolean): Promise<string | null> {
    if (this.bounceCheck === 'passed' || (await this.readBounceCheck()) !== null) return null;
    const settled = Number(
      (
        await this.db
          .selectFrom((eb) =>
            eb
              .selectFrom('deliveries')
              .select('id')
              .where('issue_id', '=', this.issueId)
              .where('status', 'in', ['sent', 'failed'])
              .limit(BOUNCE_SAFETY_NET.recipients)
              .as('first'),
          )
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
    const held = Number(
      (
        await this.db
          .selectFrom('deliveries')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('issue_id', '=', this.issueId)
          .where('status', '=', 'failed')
          .where('bounce_held', '=', 1)
          .executeTakeFirstOrThrow()
      ).n,
    );
    const judged = Math.max(settled, final ? 0 : BOUNCE_SAFETY_NET.recipients);
    if (held * 100 > judged * BOUNCE_SAFETY_NET.percent) return this.tripBounceNet(held, settled);
    if (settled >= BOUNCE_SAFETY_NET.recipients || final) await this.passBounceNet();
    return null;
  }

  private async tripBounceNet(held: number, settled: number): Promise<string> {
    const reason =
      `Paused: ${held} of the first ${settled} recipients bounced (more than ${BOUNCE_SAFETY_NET.percent} %), ` +
      'which points at the list or the mail server rather than at the people on it. Nobody was marked ' +
      'bounced. Check the replies under Failed deliveries; resume to send on and mark bounces as they come, or cancel.';
    await this.db.transaction().execute(async (trx) => {
      const won = await trx
        .updateTable('issues')
        .set({ bounce_check: 'tripped', status: 'paused', pause_reason: reason })
        .where('id', '=', this.issueId)
        .where('bounce_check', 'is', null)
        .where('status', '=', 'sending')
        .executeTakeFirst();
      if (Number(won.numUpdatedRows) === 0) return;
      await trx
        .updateTable('deliveries')
        .set({ status: 'pending', bounce_held: 0 })
        .where('issue_id', '=', this.issueId)
        .where('status', '=', 'failed')
        .where('bounce_held', '=', 1)
        .execute();
    });
    this.bounceCheck = 'tripped';
    return reason;
  }

  private async passBounceNet(): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const won = await trx
        .updateTable('issues')
        .set({ bounce_check: 'passed' })
        .where('id', '=', this.issueId)
        .where('bounce_check', 'is', null)
        .executeTakeFirst();
      if (Number(won.numUpdatedRows) === 0) return;
      const held = await trx
        .updateTable('deliveries')
        .set({ bounce_held: 0 })
        .where('issue_id', '=', this.issueId)
        .where('bounce_held', '=', 1)
        .returning(['subscriber_id', 'last_error'])
        .execute();
      for (const h of held) await markSubscriberUndeliverable(trx, h.subscriber_id, 'bounced', h.last_error ?? '');
    });
    this.bounceCheck = 'passed';
  }

  /** Claimed but never handed to the server (stop, pause): back to pending, no attempt counted. */
  async release(ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db
      .updateTable('deliveries')
      .set({ status: 'pending', claimed_at: null, claimed_by: null })
      .where('id', 'in', ids)
      .where('status', '=', 'sending')
      .where('claimed_by', '=', this.senderId)
      .execute();
  }

  /** After an automatic pause: failures caused by a broken server go back to pending. */
  async requeue(ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db
      .updateTable('deliveries')
      .set({ status: 'pending', next_attempt_at: null, claimed_at: null, claimed_by: null })
      .where('id', 'in', ids)
      .where('status', 'in', ['failed', 'pending'])
      .execute();
  }

  async retryDueInMs(): Promise<number | null> {
    const row = await this.db
      .selectFrom('deliveries')
      .select((eb) => [eb.fn.min('next_attempt_at').as('next'), dbNowMs(this.db).as('now')])
      .where('issue_id', '=', this.issueId)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return row?.next ? Date.parse(row.next) - Number(row.now) : null;
  }

  async counts(): Promise<DeliveryCounts> {
    return countDeliveries(this.db, this.issueId);
  }

  async control(): Promise<{ status: IssueStatus; pauseReason: string | null }> {
    const row = await this.db
      .selectFrom('issues')
      .select(['status', 'pause_reason'])
      .where('id', '=', this.issueId)
      .executeTakeFirst();
    return row
      ? { status: row.status, pauseReason: row.pause_reason }
      : { status: 'cancelled', pauseReason: 'issue deleted' };
  }

  async pause(reason: string): Promise<void> {
    await this.db
      .updateTable('issues')
      .set({ status: 'paused', pause_reason: reason })
      .where('id', '=', this.issueId)
      .where('status', '=', 'sending')
      .execute();
  }

  async skipRemaining(reason: string): Promise<void> {
    await skipUnsent(this.db, this.issueId, reason, ['pending']);
  }

  async finish(now: Date): Promise<boolean> {
    // A send shorter than the net's window is judged on what it had.
    if ((await this.reviewBounces(true)) !== null) return false;
    return finishIssueIfDone(this.db, this.issueId, now.toISOString());
  }
}
