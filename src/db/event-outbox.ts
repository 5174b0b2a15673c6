import type { Selectable } from 'kysely';
import type { Db } from './database.js';
import { nowIso } from './database.js';
import type { OutboxEventsTable } from './schema.generated.js';

// The event outbox (migration 061): what happened, written in the transaction of the change
// itself by the domain that made it, read later by whoever relays events (the outgoing webhooks).
// Portable kysely only. A row's subject says whom it is about (`subscriber:<uid>` or `issue:<slug>`;
// erasure deletes by it); its data is JSON, the subject as it was right after the change.

export const OUTBOX_EVENT_TYPES = [
  'subscriber.created',
  'subscriber.confirmed',
  'subscriber.updated',
  'subscriber.unsubscribed',
  'subscriber.bounced',
  'subscriber.erased',
  'issue.sent',
] as const;

export type OutboxEventType = (typeof OUTBOX_EVENT_TYPES)[number];

export interface NewOutboxEvent {
  type: OutboxEventType;
  subject: string;
  data: unknown;
}

export interface OutboxEvent {
  id: number;
  type: OutboxEventType;
  subject: string;
  data: unknown;
  createdAt: string;
}

export const subscriberSubject = (uid: string): string => `subscriber:${uid}`;
export const issueSubject = (slug: string): string => `issue:${slug}`;

/** Rows per multi-row insert: well under both databases' bound-parameter limits. */
const ROWS_PER_STATEMENT = 500;

/**
 * Records the events some endpoint listens for; call it with the transaction that makes the change.
 * Events nobody listens for are not written: an endpoint hears only of events recorded after it was
 * added, so they would reach no one, and they hold personal data. Callers that gather an event's data
 * with queries of their own ask `heardEventTypes` first.
 */
export async function recordEvents(
  db: Db,
  events: readonly NewOutboxEvent[],
  heard?: ReadonlySet<OutboxEventType>,
): Promise<void> {
  if (events.length === 0) return;
  const listened = heard ?? (await heardEventTypes(db));
  const kept = events.filter((e) => listened.has(e.type));
  const at = nowIso();
  for (let i = 0; i < kept.length; i += ROWS_PER_STATEMENT) {
    await db
      .insertInto('outbox_events')
      .values(
        kept.slice(i, i + ROWS_PER_STATEMENT).map((e) => ({
          type: e.type,
          subject: e.subject,
          data: JSON.stringify(e.data),
          created_at: at,
        })),
      )
      .execute();
  }
}

function toEvent(row: Selectable<OutboxEventsTable>): OutboxEvent {
  return {
    id: row.id,
    type: row.type,
    subject: row.subject,
    data: JSON.parse(row.data) as unknown,
    createdAt: row.created_at,
  };
}

/** Events after `afterId`, oldest first. */
export async function eventsAfter(db: Db, afterId: number, limit: number): Promise<OutboxEvent[]> {
  const rows = await db
    .selectFrom('outbox_events')
    .selectAll()
    .where('id', '>', afterId)
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map(toEvent);
}

export async function findEvent(db: Db, id: number): Promise<OutboxEvent | undefined> {
  const row = await db.selectFrom('outbox_events').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toEvent(row);
}

/** The newest event's id (0 when there is none). */
export async function latestEventId(db: Db): Promise<number> {
  const row = await db
    .selectFrom('outbox_events')
    .select((eb) => eb.fn.max('id').as('id'))
    .executeTakeFirst();
  return Number(row?.id ?? 0);
}

/**
 * The event types some registered endpoint listens for: one short read, made inside the change's
 * transaction (on SQLite it holds the write lock, so an endpoint added before the change is seen).
 */
export async function heardEventTypes(db: Db): Promise<Set<OutboxEventType>> {
  const rows = await db.selectFrom('webhook_endpoints').select('events').execute();
  const names = new Set(rows.flatMap((row) => row.events.split(' ')));
  return new Set(OUTBOX_EVENT_TYPES.filter((type) => names.has(type)));
}

/** Erasure: every event about these subjects goes (with whatever was queued to relay it). */
export async function deleteEventsAbout(db: Db, subjects: readonly string[]): Promise<void> {
  if (subjects.length === 0) return;
  await db.deleteFrom('outbox_events').where('subject', 'in', subjects).execute();
}

/** Events older than `before` and at most `upToId` (those the relay has already handed on). */
export async function purgeEventsBefore(db: Db, before: string, upToId: number): Promise<number> {
  const result = await db
    .deleteFrom('outbox_events')
    .where('created_at', '<', before)
    .where('id', '<=', upToId)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
