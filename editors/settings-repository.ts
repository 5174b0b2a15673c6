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

export async function countTopicUse(db: Db): Promise<Map<number, { subscribers: number; articles: number }>> {
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
  const use = new Map<number, { subscribers: number; articles: number }>();
  const get = (id: number) => {
    let u = use.get(id);
    if (!u) {
      u = { subscribers: 0, articles: 0 };
      use.set(id, u);
    }
    return u;
  };
  for (const r of subs) get(r.topic_id).subscribers += Number(r.n);
  for (const r of [...sections, ...extra]) get(r.topic_id).articles += Number(r.n);
  return use;
}
