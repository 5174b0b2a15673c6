import type { Kysely } from 'kysely';
import type { Db } from '../../src/db/database.js';
import type { Database } from '../../src/db/schema.js';
import type { DeliveryRef } from './bounce-address.js';

// All SQL of bounces, complaints and unclassified replies (table `feedback_events`, migration
// 050). Portable kysely only. Subscriber status changes are the subscribers repository's.

export type FeedbackSource = 'smtp' | 'imap' | 'ses' | 'mailgun' | 'postmark' | 'sendgrid';
export type FeedbackKind = 'hard' | 'soft' | 'complaint' | 'unclassified';
/** What applying the event did. */
export type FeedbackOutcome =
  'bounced' | 'complained' | 'soft-counted' | 'already-withdrawn' | 'kept-for-editor' | 'no-subscriber';

export interface FeedbackEventTable {
  /** `<source>:<provider event id or report Message-ID>`: unique, so an event applies once. */
  event_key: string;
  source: FeedbackSource;
  kind: FeedbackKind;
  subscriber_id: number | null;
  issue_id: number | null;
  recipient: string | null;
  status_code: string | null;
  diagnostic: string | null;
  outcome: FeedbackOutcome;
  subject: string | null;
  from_address: string | null;
  excerpt: string | null;
  received_at: string;
}

type FeedbackDb = Kysely<Database & { feedback_events: FeedbackEventTable }>;
const withFeedback = (db: Db): FeedbackDb => db.withTables<{ feedback_events: FeedbackEventTable }>();

/** Inserts the event unless one with the same key exists; true when this call inserted it. */
export async function insertFeedbackEvent(db: Db, event: FeedbackEventTable): Promise<boolean> {
  const result = await withFeedback(db)
    .insertInto('feedback_events')
    .values(event)
    .onConflict((oc) => oc.column('event_key').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function setFeedbackOutcome(db: Db, eventKey: string, outcome: FeedbackOutcome): Promise<void> {
  await withFeedback(db).updateTable('feedback_events').set({ outcome }).where('event_key', '=', eventKey).execute();
}

export interface DeliveryTarget {
  issueId: number;
  issueSlug: string;
  subscriberId: number;
  subscriberUid: string;
  email: string;
}

function deliveryTargets(db: Db) {
  return db
    .selectFrom('deliveries as d')
    .innerJoin('issues as i', 'i.id', 'd.issue_id')
    .innerJoin('subscribers as s', 's.id', 'd.subscriber_id')
    .select([
      'd.issue_id as issueId',
      'i.slug as issueSlug',
      'd.subscriber_id as subscriberId',
      's.uid as subscriberUid',
      's.email as email',
    ]);
}

/** The delivery a VERP token names, when it exists (the subscriber may have been erased since). */
export async function findDelivery(db: Db, ref: DeliveryRef): Promise<DeliveryTarget | undefined> {
  return deliveryTargets(db)
    .where('d.issue_id', '=', ref.issueId)
    .where('d.subscriber_id', '=', ref.subscriberId)
    .executeTakeFirst();
}

/** A subscriber's deliveries that reached a server, newest first. */
export async function sentDeliveriesOf(db: Db, subscriberId: number, limit: number): Promise<DeliveryTarget[]> {
  return deliveryTargets(db)
    .where('d.subscriber_id', '=', subscriberId)
    .where('d.status', '=', 'sent')
    .orderBy('d.id', 'desc')
    .limit(limit)
    .execute();
}

/** Of these issues, those for which the subscriber has a hard or soft bounce on record. */
export async function issuesWithBounces(db: Db, subscriberId: number, issueIds: number[]): Promise<Set<number>> {
  if (issueIds.length === 0) return new Set();
  const rows = await withFeedback(db)
    .selectFrom('feedback_events')
    .select('issue_id')
    .distinct()
    .where('subscriber_id', '=', subscriberId)
    .where('issue_id', 'in', issueIds)
    .where('kind', 'in', ['hard', 'soft'])
    .execute();
  return new Set(rows.map((r) => r.issue_id).filter((id): id is number => id !== null));
}

export interface FeedbackCounts {
  hard: number;
  soft: number;
  complaints: number;
  unclassified: number;
}

export const NO_FEEDBACK: FeedbackCounts = { hard: 0, soft: 0, complaints: 0, unclassified: 0 };

/** Events per kind for one issue; soft bounces count each subscriber once. */
export async function countIssueFeedback(db: Db, issueId: number): Promise<FeedbackCounts> {
  const rows = await withFeedback(db)
    .selectFrom('feedback_events')
    .select((eb) => [
      'kind',
      eb.fn.count<number>('subscriber_id').distinct().as('subscribers'),
      eb.fn.countAll<number>().as('events'),
    ])
    .where('issue_id', '=', issueId)
    .groupBy('kind')
    .execute();
  const counts = { ...NO_FEEDBACK };
  for (const row of rows) {
    const n = Number(row.kind === 'unclassified' ? row.events : row.subscribers);
    if (row.kind === 'complaint') counts.complaints = n;
    else counts[row.kind] = n;
  }
  return counts;
}

/** Messages of an issue accepted by the server so far: the denominator of the pause rates. */
export async function countSent(db: Db, issueId: number): Promise<number> {
  const row = await db
    .selectFrom('deliveries')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('issue_id', '=', issueId)
    .where('status', '=', 'sent')
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

export interface FeedbackEntry {
  kind: FeedbackKind;
  source: FeedbackSource;
  outcome: FeedbackOutcome;
  email: string | null;
  subscriberUid: string | null;
  issueSlug: string | null;
  recipient: string | null;
  statusCode: string | null;
  diagnostic: string | null;
  subject: string | null;
  from: string | null;
  excerpt: string | null;
  receivedAt: string;
}

function listQuery(db: Db) {
  return withFeedback(db)
    .selectFrom('feedback_events as f')
    .leftJoin('subscribers as s', 's.id', 'f.subscriber_id')
    .leftJoin('issues as i', 'i.id', 'f.issue_id')
    .select([
      'f.kind as kind',
      'f.source as source',
      'f.outcome as outcome',
      's.email as email',
      's.uid as subscriberUid',
      'i.slug as issueSlug',
      'f.recipient as recipient',
      'f.status_code as statusCode',
      'f.diagnostic as diagnostic',
      'f.subject as subject',
      'f.from_address as from',
      'f.excerpt as excerpt',
      'f.received_at as receivedAt',
    ])
    .orderBy('f.received_at', 'desc')
    .orderBy('f.event_key');
}

export async function listIssueFeedback(db: Db, issueId: number, limit: number): Promise<FeedbackEntry[]> {
  return listQuery(db).where('f.issue_id', '=', issueId).limit(limit).execute();
}

export async function listSubscriberFeedback(db: Db, subscriberId: number, limit: number): Promise<FeedbackEntry[]> {
  return listQuery(db).where('f.subscriber_id', '=', subscriberId).limit(limit).execute();
}

/** Replies and reports that named no delivery we know: kept for an editor to read. */
export async function listUnmatchedFeedback(db: Db, limit: number): Promise<FeedbackEntry[]> {
  return listQuery(db).where('f.subscriber_id', 'is', null).limit(limit).execute();
}
