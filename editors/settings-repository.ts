import type { Db } from '../src/db/database.js';
import type { GlossaryEntry, Publication } from '../src/content/types.js';

// All SQL of the admin settings: publication, glossary and topics.

export async function savePublication(db: Db, p: Publication): Promise<void> {
  const values = {
    name: p.name,
    publisher: p.publisher,
    cadence: p.cadence,
    contact: p.contact,
    about_markdown: p.aboutMarkdown,
  };
  await db
    .insertInto('publication')
    .values({ id: 1, ...values })
    .onConflict((oc) => oc.column('id').doUpdateSet(values))
    .execute();
}

export async function replaceGlossary(db: Db, entries: GlossaryEntry[]): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('glossary').execute();
    if (entries.length) {
      await trx
        .insertInto('glossary')
        .values(entries.map((e, position) => ({ ...e, position })))
        .execute();
    }
  });
}

export async function topicSlugOwner(db: Db, slug: string): Promise<number | undefined> {
  return (await db.selectFrom('topics').select('id').where('slug', '=', slug).executeTakeFirst())?.id;
}

/**
 * Renames and describes a topic in place. Subscribers' choices and articles reference the topic's
 * id, so they all follow the new name; only the slug in URLs changes.
 */
export async function updateTopic(
  db: Db,
  id: number,
  values: { name: string; slug: string; description: string },
): Promise<void> {
  await db.updateTable('topics').set(values).where('id', '=', id).execute();
}

export async function saveTopicOrder(db: Db, orderedIds: number[]): Promise<void> {
  await db.transaction().execute(async (trx) => {
    for (const [position, id] of orderedIds.entries()) {
      await trx
        .updateTable('topics')
        .set({ position: position + 1 })
        .where('id', '=', id)
        .execute();
    }
  });
}

/** Issues whose deliveries were planned with the current topic slugs and are not finished. */
export async function issuesInFlight(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('issues').select('slug').where('status', 'in', ['sending', 'paused']).execute();
  return rows.map((r) => r.slug);
}

export interface TopicUse {
  subscribers: number;
  articles: number;
  /** Issues listing the topic as a section. */
  issues: number;
}

export async function countTopicUse(db: Db): Promise<Map<number, TopicUse>> {
  const subs = await db
    .selectFrom('subscriber_topics')
    .select(['topic_id', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('topic_id')
    .execute();
  const sections = await db
    .selectFrom('articles')
    .select(['section_topic_id as topic_id', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('section_topic_id')
    .execute();
  const extra = await db
    .selectFrom('article_topics')
    .select(['topic_id', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('topic_id')
    .execute();
  const issues = await db
    .selectFrom('issue_sections')
    .select(['topic_id', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('topic_id')
    .execute();
  const use = new Map<number, TopicUse>();
  const get = (id: number) => {
    let u = use.get(id);
    if (!u) {
      u = { subscribers: 0, articles: 0, issues: 0 };
      use.set(id, u);
    }
    return u;
  };
  for (const r of subs) get(r.topic_id).subscribers += Number(r.n);
  for (const r of [...sections, ...extra]) get(r.topic_id).articles += Number(r.n);
  for (const r of issues) get(r.topic_id).issues += Number(r.n);
  return use;
}

/**
 * The library side of merging topic `fromId` into `intoId`: articles printed under `from` move to
 * `into`, articles carrying `from` carry `into`, and issues listing `from` as a section list
 * `into` (once). Returns how many articles changed. Subscribers' choices move in the subscribers
 * repository (moveTopicChoices); the caller deletes `from` afterwards, in the same transaction.
 */
export async function mergeTopicContent(db: Db, fromId: number, intoId: number): Promise<number> {
  const sections = await db
    .updateTable('articles')
    .set({ section_topic_id: intoId })
    .where('section_topic_id', '=', fromId)
    .executeTakeFirst();
  const carrying = await db.selectFrom('article_topics').select('article_id').where('topic_id', '=', fromId).execute();
  for (const { article_id } of carrying) {
    await db
      .insertInto('article_topics')
      .values({ article_id, topic_id: intoId })
      .onConflict((oc) => oc.columns(['article_id', 'topic_id']).doNothing())
      .execute();
  }
  await db.deleteFrom('article_topics').where('topic_id', '=', fromId).execute();
  // An article's section is not also one of its extra topics.
  await db
    .deleteFrom('article_topics')
    .where('topic_id', '=', intoId)
    .where('article_id', 'in', (eb) => eb.selectFrom('articles').select('id').where('section_topic_id', '=', intoId))
    .execute();
  await db
    .deleteFrom('issue_sections')
    .where('topic_id', '=', fromId)
    .where('issue_id', 'in', (eb) => eb.selectFrom('issue_sections').select('issue_id').where('topic_id', '=', intoId))
    .execute();
  await db.updateTable('issue_sections').set({ topic_id: intoId }).where('topic_id', '=', fromId).execute();
  return Number(sections.numUpdatedRows) + carrying.length;
}

/** Deletes a topic that no article, issue or subscriber uses; one guarded statement. */
export async function deleteUnusedTopic(db: Db, id: number): Promise<'done' | 'in-use' | 'missing'> {
  const result = await db
    .deleteFrom('topics')
    .where('id', '=', id)
    .where((eb) =>
      eb.not(
        eb.or([
          eb.exists(eb.selectFrom('articles').select('id').where('section_topic_id', '=', id)),
          eb.exists(eb.selectFrom('article_topics').select('article_id').where('topic_id', '=', id)),
          eb.exists(eb.selectFrom('issue_sections').select('issue_id').where('topic_id', '=', id)),
          eb.exists(eb.selectFrom('subscriber_topics').select('subscriber_id').where('topic_id', '=', id)),
        ]),
      ),
    )
    .executeTakeFirst();
  if (Number(result.numDeletedRows) > 0) return 'done';
  return (await db.selectFrom('topics').select('id').where('id', '=', id).executeTakeFirst()) ? 'in-use' : 'missing';
}
