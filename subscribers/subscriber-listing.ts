import { sql, type SelectQueryBuilder } from 'kysely';
import type { Db } from '../src/db/database.js';
import type { Database, SubscriberStatus } from '../src/db/schema.js';
import { withTopicSlugs, type Subscriber } from './subscriber-repository.js';

// The editors' subscriber list, paged in SQL: a page is the next `size` rows after a cursor (the
// last id shown), newest first, so every page costs the same however long the list is (keyset
// pagination; an OFFSET walks every row before the page). The counts beside it are cheap too:
// per status from the status index, per topic cached until the list changes (SubscriberCounts).

/** What the editor filters on; every field is optional. */
export interface SubscriberFilter {
  /** Part of the address or of the name, any case. */
  q?: string;
  status?: SubscriberStatus;
  /** A topic slug, or `*` for subscribers who chose no topic (they receive everything). */
  topic?: string;
}

/** Where a page starts: after the oldest row of the newer page, or before the newest of the older one. */
export type PageCursor = { olderThan: number } | { newerThan: number } | null;

export interface SubscriberPage {
  subscribers: Subscriber[];
  /** Cursor of the page with newer rows, or null on the first page. */
  newer: PageCursor;
  /** Cursor of the page with older rows, or null on the last page. */
  older: PageCursor;
}

type SubscriberQuery<O> = SelectQueryBuilder<Database, 'subscribers', O>;

/** `%text%` for LIKE, with LIKE's own wildcards in the text taken literally. */
function containsPattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function filtered<O>(query: SubscriberQuery<O>, filter: SubscriberFilter): SubscriberQuery<O> {
  let q = query;
  if (filter.status) q = q.where('subscribers.status', '=', filter.status);
  if (filter.q) {
    const pattern = containsPattern(filter.q);
    q = q.where((eb) =>
      eb.or([
        sql<boolean>`${eb.ref('subscribers.email')} like ${pattern} escape '\\'`,
        sql<boolean>`lower(${eb.ref('subscribers.name')}) like ${pattern} escape '\\'`,
      ]),
    );
  }
  if (filter.topic === '*') {
    q = q.where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('subscriber_topics')
            .select('subscriber_topics.topic_id')
            .whereRef('subscriber_topics.subscriber_id', '=', 'subscribers.id'),
        ),
      ),
    );
  } else if (filter.topic) {
    const slug = filter.topic;
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('subscriber_topics')
          .innerJoin('topics', 'topics.id', 'subscriber_topics.topic_id')
          .select('subscriber_topics.topic_id')
          .whereRef('subscriber_topics.subscriber_id', '=', 'subscribers.id')
          .where('topics.slug', '=', slug),
      ),
    );
  }
  return q;
}

async function anyBeyond(db: Db, filter: SubscriberFilter, comparison: '<' | '>', id: number): Promise<boolean> {
  const row = await filtered(db.selectFrom('subscribers').select('subscribers.id'), filter)
    .where('subscribers.id', comparison, id)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** One page of the filtered list, newest first, with the cursors of its neighbours. */
export async function listSubscriberPage(
  db: Db,
  filter: SubscriberFilter,
  cursor: PageCursor,
  size: number,
): Promise<SubscriberPage> {
  let query = filtered(db.selectFrom('subscribers').selectAll('subscribers'), filter);
  const forward = cursor === null || 'olderThan' in cursor;
  if (cursor && 'olderThan' in cursor) query = query.where('subscribers.id', '<', cursor.olderThan);
  if (cursor && 'newerThan' in cursor) query = query.where('subscribers.id', '>', cursor.newerThan);
  const rows = await query
    .orderBy('subscribers.id', forward ? 'desc' : 'asc')
    .limit(size + 1)
    .execute();
  const more = rows.length > size;
  const shown = rows.slice(0, size);
  if (!forward) shown.reverse();
  const first = shown[0];
  const last = shown.at(-1);
  if (!first || !last) return { subscribers: [], newer: null, older: null };
  const hasNewer = forward ? cursor !== null && (await anyBeyond(db, filter, '>', first.id)) : more;
  const hasOlder = forward ? more : await anyBeyond(db, filter, '<', last.id);
  return {
    subscribers: await withTopicSlugs(db, shown),
    newer: hasNewer ? { newerThan: first.id } : null,
    older: hasOlder ? { olderThan: last.id } : null,
  };
}

/** How many subscribers match, counted up to `cap` (a count past it says "more than"). */
export async function countMatching(
  db: Db,
  filter: SubscriberFilter,
  cap: number,
): Promise<{ count: number; capped: boolean }> {
  const limited = filtered(db.selectFrom('subscribers').select('subscribers.id'), filter).limit(cap + 1);
  const row = await db
    .selectFrom(limited.as('matching'))
    .select((eb) => eb.fn.countAll<number | bigint>().as('n'))
    .executeTakeFirstOrThrow();
  const count = Number(row.n);
  return count > cap ? { count: cap, capped: true } : { count, capped: false };
}

export interface ActiveTopicCounts {
  /** Active subscribers who chose each topic, by topic id. */
  byTopic: Map<number, number>;
  /** Active subscribers who chose no topic (they receive everything). */
  noTopic: number;
}

/** Counts over every active subscriber's topics: a scan of the list, so SubscriberCounts caches it. */
export async function countActiveByTopic(db: Db, activeCount: number): Promise<ActiveTopicCounts> {
  const active = db.selectFrom('subscribers').select('subscribers.id').where('subscribers.status', '=', 'active');
  const rows = await db
    .selectFrom('subscriber_topics')
    .select(['subscriber_topics.topic_id as topicId', (eb) => eb.fn.countAll<number | bigint>().as('n')])
    .where('subscriber_topics.subscriber_id', 'in', active)
    .groupBy('subscriber_topics.topic_id')
    .execute();
  const withTopic = await db
    .selectFrom('subscribers')
    .select((eb) => eb.fn.countAll<number | bigint>().as('n'))
    .where('subscribers.status', '=', 'active')
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('subscriber_topics')
          .select('subscriber_topics.topic_id')
          .whereRef('subscriber_topics.subscriber_id', '=', 'subscribers.id'),
      ),
    )
    .executeTakeFirstOrThrow();
  return {
    byTopic: new Map(rows.map((r) => [r.topicId, Number(r.n)])),
    noTopic: activeCount - Number(withTopic.n),
  };
}

/**
 * A value that changes whenever a subscriber or a topic is added, removed or changed: the counts
 * per status, the latest `updated_at` (every change of a subscriber or of their topics sets it;
 * an index makes it one lookup) and the topics' count and highest id.
 */
export async function subscriberListVersion(db: Db, byStatus: Record<SubscriberStatus, number>): Promise<string> {
  const latest = await db
    .selectFrom('subscribers')
    .select((eb) => eb.fn.max('subscribers.updated_at').as('at'))
    .executeTakeFirst();
  const topics = await db
    .selectFrom('topics')
    .select((eb) => [eb.fn.countAll<number | bigint>().as('n'), eb.fn.max('topics.id').as('maxId')])
    .executeTakeFirstOrThrow();
  return JSON.stringify([byStatus, latest?.at ?? null, Number(topics.n), topics.maxId]);
}
