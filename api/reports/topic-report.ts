import { sql } from 'kysely';
import type { Db } from '../../src/db/database.js';
import { listTopics } from '../../src/content/content-repository.js';
import { WITHDRAWN_STATUSES } from '../../subscribers/subscriber-repository.js';

// Subscribers per topic over time: month by month, how many joined (confirmed), how many left
// (unsubscribed, bounced or complained) and how many were subscribed at the month's end. Counts
// only: no person is named, and nothing beyond what running the list already stores is read
// (confirmation and withdrawal times, chosen topics). A subscriber is counted under the topics they
// hold now (a change of topics is not replayed); erased people are in no count.

/** `every-topic`: subscribers who chose no topic and so receive every topic. */
export const EVERY_TOPIC = '*';

export interface TopicSeries {
  slug: string;
  name: string;
  joined: number[];
  left: number[];
  /** Subscribed at the end of each month (the current month: now). */
  subscribed: number[];
}

export interface TopicReport {
  /** `YYYY-MM`, oldest first. */
  months: string[];
  topics: TopicSeries[];
}

/** The `months` months ending with the one holding `now`, as `YYYY-MM`. */
export function monthsEnding(now: Date, months: number): string[] {
  const out: string[] = [];
  for (let i = months - 1; i >= 0; i--) {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - i, 1));
    out.push(d.toISOString().slice(0, 7));
  }
  return out;
}

type Grouping = 'joined' | 'left' | 'before';

/** Counts per topic id (null = chose no topic) and month for one kind of change. */
async function countsBy(
  db: Db,
  kind: Grouping,
  from: string,
): Promise<{ topicId: number | null; month: string; n: number }[]> {
  const column = kind === 'left' ? 'subscribers.unsubscribed_at' : 'subscribers.confirmed_at';
  // cast: PostgreSQL keeps times as timestamptz, whose text (UTC sessions, see postgres-pool.ts) starts YYYY-MM too.
  const month = sql<string>`substr(cast(${sql.ref(column)} as text), 1, 7)`;
  const withdrawn = [...WITHDRAWN_STATUSES];
  const base = (eb: Db) => {
    let q = eb.selectFrom('subscribers').where(column, 'is not', null);
    if (kind === 'left') {
      // Only people who had joined can leave: a sign-up never confirmed is in no count.
      q = q
        .where('subscribers.status', 'in', withdrawn)
        .where(column, '>=', from)
        .where('subscribers.confirmed_at', 'is not', null);
    } else if (kind === 'joined') q = q.where(column, '>=', from);
    else {
      // Subscribed when the window opens: confirmed before it, not withdrawn before it.
      q = q
        .where(column, '<', from)
        .where((w) =>
          w.or([w('subscribers.status', 'not in', withdrawn), w('subscribers.unsubscribed_at', '>=', from)]),
        );
    }
    return q;
  };
  const chosen = await base(db)
    .innerJoin('subscriber_topics', 'subscriber_topics.subscriber_id', 'subscribers.id')
    .select([
      'subscriber_topics.topic_id as topicId',
      kind === 'before' ? sql<string>`''`.as('month') : month.as('month'),
      (eb) => eb.fn.countAll<number | bigint>().as('n'),
    ])
    .groupBy(kind === 'before' ? ['subscriber_topics.topic_id'] : ['subscriber_topics.topic_id', month])
    .execute();
  const none = await base(db)
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('subscriber_topics')
            .select('subscriber_topics.topic_id')
            .whereRef('subscriber_topics.subscriber_id', '=', 'subscribers.id'),
        ),
      ),
    )
    .select([
      kind === 'before' ? sql<string>`''`.as('month') : month.as('month'),
      (eb) => eb.fn.countAll<number | bigint>().as('n'),
    ])
    .$if(kind !== 'before', (q) => q.groupBy(month))
    .execute();
  return [
    ...chosen.map((r) => ({ topicId: r.topicId, month: r.month, n: Number(r.n) })),
    ...none.map((r) => ({ topicId: null, month: r.month, n: Number(r.n) })),
  ];
}

export async function topicReport(db: Db, options: { now: Date; months: number }): Promise<TopicReport> {
  const months = monthsEnding(options.now, options.months);
  const from = `${months[0] ?? ''}-01`;
  const [joined, left, before, topics] = await Promise.all([
    countsBy(db, 'joined', from),
    countsBy(db, 'left', from),
    countsBy(db, 'before', from),
    listTopics(db),
  ]);
  const rows: { id: number | null; slug: string; name: string }[] = [
    ...topics.map((t) => ({ id: t.id, slug: t.slug, name: t.name })),
    { id: null, slug: EVERY_TOPIC, name: 'Every topic (chose none)' },
  ];
  const series = (list: typeof joined, id: number | null) =>
    months.map((m) => list.find((r) => r.topicId === id && r.month === m)?.n ?? 0);
  return {
    months,
    topics: rows.map((row) => {
      const j = series(joined, row.id);
      const l = series(left, row.id);
      let running = before.find((r) => r.topicId === row.id)?.n ?? 0;
      const subscribed = months.map((_m, i) => (running += (j[i] ?? 0) - (l[i] ?? 0)));
      return { slug: row.slug, name: row.name, joined: j, left: l, subscribed };
    }),
  };
}
