import type { Db } from '../db/database.js';
import type { IssueRow, IssueStatus, TopicRow } from '../db/schema.js';
import type { Article, ArticleImage, GlossaryEntry, IssueDocument, Publication, Source, Topic } from './types.js';

// All SQL for content (topics, articles, issues, publication, glossary) lives in this file.

export class UnknownIssueError extends Error {
  constructor(
    readonly slug: string,
    readonly known: string[],
  ) {
    super(
      known.length > 0
        ? `No issue "${slug}". Issues: ${known.join(', ')}`
        : `No issue "${slug}": the database holds no issue yet (run \`newsletter import <dir>\`)`,
    );
  }
}

const DEFAULT_PUBLICATION: Publication = {
  name: 'Newsletter',
  publisher: '',
  cadence: '',
  contact: '',
  aboutMarkdown: '',
};

function toTopic(row: TopicRow): Topic {
  return { id: row.id, slug: row.slug, name: row.name, description: row.description, position: row.position };
}

export async function listTopics(db: Db): Promise<Topic[]> {
  const rows = await db.selectFrom('topics').selectAll().orderBy('position').orderBy('id').execute();
  return rows.map(toTopic);
}

export async function getPublication(db: Db): Promise<Publication> {
  const row = await db.selectFrom('publication').selectAll().where('id', '=', 1).executeTakeFirst();
  if (!row) return DEFAULT_PUBLICATION;
  return {
    name: row.name,
    publisher: row.publisher,
    cadence: row.cadence,
    contact: row.contact,
    aboutMarkdown: row.about_markdown,
  };
}

export async function listGlossary(db: Db): Promise<GlossaryEntry[]> {
  return db
    .selectFrom('glossary')
    .select(['abbreviation', 'english', 'chinese'])
    .orderBy('position')
    .orderBy('id')
    .execute();
}

export async function listIssueSlugs(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('issues').select('slug').orderBy('created_at', 'desc').execute();
  return rows.map((r) => r.slug);
}

export async function getIssueRow(db: Db, slug: string): Promise<IssueRow | undefined> {
  return db.selectFrom('issues').selectAll().where('slug', '=', slug).executeTakeFirst();
}

export async function listIssues(db: Db, statuses?: IssueStatus[]): Promise<IssueRow[]> {
  let query = db.selectFrom('issues').selectAll();
  if (statuses) query = query.where('status', 'in', statuses);
  return query.orderBy('sent_at', 'desc').orderBy('created_at', 'desc').execute();
}

/** Loads articles by id with their topics, in the order of `ids`. */
export async function loadArticles(db: Db, ids: number[]): Promise<Article[]> {
  if (ids.length === 0) return [];
  const topics = new Map((await listTopics(db)).map((t) => [t.id, t]));
  const rows = await db.selectFrom('articles').selectAll().where('id', 'in', ids).execute();
  const extra = await db
    .selectFrom('article_topics')
    .select(['article_id', 'topic_id'])
    .where('article_id', 'in', ids)
    .execute();
  const byId = new Map(rows.map((r) => [r.id, r]));
  const articles: Article[] = [];
  for (const id of ids) {
    const row = byId.get(id);
    if (!row) continue;
    const section = topics.get(row.section_topic_id);
    if (!section) throw new Error(`Article ${row.slug} refers to missing topic ${row.section_topic_id}`);
    const extraTopics = extra
      .filter((e) => e.article_id === id && e.topic_id !== section.id)
      .map((e) => topics.get(e.topic_id))
      .filter((t): t is Topic => t !== undefined)
      .sort((a, b) => a.position - b.position);
    articles.push({
      id: row.id,
      slug: row.slug,
      title: row.title,
      section,
      topics: [section, ...extraTopics],
      tags: JSON.parse(row.tags_json) as string[],
      takeaway: row.takeaway,
      sources: JSON.parse(row.sources_json) as Source[],
      images: JSON.parse(row.images_json) as ArticleImage[],
      bodyMarkdown: row.body_markdown,
    });
  }
  return articles;
}

export async function loadIssueDocument(db: Db, slug: string): Promise<IssueDocument> {
  const issue = await getIssueRow(db, slug);
  if (!issue) throw new UnknownIssueError(slug, await listIssueSlugs(db));
  const sectionRows = await db
    .selectFrom('issue_sections')
    .innerJoin('topics', 'topics.id', 'issue_sections.topic_id')
    .selectAll('topics')
    .where('issue_sections.issue_id', '=', issue.id)
    .orderBy('issue_sections.position')
    .execute();
  const articleIds = await db
    .selectFrom('issue_articles')
    .select('article_id')
    .where('issue_id', '=', issue.id)
    .orderBy('position')
    .execute();
  return {
    id: issue.id,
    slug: issue.slug,
    title: issue.title,
    edition: issue.edition,
    period: issue.period,
    editorNoteMarkdown: issue.editor_note_markdown,
    status: issue.status,
    sendAt: issue.send_at,
    sentAt: issue.sent_at,
    updatedAt: issue.updated_at,
    sections: sectionRows.map(toTopic),
    articles: await loadArticles(
      db,
      articleIds.map((r) => r.article_id),
    ),
    publication: await getPublication(db),
    glossary: await listGlossary(db),
  };
}
