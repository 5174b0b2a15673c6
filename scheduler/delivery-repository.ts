import { sql, type Kysely, type Transaction } from 'kysely';
import type { Db } from '../src/db/database.js';
import type { Database, DeliveryStatus, IssueRow, IssueStatus, SubscriberStatus } from '../src/db/schema.js';
import { listIssueSlugs, UnknownIssueError } from '../src/content/content-repository.js';
import { FULL_EDITION_KEY } from '../src/content/editions.js';
import { markSubscriberUndeliverable } from '../subscribers/subscriber-repository.js';

// All SQL of the sending domain: deliveries, the per-issue send lease, the send-related columns of
// `issues`. Portable kysely only. (A bounce's subscriber change is the subscribers repository's.)

/** Added by migration 002-sending: which process is sending an issue right now. */
export interface SendLeaseTable {
  issue_id: number;
  /** `host:pid:random`, so a dead local owner can be recognised at once. */
  owner: string;
  heartbeat_at: string;
}

type SendDb = Kysely<Database & { send_leases: SendLeaseTable }>;
const withLeases = (db: Db): SendDb => db.withTables<{ send_leases: SendLeaseTable }>();

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
  subscriber: { id: number; uid: string; email: string; name: string; status: SubscriberStatus };
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
  return db.selectFrom('issues').selectAll().where('status', '=', status).orderBy('started_at').execute();
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
 * Plans an issue's send, once: one delivery per active subscriber (unique per issue and
 * subscriber, so a second run adds nothing), keyed by the subscriber's topics that occur in this
 * issue (`*` for a subscriber with no topic = whole issue; '' when none occurs = nothing to send,
 * marked skipped). In the same transaction the issue becomes `sending` with `started_at`, so later
 * sign-ups are never added by a resume. Returns false when the issue had already started.
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
    await insertPlannedDeliveries(trx, issueId, now);
    await trx
      .updateTable('deliveries')
      .set({ status: 'skipped', last_error: 'none of the subscriber’s topics is in this issue' })
      .where('issue_id', '=', issueId)
      .where('status', '=', 'pending')
      .where('edition_key', '=', NO_ARTICLE_EDITION_KEY)
      .execute();
    return true;
  });
}

/** The INSERT…SELECT of planning; idempotent on its own (ON CONFLICT DO NOTHING). */
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
  // string_agg(… ORDER BY …) exists in PostgreSQL and SQLite ≥ 3.44 alike. Slugs are [a-z0-9-],
  // so byte order equals the JS sort of editionKey().
  const editionKey = sql<string>`case
    when exists (select 1 from subscriber_topics st0 where st0.subscriber_id = s.id) then
      coalesce((select string_agg(t.slug, ',' order by t.slug)
                from subscriber_topics st join topics t on t.id = st.topic_id
                where st.subscriber_id = s.id and st.topic_id in (${issueTopicIds})), ${NO_ARTICLE_EDITION_KEY})
    else ${FULL_EDITION_KEY} end`;
  const result = await db
    .insertInto('deliveries')
    .columns(['issue_id', 'subscriber_id', 'edition_key', 'status', 'attempts', 'created_at'])
    .expression(
      db
        .selectFrom('subscribers as s')
        .select([
          sql<number>`${issueId}`.as('issue_id'),
          's.id as subscriber_id',
          editionKey.as('edition_key'),
          sql<DeliveryStatus>`${'pending'}`.as('status'),
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

/** Deliveries a crashed process left in `sending` go back to pending (the caller holds the lease). */
export async function resetInFlight(db: Db, issueId: number): Promise<number> {
  const result = await db
    .updateTable('deliveries')
    .set({ status: 'pending', claimed_at: null })
    .where('issue_id', '=', issueId)
    .where('status', '=', 'sending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
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

/** Marks the issue sent when nothing is pending or in flight any more; true when it did. */
export async function finishIssueIfDone(db: Db, issueId: number, now: string): Promise<boolean> {
  const result = await db
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
  return Number(result.numUpdatedRows) === 1;
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
// Send lease: at most one process drives an issue's deliveries at a time.

export interface SendLease {
  owner: string;
  heartbeatAt: string;
}

export async function getSendLease(db: Db, issueId: number): Promise<SendLease | undefined> {
  const row = await withLeases(db)
    .selectFrom('send_leases')
    .select(['owner', 'heartbeat_at'])
    .where('issue_id', '=', issueId)
    .executeTakeFirst();
  return row ? { owner: row.owner, heartbeatAt: row.heartbeat_at } : undefined;
}

/** Takes a free lease; returns false when another owner holds one. */
export async function insertSendLease(db: Db, issueId: number, owner: string, now: string): Promise<boolean> {
  const result = await withLeases(db)
    .insertInto('send_leases')
    .values({ issue_id: issueId, owner, heartbeat_at: now })
    .onConflict((oc) => oc.column('issue_id').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

/** Compare-and-swap takeover of a lease whose owner is gone; false when someone else got there first. */
export async function takeOverSendLease(
  db: Db,
  issueId: number,
  previous: SendLease,
  owner: string,
  now: string,
): Promise<boolean> {
  const result = await withLeases(db)
    .updateTable('send_leases')
    .set({ owner, heartbeat_at: now })
    .where('issue_id', '=', issueId)
    .where('owner', '=', previous.owner)
    .where('heartbeat_at', '=', previous.heartbeatAt)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Renews the lease; false means it was lost (taken over after a stall) and sending must stop. */
export async function renewSendLease(db: Db, issueId: number, owner: string, now: string): Promise<boolean> {
  const result = await withLeases(db)
    .updateTable('send_leases')
    .set({ heartbeat_at: now })
    .where('issue_id', '=', issueId)
    .where('owner', '=', owner)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function releaseSendLease(db: Db, issueId: number, owner: string): Promise<void> {
  await withLeases(db).deleteFrom('send_leases').where('issue_id', '=', issueId).where('owner', '=', owner).execute();
}

// ---------------------------------------------------------------------------------------------
// The store a SendManager drives, bound to one issue.

export class SqlDeliveryStore {
  constructor(
    private readonly db: Db,
    readonly issueId: number,
  ) {}

  /**
   * Claims up to `limit` due pending deliveries in (edition_key, id) order and marks them
   * `sending` in one statement, so two claimers can never take the same row.
   */
  async claim(limit: number, now: Date): Promise<ClaimedDelivery[]> {
    const at = now.toISOString();
    const claimed = await this.db
      .updateTable('deliveries')
      .set({ status: 'sending', claimed_at: at })
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('deliveries')
          .select('id')
          .where('issue_id', '=', this.issueId)
          .where('status', '=', 'pending')
          .where((w) => w.or([w('next_attempt_at', 'is', null), w('next_attempt_at', '<=', at)]))
          .orderBy('edition_key')
          .orderBy('id')
          .limit(limit),
      )
      .where('status', '=', 'pending')
      .returning(['id', 'subscriber_id', 'edition_key', 'attempts'])
      .execute();
    if (claimed.length === 0) return [];
    const subscribers = await this.db
      .selectFrom('subscribers')
      .select(['id', 'uid', 'email', 'name', 'status'])
      .where(
        'id',
        'in',
        claimed.map((c) => c.subscriber_id),
      )
      .execute();
    const byId = new Map(subscribers.map((s) => [s.id, s]));
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

  async markSent(id: number, attempts: number, at: Date): Promise<void> {
    await this.db
      .updateTable('deliveries')
      .set({ status: 'sent', sent_at: at.toISOString(), attempts, last_error: null, next_attempt_at: null })
      .where('id', '=', id)
      .execute();
  }

  async markSkipped(ids: number[], reason: string): Promise<void> {
    if (ids.length === 0) return;
    await this.db
      .updateTable('deliveries')
      .set({ status: 'skipped', last_error: reason, claimed_at: null })
      .where('id', 'in', ids)
      .execute();
  }

  async markRetry(id: number, attempts: number, nextAttemptAt: Date, error: string): Promise<void> {
    await this.db
      .updateTable('deliveries')
      .set({
        status: 'pending',
        attempts,
        next_attempt_at: nextAttemptAt.toISOString(),
        last_error: error,
        claimed_at: null,
      })
      .where('id', '=', id)
      .execute();
  }

  /** A final failure; with `bounce`, the subscriber is marked bounced and the consent log says why. */
  async markFailed(id: number, attempts: number, error: string, bounce?: { subscriberId: number }): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('deliveries')
        .set({ status: 'failed', attempts, last_error: error, claimed_at: null, next_attempt_at: null })
        .where('id', '=', id)
        .execute();
      // The subscribers domain owns that change (status + consent log, source 'system').
      if (bounce) await markSubscriberUndeliverable(trx, bounce.subscriberId, 'bounced', error);
    });
  }

  /** Claimed but never handed to the server (stop, pause): back to pending, no attempt counted. */
  async release(ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db
      .updateTable('deliveries')
      .set({ status: 'pending', claimed_at: null })
      .where('id', 'in', ids)
      .where('status', '=', 'sending')
      .execute();
  }

  /** After an automatic pause: failures caused by a broken server go back to pending. */
  async requeue(ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db
      .updateTable('deliveries')
      .set({ status: 'pending', next_attempt_at: null, claimed_at: null })
      .where('id', 'in', ids)
      .where('status', 'in', ['failed', 'pending'])
      .execute();
  }

  async nextRetryAt(): Promise<Date | null> {
    const row = await this.db
      .selectFrom('deliveries')
      .select((eb) => eb.fn.min('next_attempt_at').as('next'))
      .where('issue_id', '=', this.issueId)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return row?.next ? new Date(row.next) : null;
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
    return finishIssueIfDone(this.db, this.issueId, now.toISOString());
  }
}
