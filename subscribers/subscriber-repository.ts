import { randomUUID } from 'node:crypto';
import type { Db } from '../src/db/database.js';
import { nowIso } from '../src/db/database.js';
import type { ConsentSource, SubscriberRow, SubscriberStatus, UnsubscribeSource } from '../src/db/schema.js';
import {
  deleteEventsAbout,
  heardEventTypes,
  recordEvents,
  subscriberSubject,
  type NewOutboxEvent,
  type OutboxEventType,
} from '../src/db/event-outbox.js';
import { newSubscriberUid } from './tokens.js';
import { deleteClickEventsOf } from '../src/tracking/tracking-repository.js';

// All SQL about subscribers, their topics, the consent log and erased addresses lives in this file.
// The consent log is append-only: rows are only ever inserted here (and removed with the
// subscriber on erasure, which is what erasure means). Each change also records its event in the
// outbox (src/db/event-outbox.ts) in the same transaction, for the outgoing webhooks, when an
// endpoint listens for events of its type.

export interface Subscriber {
  id: number;
  uid: string;
  email: string;
  name: string;
  status: SubscriberStatus;
  createdAt: string;
  confirmedAt: string | null;
  unsubscribedAt: string | null;
  updatedAt: string;
  /** Chosen topics in topic order; empty = every topic. */
  topicSlugs: string[];
}

/** What the sending pipeline needs per recipient. */
export interface ActiveSubscriber {
  id: number;
  uid: string;
  email: string;
  name: string;
  /** Chosen topic slugs, sorted; empty = every topic (the whole issue). */
  topicSlugs: string[];
}

/** Who or what caused a consent event, and from where when the web gave it. */
export interface ConsentContext {
  source: ConsentSource;
  ip?: string | null;
  userAgent?: string | null;
}

export interface ConsentEntry {
  action: string;
  source: ConsentSource;
  detail: string | null;
  ip: string | null;
  userAgent: string | null;
  at: string;
}

/** Statuses in which a person has withdrawn or can no longer be mailed; nothing but the person reactivates them. */
export const WITHDRAWN_STATUSES: readonly SubscriberStatus[] = ['unsubscribed', 'bounced', 'complained'];

const MAX_USER_AGENT = 400;

async function inTransaction<T>(db: Db, work: (trx: Db) => Promise<T>): Promise<T> {
  if (db.isTransaction) return work(db);
  return db.transaction().execute(work);
}

/** Rows per multi-row statement: well under SQLite's and PostgreSQL's limits on bound parameters. */
const ROWS_PER_STATEMENT = 500;

function chunks<T>(items: readonly T[], size = ROWS_PER_STATEMENT): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

async function topicSlugsFor(db: Db, subscriberIds: number[]): Promise<Map<number, string[]>> {
  const result = new Map<number, string[]>();
  if (subscriberIds.length === 0) return result;
  for (const part of chunks(subscriberIds)) {
    const rows = await db
      .selectFrom('subscriber_topics')
      .innerJoin('topics', 'topics.id', 'subscriber_topics.topic_id')
      .select(['subscriber_topics.subscriber_id as subscriberId', 'topics.slug as slug'])
      .where('subscriber_topics.subscriber_id', 'in', part)
      .orderBy('topics.position')
      .orderBy('topics.id')
      .execute();
    for (const row of rows) {
      const list = result.get(row.subscriberId) ?? [];
      list.push(row.slug);
      result.set(row.subscriberId, list);
    }
  }
  return result;
}

function toSubscriber(row: SubscriberRow, topicSlugs: string[]): Subscriber {
  return {
    id: row.id,
    uid: row.uid,
    email: row.email,
    name: row.name,
    status: row.status,
    createdAt: row.created_at,
    confirmedAt: row.confirmed_at,
    unsubscribedAt: row.unsubscribed_at,
    updatedAt: row.updated_at,
    topicSlugs,
  };
}

/** Rows as Subscribers, with their topics (one query per 500 rows). */
export async function withTopicSlugs(db: Db, rows: readonly SubscriberRow[]): Promise<Subscriber[]> {
  const topics = await topicSlugsFor(
    db,
    rows.map((r) => r.id),
  );
  return rows.map((r) => toSubscriber(r, topics.get(r.id) ?? []));
}

async function withTopics(db: Db, row: SubscriberRow | undefined): Promise<Subscriber | undefined> {
  if (!row) return undefined;
  return toSubscriber(row, (await topicSlugsFor(db, [row.id])).get(row.id) ?? []);
}

/** `email` must already be normalised (see address.ts). */
/** What events and the JSON API say about a subscriber: the public id, never the row id. */
export interface PublicSubscriber {
  id: string;
  email: string;
  name: string;
  status: SubscriberStatus;
  /** Chosen topic slugs; empty = every topic. */
  topics: string[];
  createdAt: string;
  confirmedAt: string | null;
  unsubscribedAt: string | null;
  updatedAt: string;
}

export function publicSubscriber(s: Subscriber): PublicSubscriber {
  return {
    id: s.uid,
    email: s.email,
    name: s.name,
    status: s.status,
    topics: s.topicSlugs,
    createdAt: s.createdAt,
    confirmedAt: s.confirmedAt,
    unsubscribedAt: s.unsubscribedAt,
    updatedAt: s.updatedAt,
  };
}

/** Records `type` for these subscribers as they are now (inside the change's transaction). */
async function recordSubscriberEvents(db: Db, type: OutboxEventType, subscriberIds: readonly number[]): Promise<void> {
  // The subscribers are read again only for an event someone listens for (recordEvents).
  const heard = await heardEventTypes(db);
  if (!heard.has(type)) return;
  const events: NewOutboxEvent[] = [];
  for (const part of chunks(subscriberIds)) {
    const rows = await db.selectFrom('subscribers').selectAll().where('id', 'in', part).orderBy('id').execute();
    for (const s of await withTopicSlugs(db, rows)) {
      events.push({ type, subject: subscriberSubject(s.uid), data: publicSubscriber(s) });
    }
  }
  await recordEvents(db, events, heard);
}

export async function findSubscriberByEmail(db: Db, email: string): Promise<Subscriber | undefined> {
  return withTopics(db, await db.selectFrom('subscribers').selectAll().where('email', '=', email).executeTakeFirst());
}

export async function findSubscriberByUid(db: Db, uid: string): Promise<Subscriber | undefined> {
  return withTopics(db, await db.selectFrom('subscribers').selectAll().where('uid', '=', uid).executeTakeFirst());
}

/** The address of the subscriber with this uid (one indexed read, no topics), if they exist. */
export async function findEmailByUid(db: Db, uid: string): Promise<string | undefined> {
  const row = await db.selectFrom('subscribers').select('email').where('uid', '=', uid).executeTakeFirst();
  return row?.email;
}

/** Maps topic slugs to ids; unknown slugs are returned separately so callers can name them. */
export async function resolveTopicSlugs(
  db: Db,
  slugs: readonly string[],
): Promise<{ ids: number[]; unknown: string[]; known: string[] }> {
  const topics = await db.selectFrom('topics').select(['id', 'slug']).orderBy('position').orderBy('id').execute();
  const bySlug = new Map(topics.map((t) => [t.slug, t.id]));
  const ids: number[] = [];
  const unknown: string[] = [];
  for (const slug of new Set(slugs)) {
    const id = bySlug.get(slug);
    if (id === undefined) unknown.push(slug);
    else ids.push(id);
  }
  return { ids, unknown, known: topics.map((t) => t.slug) };
}

export async function topicIdsBySlug(db: Db): Promise<Map<string, number>> {
  const topics = await db.selectFrom('topics').select(['id', 'slug']).execute();
  return new Map(topics.map((t) => [t.slug, t.id]));
}

function consentRow(subscriberId: number, action: string, context: ConsentContext, detail: string | null, at: string) {
  return {
    subscriber_id: subscriberId,
    action,
    source: context.source,
    detail,
    ip: context.ip ?? null,
    user_agent: context.userAgent ? context.userAgent.slice(0, MAX_USER_AGENT) : null,
    created_at: at,
  };
}

export async function logConsent(
  db: Db,
  subscriberId: number,
  action: string,
  context: ConsentContext,
  detail: string | null = null,
): Promise<void> {
  await db
    .insertInto('consent_log')
    .values(consentRow(subscriberId, action, context, detail, nowIso()))
    .execute();
}

/** Whether the subscriber agreed to individual click tracking (their preferences page). */
export async function hasTrackingOptIn(db: Db, subscriberId: number): Promise<boolean> {
  const row = await db
    .selectFrom('subscribers')
    .select('tracking_opt_in')
    .where('id', '=', subscriberId)
    .executeTakeFirst();
  return row?.tracking_opt_in === true;
}

/**
 * The reader's own choice about individual click tracking, with its consent-log entry
 * (`tracking-opt-in` / `tracking-opt-out`); false when it was already so (nothing logged).
 */
export async function setTrackingOptIn(
  db: Db,
  subscriberId: number,
  optIn: boolean,
  context: ConsentContext,
): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const now = nowIso();
    const result = await trx
      .updateTable('subscribers')
      .set({ tracking_opt_in: optIn, updated_at: now })
      .where('id', '=', subscriberId)
      .where('tracking_opt_in', '=', !optIn)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return false;
    await trx
      .insertInto('consent_log')
      .values(consentRow(subscriberId, optIn ? 'tracking-opt-in' : 'tracking-opt-out', context, null, now))
      .execute();
    return true;
  });
}

async function replaceTopics(db: Db, subscriberId: number, topicIds: readonly number[]): Promise<void> {
  await db.deleteFrom('subscriber_topics').where('subscriber_id', '=', subscriberId).execute();
  if (topicIds.length > 0) {
    await db
      .insertInto('subscriber_topics')
      .values([...new Set(topicIds)].map((topic_id) => ({ subscriber_id: subscriberId, topic_id })))
      .execute();
  }
}

export interface NewSubscriber {
  email: string;
  name: string;
  status: 'pending' | 'active';
  topicIds: readonly number[];
  /** Consent-log action, e.g. `signup` (form) or `subscribe` (import, cli). */
  action: string;
  context: ConsentContext;
  detail?: string | null;
}

function subscriberRow(input: NewSubscriber, now: string) {
  return {
    uid: newSubscriberUid(),
    email: input.email,
    name: input.name,
    status: input.status,
    created_at: now,
    confirmed_at: input.status === 'active' ? now : null,
    unsubscribed_at: null,
    updated_at: now,
  };
}

export async function createSubscriber(db: Db, input: NewSubscriber): Promise<Subscriber> {
  return inTransaction(db, async (trx) => {
    const now = nowIso();
    const row = await trx
      .insertInto('subscribers')
      .values(subscriberRow(input, now))
      .returningAll()
      .executeTakeFirstOrThrow();
    await replaceTopics(trx, row.id, input.topicIds);
    await logConsent(trx, row.id, input.action, input.context, input.detail ?? null);
    const created = await withTopics(trx, row);
    if (!created) throw new Error('subscriber vanished inside its own transaction');
    await recordEvents(trx, [
      { type: 'subscriber.created', subject: subscriberSubject(created.uid), data: publicSubscriber(created) },
    ]);
    return created;
  });
}

/**
 * Creates many subscribers with a few multi-row statements (imports): rows, topics and one
 * consent entry each. Run it inside the caller's transaction.
 */
export async function createSubscribers(db: Db, inputs: readonly NewSubscriber[]): Promise<void> {
  for (const part of chunks(inputs)) {
    const now = nowIso();
    const rows = await db
      .insertInto('subscribers')
      .values(part.map((input) => subscriberRow(input, now)))
      .returning(['id', 'email'])
      .execute();
    const idOf = new Map(rows.map((r) => [r.email, r.id]));
    const topics = part.flatMap((input) =>
      [...new Set(input.topicIds)].map((topic_id) => ({ subscriber_id: idOf.get(input.email) as number, topic_id })),
    );
    for (const topicRows of chunks(topics)) await db.insertInto('subscriber_topics').values(topicRows).execute();
    await db
      .insertInto('consent_log')
      .values(
        part.map((input) =>
          consentRow(idOf.get(input.email) as number, input.action, input.context, input.detail ?? null, now),
        ),
      )
      .execute();
    await recordSubscriberEvents(
      db,
      'subscriber.created',
      rows.map((r) => r.id),
    );
  }
}

/** The subscribers with these normalised addresses, with their topics, by address. */
export async function findSubscribersByEmails(db: Db, emails: readonly string[]): Promise<Map<string, Subscriber>> {
  const found = new Map<string, Subscriber>();
  for (const part of chunks(emails)) {
    const rows = await db.selectFrom('subscribers').selectAll().where('email', 'in', part).execute();
    for (const subscriber of await withTopicSlugs(db, rows)) found.set(subscriber.email, subscriber);
  }
  return found;
}

/** Which of these keyed address hashes (address.ts) belong to erased addresses. */
export async function erasedHashesAmong(db: Db, hashes: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (const part of chunks(hashes)) {
    const rows = await db.selectFrom('erased_addresses').select('email_hash').where('email_hash', 'in', part).execute();
    for (const row of rows) found.add(row.email_hash);
  }
  return found;
}

export interface ProfileChange {
  name?: string;
  topicIds?: readonly number[];
}

/**
 * Updates name and/or topics; logs one consent entry naming what changed. Returns whether
 * anything changed (an identical re-import writes nothing).
 */
export async function updateSubscriberProfile(
  db: Db,
  subscriber: Subscriber,
  change: ProfileChange,
  action: string,
  context: ConsentContext,
): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const changed: string[] = [];
    if (change.name !== undefined && change.name !== subscriber.name) changed.push('name');
    let newSlugs: string[] | undefined;
    if (change.topicIds !== undefined) {
      const before = await trx
        .selectFrom('subscriber_topics')
        .select('topic_id')
        .where('subscriber_id', '=', subscriber.id)
        .execute();
      const a = [...new Set(before.map((r) => r.topic_id))].sort((x, y) => x - y);
      const b = [...new Set(change.topicIds)].sort((x, y) => x - y);
      if (a.join(',') !== b.join(',')) {
        changed.push('topics');
        await replaceTopics(trx, subscriber.id, b);
        newSlugs = (await topicSlugsFor(trx, [subscriber.id])).get(subscriber.id) ?? [];
      }
    }
    if (changed.length === 0) return false;
    await trx
      .updateTable('subscribers')
      .set({ ...(changed.includes('name') ? { name: change.name } : {}), updated_at: nowIso() })
      .where('id', '=', subscriber.id)
      .execute();
    const detail: Record<string, unknown> = { changed };
    if (newSlugs) detail.topics = newSlugs.length > 0 ? newSlugs : 'all';
    await logConsent(trx, subscriber.id, action, context, JSON.stringify(detail));
    await recordSubscriberEvents(trx, 'subscriber.updated', [subscriber.id]);
    return true;
  });
}

/**
 * Moves a subscriber to `active` (confirmation, re-subscription, import of a pending address).
 * Conditional on the status the caller saw, so two clicks on one link confirm only once.
 */
export async function activateSubscriber(
  db: Db,
  subscriberId: number,
  fromStatuses: readonly SubscriberStatus[],
  action: string,
  context: ConsentContext,
  detail: string | null = null,
): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const now = nowIso();
    const result = await trx
      .updateTable('subscribers')
      .set({ status: 'active', confirmed_at: now, unsubscribed_at: null, updated_at: now })
      .where('id', '=', subscriberId)
      .where('status', 'in', [...fromStatuses])
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return false;
    await logConsent(trx, subscriberId, action, context, detail);
    await recordSubscriberEvents(trx, 'subscriber.confirmed', [subscriberId]);
    return true;
  });
}

/**
 * Withdraws consent (`unsubscribed`) or records that mail cannot or must not be delivered
 * (`bounced`, `complained`). Returns false when the subscriber was already in a withdrawn state
 * (nothing changes and nothing is logged: a repeated one-click POST is harmless).
 */
export async function withdrawSubscriber(
  db: Db,
  subscriberId: number,
  status: 'unsubscribed' | 'bounced' | 'complained',
  action: string,
  context: ConsentContext,
  detail: string | null = null,
): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const now = nowIso();
    const result = await trx
      .updateTable('subscribers')
      .set({ status, unsubscribed_at: now, updated_at: now })
      .where('id', '=', subscriberId)
      .where('status', 'in', ['pending', 'active'])
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return false;
    await logConsent(trx, subscriberId, action, context, detail);
    // A complaint is a withdrawal too: its event says unsubscribed, its data's status says why.
    await recordSubscriberEvents(trx, status === 'bounced' ? 'subscriber.bounced' : 'subscriber.unsubscribed', [
      subscriberId,
    ]);
    return true;
  });
}

export interface UnsubscribeRequest {
  uid: string;
  context: ConsentContext & { source: UnsubscribeSource };
  detail: string;
}

/** Records a one-click unsubscribe in one short insert (migration 016); returns its id. */
export async function recordUnsubscribeRequest(db: Db, request: UnsubscribeRequest): Promise<string> {
  const id = randomUUID();
  await db
    .insertInto('unsubscribe_requests')
    .values({
      id,
      subscriber_uid: request.uid,
      source: request.context.source,
      detail: request.detail,
      ip: request.context.ip ?? null,
      user_agent: request.context.userAgent ? request.context.userAgent.slice(0, MAX_USER_AGENT) : null,
      requested_at: nowIso(),
    })
    .execute();
  return id;
}

/** What an unsubscribe did; `gone` = a recorded one was applied already (by a retry). */
export type UnsubscribeOutcome = 'unsubscribed' | 'already-withdrawn' | 'no-subscriber' | 'gone';

async function withdrawByUid(
  trx: Db,
  request: UnsubscribeRequest,
  requestedAt: string | null,
): Promise<Exclude<UnsubscribeOutcome, 'gone'>> {
  const subscriber = await trx.selectFrom('subscribers').select('id').where('uid', '=', request.uid).executeTakeFirst();
  if (!subscriber) return 'no-subscriber';
  const late = requestedAt !== null && Date.now() - Date.parse(requestedAt) > 1000;
  const done = await withdrawSubscriber(
    trx,
    subscriber.id,
    'unsubscribed',
    'unsubscribe',
    request.context,
    late ? `${request.detail} (requested ${requestedAt})` : request.detail,
  );
  return done ? 'unsubscribed' : 'already-withdrawn';
}

/**
 * Unsubscribes the subscriber with this uid (one-click): withdrawn with a consent entry, or
 * already withdrawn (nothing changes, so applying one request twice is harmless), or erased.
 */
export async function unsubscribeByUid(
  db: Db,
  request: UnsubscribeRequest,
): Promise<Exclude<UnsubscribeOutcome, 'gone'>> {
  return inTransaction(db, (trx) => withdrawByUid(trx, request, null));
}

/** Applies a recorded unsubscribe and removes it, in one transaction. */
export async function applyUnsubscribeRequest(db: Db, requestId: string): Promise<UnsubscribeOutcome> {
  return inTransaction(db, async (trx) => {
    const row = await trx.selectFrom('unsubscribe_requests').selectAll().where('id', '=', requestId).executeTakeFirst();
    if (!row) return 'gone';
    await trx.deleteFrom('unsubscribe_requests').where('id', '=', requestId).execute();
    const request = {
      uid: row.subscriber_uid,
      context: { source: row.source, ip: row.ip, userAgent: row.user_agent },
      detail: row.detail ?? '',
    };
    return withdrawByUid(trx, request, row.requested_at);
  });
}

/** Recorded unsubscribes not applied yet, oldest first. */
export async function listUnsubscribeRequests(db: Db, limit: number): Promise<{ id: string; attempts: number }[]> {
  return db
    .selectFrom('unsubscribe_requests')
    .select(['id', 'attempts'])
    .orderBy('requested_at')
    .orderBy('id')
    .limit(limit)
    .execute();
}

/** Notes a failed attempt to apply a recorded unsubscribe (it stays to be tried again). */
export async function noteUnsubscribeAttempt(db: Db, requestId: string, error: string): Promise<void> {
  await db
    .updateTable('unsubscribe_requests')
    .set((eb) => ({ attempts: eb('attempts', '+', 1), last_error: error.slice(0, 500) }))
    .where('id', '=', requestId)
    .execute();
}

/**
 * For the sending pipeline: a hard bounce or a complaint stops all further mail to this
 * subscriber. Logged with source `system`.
 */
export async function markSubscriberUndeliverable(
  db: Db,
  subscriberId: number,
  status: 'bounced' | 'complained',
  detail: string | null = null,
): Promise<boolean> {
  return withdrawSubscriber(
    db,
    subscriberId,
    status,
    status === 'bounced' ? 'bounce' : 'complaint',
    { source: 'system' },
    detail,
  );
}

/**
 * Erasure: the subscriber row, its topics, deliveries and consent log are deleted; only the keyed
 * hash of the address stays, so an import cannot add the address back.
 */
export async function eraseSubscriber(db: Db, subscriberId: number, emailHash: string): Promise<void> {
  await inTransaction(db, async (trx) => {
    const row = await trx.selectFrom('subscribers').select('uid').where('id', '=', subscriberId).executeTakeFirst();
    if (row) {
      await trx.deleteFrom('unsubscribe_requests').where('subscriber_uid', '=', row.uid).execute();
      // Every event that held their data goes (and any webhook delivery of it); the erasure event
      // names only the public id other systems already know them by, and like every event is recorded
      // only when an endpoint listens for it (otherwise the id would outlive them for nothing).
      const subject = subscriberSubject(row.uid);
      await deleteEventsAbout(trx, [subject]);
      await recordEvents(trx, [{ type: 'subscriber.erased', subject, data: { id: row.uid, erasedAt: nowIso() } }]);
    }
    await trx.deleteFrom('consent_log').where('subscriber_id', '=', subscriberId).execute();
    // Their click events go; the counts of the links they clicked stay (they name nobody).
    await deleteClickEventsOf(trx, subscriberId);
    await trx.deleteFrom('subscriber_topics').where('subscriber_id', '=', subscriberId).execute();
    await trx.deleteFrom('deliveries').where('subscriber_id', '=', subscriberId).execute();
    await trx.deleteFrom('subscribers').where('id', '=', subscriberId).execute();
    await trx
      .insertInto('erased_addresses')
      .values({ email_hash: emailHash, erased_at: nowIso() })
      .onConflict((oc) => oc.column('email_hash').doUpdateSet({ erased_at: nowIso() }))
      .execute();
  });
}

export async function isAddressErased(db: Db, emailHash: string): Promise<boolean> {
  const row = await db
    .selectFrom('erased_addresses')
    .select('email_hash')
    .where('email_hash', '=', emailHash)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Every active subscriber with their chosen topic slugs (sorted; empty = whole issue), in id order.
 * Two queries regardless of list size, so planning a send of 100k recipients stays cheap.
 */
export async function listActiveSubscribers(db: Db): Promise<ActiveSubscriber[]> {
  const rows = await db
    .selectFrom('subscribers')
    .select(['id', 'uid', 'email', 'name'])
    .where('status', '=', 'active')
    .orderBy('id')
    .execute();
  const topics = await db
    .selectFrom('subscriber_topics')
    .innerJoin('subscribers', 'subscribers.id', 'subscriber_topics.subscriber_id')
    .innerJoin('topics', 'topics.id', 'subscriber_topics.topic_id')
    .select(['subscriber_topics.subscriber_id as subscriberId', 'topics.slug as slug'])
    .where('subscribers.status', '=', 'active')
    .execute();
  const bySubscriber = new Map<number, string[]>();
  for (const t of topics) {
    const list = bySubscriber.get(t.subscriberId) ?? [];
    list.push(t.slug);
    bySubscriber.set(t.subscriberId, list);
  }
  return rows.map((r) => ({ ...r, topicSlugs: (bySubscriber.get(r.id) ?? []).sort() }));
}

/** Every subscriber of any status, for `subscribers export`, in sign-up order. */
export async function listAllSubscribers(db: Db): Promise<Subscriber[]> {
  return withTopicSlugs(db, await db.selectFrom('subscribers').selectAll().orderBy('id').execute());
}

export async function countSubscribersByStatus(db: Db): Promise<Record<SubscriberStatus, number>> {
  const rows = await db
    .selectFrom('subscribers')
    .select(['status', db.fn.countAll<number>().as('n')])
    .groupBy('status')
    .execute();
  const counts: Record<SubscriberStatus, number> = {
    pending: 0,
    active: 0,
    unsubscribed: 0,
    bounced: 0,
    complained: 0,
  };
  for (const r of rows) counts[r.status] = Number(r.n);
  return counts;
}

export async function listConsentLog(db: Db, subscriberId: number): Promise<ConsentEntry[]> {
  const rows = await db
    .selectFrom('consent_log')
    .selectAll()
    .where('subscriber_id', '=', subscriberId)
    .orderBy('id')
    .execute();
  return rows.map((r) => ({
    action: r.action,
    source: r.source,
    detail: r.detail,
    ip: r.ip,
    userAgent: r.user_agent,
    at: r.created_at,
  }));
}

export interface DeliveryRecord {
  issue: string;
  status: string;
  sentAt: string | null;
  createdAt: string;
}

export async function listDeliveriesOf(db: Db, subscriberId: number): Promise<DeliveryRecord[]> {
  const rows = await db
    .selectFrom('deliveries')
    .innerJoin('issues', 'issues.id', 'deliveries.issue_id')
    .select([
      'issues.slug as issue',
      'deliveries.status as status',
      'deliveries.sent_at as sentAt',
      'deliveries.created_at as createdAt',
    ])
    .where('deliveries.subscriber_id', '=', subscriberId)
    .orderBy('deliveries.id')
    .execute();
  return rows;
}

/** Subscribers who chose any of these topics, with the topics they chose among them. */
export async function subscribersChoosing(
  db: Db,
  topicIds: readonly number[],
): Promise<{ id: number; email: string; status: SubscriberStatus; topicIds: number[] }[]> {
  if (topicIds.length === 0) return [];
  const rows = await db
    .selectFrom('subscriber_topics')
    .innerJoin('subscribers', 'subscribers.id', 'subscriber_topics.subscriber_id')
    .select(['subscribers.id', 'subscribers.email', 'subscribers.status', 'subscriber_topics.topic_id'])
    .where('subscriber_topics.topic_id', 'in', [...topicIds])
    .orderBy('subscribers.id')
    .execute();
  const byId = new Map<number, { id: number; email: string; status: SubscriberStatus; topicIds: number[] }>();
  for (const r of rows) {
    const entry = byId.get(r.id) ?? { id: r.id, email: r.email, status: r.status, topicIds: [] };
    entry.topicIds.push(r.topic_id);
    byId.set(r.id, entry);
  }
  return [...byId.values()];
}

/** Every topic each of these subscribers chose (ids). */
export async function chosenTopicIds(db: Db, subscriberIds: readonly number[]): Promise<Map<number, number[]>> {
  const result = new Map<number, number[]>();
  for (let i = 0; i < subscriberIds.length; i += 500) {
    const rows = await db
      .selectFrom('subscriber_topics')
      .select(['subscriber_id', 'topic_id'])
      .where('subscriber_id', 'in', subscriberIds.slice(i, i + 500))
      .execute();
    for (const r of rows) result.set(r.subscriber_id, [...(result.get(r.subscriber_id) ?? []), r.topic_id]);
  }
  return result;
}

/**
 * A topic merged into another: every subscriber who chose `from` now has `into` instead (their
 * choice is kept, under the topic's new home), and the consent log says so. Returns how many moved.
 */
export async function moveTopicChoices(
  db: Db,
  from: { id: number; slug: string },
  into: { id: number; slug: string },
  context: ConsentContext,
): Promise<number> {
  return inTransaction(db, async (trx) => {
    const chose = await trx
      .selectFrom('subscriber_topics')
      .select('subscriber_id')
      .where('topic_id', '=', from.id)
      .execute();
    for (const { subscriber_id } of chose) {
      await trx
        .insertInto('subscriber_topics')
        .values({ subscriber_id, topic_id: into.id })
        .onConflict((oc) => oc.columns(['subscriber_id', 'topic_id']).doNothing())
        .execute();
      await logConsent(
        trx,
        subscriber_id,
        'topics-merged',
        context,
        JSON.stringify({ from: from.slug, into: into.slug }),
      );
    }
    await trx.deleteFrom('subscriber_topics').where('topic_id', '=', from.id).execute();
    // Their topics changed: systems that mirror subscribers hear it as from any other change.
    await recordSubscriberEvents(
      trx,
      'subscriber.updated',
      chose.map((c) => c.subscriber_id),
    );
    return chose.length;
  });
}

/**
 * Deletes subscribers outright with their topics, consent log and deliveries (demo removal of its
 * trial sign-ups). As with an erasure, their events go, and endpoints that listen hear
 * `subscriber.erased` (they may have been told of the sign-up).
 */
export async function deleteSubscribers(db: Db, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await inTransaction(db, async (trx) => {
    const uids = (
      await trx
        .selectFrom('subscribers')
        .select('uid')
        .where('id', 'in', [...ids])
        .execute()
    ).map((r) => r.uid);
    await deleteEventsAbout(trx, uids.map(subscriberSubject));
    if (uids.length > 0) {
      await trx.deleteFrom('unsubscribe_requests').where('subscriber_uid', 'in', uids).execute();
      // Recorded only when an endpoint listens (recordEvents keeps only heard types).
      const erasedAt = nowIso();
      await recordEvents(
        trx,
        uids.map((uid) => ({
          type: 'subscriber.erased',
          subject: subscriberSubject(uid),
          data: { id: uid, erasedAt },
        })),
      );
    }
    await trx
      .deleteFrom('consent_log')
      .where('subscriber_id', 'in', [...ids])
      .execute();
    await trx
      .deleteFrom('subscriber_topics')
      .where('subscriber_id', 'in', [...ids])
      .execute();
    await trx
      .deleteFrom('deliveries')
      .where('subscriber_id', 'in', [...ids])
      .execute();
    await trx
      .deleteFrom('subscribers')
      .where('id', 'in', [...ids])
      .execute();
  });
}
