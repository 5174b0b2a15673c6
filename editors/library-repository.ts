import { sql } from 'kysely';
import type { Db } from '../src/db/database.js';
import { nowIso } from '../src/db/database.js';
import { touchIssuesHolding } from '../src/content/content-repository.js';
import { topicSlug } from '../src/content/slug.js';
import type { Source } from '../src/content/types.js';

// All SQL the editors' app uses to write the article library (articles, their topics, media)
// lives in this file. Reading whole articles reuses content-repository's loadArticles.

export interface ArticleListFilter {
  q?: string;
  topicId?: number;
  tag?: string;
  used?: 'yes' | 'no';
}

export interface ArticleListItem {
  id: number;
  slug: string;
  title: string;
  sectionName: string;
  topicIds: number[];
  tags: string[];
  takeaway: string | null;
  updatedAt: string;
  issues: { slug: string; title: string; status: string }[];
}

export interface ArticleInput {
  title: string;
  sectionTopicId: number;
  extraTopicIds: number[];
  tags: string[];
  takeaway: string | null;
  sources: Source[];
  bodyMarkdown: string;
}

/** A LIKE pattern that finds `text` anywhere, its own `%`, `_` and backslash taken literally (see containsText). */
function likePattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** `lower(column) LIKE pattern ESCAPE '\'`: SQLite has no escape character unless told so (PostgreSQL's default is backslash). */
function containsText(column: 'articles.title' | 'articles.body_markdown', pattern: string) {
  return sql<boolean>`lower(${sql.ref(column)}) like ${pattern} escape '\\'`;
}

/** Ids of the articles whose tags include `tag` (any case). Tags are JSON lists, matched here for any alphabet. */
async function idsTagged(db: Db, tag: string): Promise<number[]> {
  const wanted = tag.toLowerCase();
  const rows = await db.selectFrom('articles').select(['id', 'tags_json']).execute();
  return rows
    .filter((r) => (JSON.parse(r.tags_json) as string[]).some((t) => t.toLowerCase() === wanted))
    .map((r) => r.id);
}

export async function listLibrary(db: Db, filter: ArticleListFilter): Promise<ArticleListItem[]> {
  let query = db
    .selectFrom('articles')
    .innerJoin('topics', 'topics.id', 'articles.section_topic_id')
    .select([
      'articles.id',
      'articles.slug',
      'articles.title',
      'articles.tags_json',
      'articles.takeaway',
      'articles.updated_at',
      'articles.section_topic_id',
      'topics.name as section_name',
    ]);
  if (filter.q) {
    const pattern = likePattern(filter.q);
    query = query.where((eb) =>
      eb.or([containsText('articles.title', pattern), containsText('articles.body_markdown', pattern)]),
    );
  }
  if (filter.topicId !== undefined) {
    const topicId = filter.topicId;
    query = query.where((eb) =>
      eb.or([
        eb('articles.section_topic_id', '=', topicId),
        eb.exists(
          eb
            .selectFrom('article_topics')
            .select('article_topics.article_id')
            .whereRef('article_topics.article_id', '=', 'articles.id')
            .where('article_topics.topic_id', '=', topicId),
        ),
      ]),
    );
  }
  // The tag filter comes before the limit, so a match among older articles is still found.
  if (filter.tag) {
    const tagged = await idsTagged(db, filter.tag);
    if (tagged.length === 0) return [];
    query = query.where('articles.id', 'in', tagged);
  }
  if (filter.used) {
    const usedIds = db.selectFrom('issue_articles').select('issue_articles.article_id');
    query =
      filter.used === 'yes' ? query.where('articles.id', 'in', usedIds) : query.where('articles.id', 'not in', usedIds);
  }
  const rows = await query.orderBy('articles.updated_at', 'desc').orderBy('articles.id', 'desc').limit(500).execute();
  const ids = rows.map((r) => r.id);
  const extra = ids.length
    ? await db.selectFrom('article_topics').select(['article_id', 'topic_id']).where('article_id', 'in', ids).execute()
    : [];
  const usage = ids.length
    ? await db
        .selectFrom('issue_articles')
        .innerJoin('issues', 'issues.id', 'issue_articles.issue_id')
        .select(['issue_articles.article_id', 'issues.slug', 'issues.title', 'issues.status'])
        .where('issue_articles.article_id', 'in', ids)
        .execute()
    : [];
  return rows.map((r) => ({
    id: r.id,
    slug: r.slug,
    title: r.title,
    sectionName: r.section_name,
    topicIds: [r.section_topic_id, ...extra.filter((e) => e.article_id === r.id).map((e) => e.topic_id)],
    tags: JSON.parse(r.tags_json) as string[],
    takeaway: r.takeaway,
    updatedAt: r.updated_at,
    issues: usage.filter((u) => u.article_id === r.id).map((u) => ({ slug: u.slug, title: u.title, status: u.status })),
  }));
}

/** The issues that hold an article (a lookup by its id, whatever the size of the library). */
export async function issuesHoldingArticle(
  db: Db,
  articleId: number,
): Promise<{ slug: string; title: string; status: string }[]> {
  return db
    .selectFrom('issue_articles')
    .innerJoin('issues', 'issues.id', 'issue_articles.issue_id')
    .select(['issues.slug', 'issues.title', 'issues.status'])
    .where('issue_articles.article_id', '=', articleId)
    .orderBy('issues.id')
    .execute();
}

export async function listAllTags(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('articles').select('tags_json').execute();
  const tags = new Map<string, string>();
  for (const r of rows)
    for (const t of JSON.parse(r.tags_json) as string[]) tags.set(t.toLowerCase(), tags.get(t.toLowerCase()) ?? t);
  return [...tags.values()].sort((a, b) => a.localeCompare(b));
}

async function uniqueArticleSlug(db: Db, title: string): Promise<string> {
  const base = topicSlug(title).slice(0, 60).replace(/-+$/, '') || 'article';
  for (let n = 1; ; n++) {
    const slug = n === 1 ? base : `${base}-${n}`;
    const taken = await db.selectFrom('articles').select('id').where('slug', '=', slug).executeTakeFirst();
    if (!taken) return slug;
  }
}

function articleValues(input: ArticleInput) {
  return {
    title: input.title,
    section_topic_id: input.sectionTopicId,
    body_markdown: input.bodyMarkdown,
    tags_json: JSON.stringify(input.tags),
    takeaway: input.takeaway,
    sources_json: JSON.stringify(input.sources),
  };
}

export async function insertArticle(db: Db, input: ArticleInput): Promise<{ id: number; slug: string }> {
  const slug = await uniqueArticleSlug(db, input.title);
  const now = nowIso();
  return db.transaction().execute(async (trx) => {
    const { id } = await trx
      .insertInto('articles')
      .values({ ...articleValues(input), slug, created_at: now, updated_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    const extra = input.extraTopicIds.filter((t) => t !== input.sectionTopicId);
    if (extra.length)
      await trx
        .insertInto('article_topics')
        .values(extra.map((topic_id) => ({ article_id: id, topic_id })))
        .execute();
    return { id, slug };
  });
}

/**
 * Updates an article and bumps the drafts holding it, so cached renders of those are rebuilt; sent
 * issues keep the text they were sent with. Returns the drafts' slugs.
 */
export async function updateArticle(db: Db, id: number, input: ArticleInput): Promise<string[]> {
  const now = nowIso();
  return db.transaction().execute(async (trx) => {
    await trx
      .updateTable('articles')
      .set({ ...articleValues(input), updated_at: now })
      .where('id', '=', id)
      .execute();
    await trx.deleteFrom('article_topics').where('article_id', '=', id).execute();
    const extra = [...new Set(input.extraTopicIds)].filter((t) => t !== input.sectionTopicId);
    if (extra.length)
      await trx
        .insertInto('article_topics')
        .values(extra.map((topic_id) => ({ article_id: id, topic_id })))
        .execute();
    return touchIssuesHolding(trx, [id], now);
  });
}

export async function updateArticleTakeaway(db: Db, id: number, takeaway: string | null): Promise<string[]> {
  const now = nowIso();
  return db.transaction().execute(async (trx) => {
    await trx.updateTable('articles').set({ takeaway, updated_at: now }).where('id', '=', id).execute();
    return touchIssuesHolding(trx, [id], now);
  });
}

export async function articleIsUsed(db: Db, id: number): Promise<boolean> {
  return (
    (await db
      .selectFrom('issue_articles')
      .select('article_id')
      .where('article_id', '=', id)
      .limit(1)
      .executeTakeFirst()) !== undefined
  );
}

export async function deleteArticle(db: Db, id: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('article_topics').where('article_id', '=', id).execute();
    await trx.deleteFrom('articles').where('id', '=', id).execute();
  });
}

export async function insertMedia(
  db: Db,
  media: { filename: string; originalName: string; mime: string; size: number; alt: string },
): Promise<void> {
  await db
    .insertInto('media')
    .values({
      filename: media.filename,
      original_name: media.originalName,
      mime: media.mime,
      size: media.size,
      alt: media.alt,
      created_at: nowIso(),
    })
    .execute();
}

/** A section typed by name in the article form: reuses the topic with the same slug or appends a new one. */
export async function findOrCreateTopic(db: Db, name: string): Promise<number> {
  const slug = topicSlug(name);
  return db.transaction().execute(async (trx) => {
    const existing = await trx.selectFrom('topics').select('id').where('slug', '=', slug).executeTakeFirst();
    if (existing) return existing.id;
    const max = await trx
      .selectFrom('topics')
      .select((eb) => eb.fn.max('position').as('p'))
      .executeTakeFirst();
    const { id } = await trx
      .insertInto('topics')
      .values({ slug, name: name.trim(), description: '', position: Number(max?.p ?? 0) + 1 })
      .returning('id')
      .executeTakeFirstOrThrow();
    return id;
  });
}

/** The row id and last change of the article with this slug (the API names articles by slug). */
export async function findArticleBySlug(db: Db, slug: string): Promise<{ id: number; updatedAt: string } | undefined> {
  const row = await db.selectFrom('articles').select(['id', 'updated_at']).where('slug', '=', slug).executeTakeFirst();
  return row && { id: row.id, updatedAt: row.updated_at };
}
