import type { Db } from '../db/database.js';
import { nowIso } from '../db/database.js';
import type { IssueRow, IssueStatus, TopicRow } from '../db/schema.js';
import type {
  Article,
  GlossaryEntry,
  IssueContent,
  IssueCorrection,
  IssueDocument,
  Publication,
  Source,
  Topic,
} from './types.js';

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

/**
 * Issues newest sent first, then the unsent ones (drafts, scheduled, …) newest created first. Where
 * NULLs go is said in the SQL: SQLite sorts them first ascending, PostgreSQL last.
 */
export async function listIssues(db: Db, statuses?: IssueStatus[]): Promise<IssueRow[]> {
  let query = db.selectFrom('issues').selectAll();
  if (statuses) query = query.where('status', 'in', statuses);
  return query
    .orderBy('sent_at', (o) => o.desc().nullsLast())
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .execute();
}

/** The archive: sent issues not withdrawn, newest first. */
export async function listPublicIssues(db: Db): Promise<IssueRow[]> {
  return db
    .selectFrom('issues')
    .selectAll()
    .where('status', '=', 'sent')
    .where('withdrawn_at', 'is', null)
    .orderBy('sent_at', (o) => o.desc().nullsLast())
    .orderBy('id', 'desc')
    .execute();
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
      bodyMarkdown: row.body_markdown,
    });
  }
  return articles;
}

/**
 * A sent issue is a record: once its send has started (`started_at` is set), its content is the
 * snapshot taken then, and neither library edits nor imports change it; only a correction does.
 */
export function isIssueRecord(issue: Pick<IssueRow, 'started_at'>): boolean {
  return issue.started_at !== null;
}

/** The issue's content as the library holds it now: what a draft shows and what a send freezes. */
async function liveContent(db: Db, issue: IssueRow): Promise<IssueContent> {
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
    title: issue.title,
    edition: issue.edition,
    period: issue.period,
    editorNoteMarkdown: issue.editor_note_markdown,
    sections: sectionRows.map(toTopic),
    articles: await loadArticles(
      db,
      articleIds.map((r) => r.article_id),
    ),
    publication: await getPublication(db),
    glossary: await listGlossary(db),
  };
}

async function storedContent(db: Db, issueId: number): Promise<{ content: IssueContent; takenAt: string } | undefined> {
  const row = await db
    .selectFrom('issue_snapshots')
    .select(['content_json', 'taken_at'])
    .where('issue_id', '=', issueId)
    .executeTakeFirst();
  return row && { content: JSON.parse(row.content_json) as IssueContent, takenAt: row.taken_at };
}

async function issueRowById(db: Db, issueId: number): Promise<IssueRow> {
  return db.selectFrom('issues').selectAll().where('id', '=', issueId).executeTakeFirstOrThrow();
}

/**
 * Fixes an issue's content as it is now: called in the transaction that starts its send, so every
 * subscriber of the send, and the archive afterwards, get exactly this. Idempotent (a resumed send
 * keeps the first snapshot). Bumps `updated_at`, so renderers drop what they cached from the library.
 */
export async function freezeIssueContent(db: Db, issueId: number, now: string): Promise<void> {
  const content = await liveContent(db, await issueRowById(db, issueId));
  const inserted = await db
    .insertInto('issue_snapshots')
    .values({ issue_id: issueId, content_json: JSON.stringify(content), taken_at: now })
    .onConflict((oc) => oc.column('issue_id').doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) {
    await db.updateTable('issues').set({ updated_at: now }).where('id', '=', issueId).execute();
  }
}

/**
 * The content of a record. An issue sent before snapshots existed gets its snapshot now, from
 * what it holds today (the best record there is), and keeps it from then on.
 */
async function recordContent(db: Db, issue: IssueRow): Promise<{ content: IssueContent; takenAt: string }> {
  const stored = await storedContent(db, issue.id);
  if (stored) return stored;
  await db
    .insertInto('issue_snapshots')
    .values({ issue_id: issue.id, content_json: JSON.stringify(await liveContent(db, issue)), taken_at: nowIso() })
    .onConflict((oc) => oc.column('issue_id').doNothing())
    .execute();
  const taken = await storedContent(db, issue.id);
  if (!taken) throw new Error(`the snapshot of issue ${issue.slug} vanished as it was written`);
  return taken;
}

async function listCorrections(db: Db, issueId: number): Promise<IssueCorrection[]> {
  const rows = await db
    .selectFrom('issue_corrections')
    .select(['note', 'corrected_at'])
    .where('issue_id', '=', issueId)
    .orderBy('id')
    .execute();
  return rows.map((r) => ({ note: r.note, correctedAt: r.corrected_at }));
}

export async function loadIssueDocument(db: Db, slug: string): Promise<IssueDocument> {
  const issue = await getIssueRow(db, slug);
  if (!issue) throw new UnknownIssueError(slug, await listIssueSlugs(db));
  const record = isIssueRecord(issue) ? await recordContent(db, issue) : undefined;
  return {
    id: issue.id,
    slug: issue.slug,
    status: issue.status,
    sendAt: issue.send_at,
    sentAt: issue.sent_at,
    updatedAt: issue.updated_at,
    emailFit: issue.email_fit,
    preheader: issue.preheader,
    frozenAt: record?.takenAt ?? null,
    corrections: record ? await listCorrections(db, issue.id) : [],
    ...(record?.content ?? (await liveContent(db, issue))),
  };
}

/**
 * Publishes a correction of a sent issue: its snapshot becomes the issue's content as the library
 * holds it now, the replaced content is kept with the note, and nobody is mailed. The caller has
 * written the corrected articles (and checked that the issue is a sent record).
 */
export async function correctIssueContent(
  db: Db,
  issueId: number,
  correction: { note: string; by: string },
  now: string,
): Promise<void> {
  const issue = await issueRowById(db, issueId);
  const replaced = await recordContent(db, issue);
  await db
    .updateTable('issue_snapshots')
    .set({ content_json: JSON.stringify(await liveContent(db, issue)) })
    .where('issue_id', '=', issueId)
    .execute();
  await db
    .insertInto('issue_corrections')
    .values({
      issue_id: issueId,
      note: correction.note,
      corrected_at: now,
      corrected_by: correction.by,
      replaced_json: JSON.stringify(replaced.content),
    })
    .execute();
  await db.updateTable('issues').set({ updated_at: now }).where('id', '=', issueId).execute();
}

/**
 * Bumps `updated_at` of the drafts (never the records) holding these articles, so every process's
 * renderer drops what it cached of them; returns their slugs.
 */
export async function touchIssuesHolding(db: Db, articleIds: number[], now = nowIso()): Promise<string[]> {
  if (articleIds.length === 0) return [];
  const issues = await db
    .selectFrom('issue_articles')
    .innerJoin('issues', 'issues.id', 'issue_articles.issue_id')
    .select(['issues.id', 'issues.slug'])
    .where('issue_articles.article_id', 'in', articleIds)
    .where('issues.started_at', 'is', null)
    .distinct()
    .execute();
  if (issues.length) {
    await db
      .updateTable('issues')
      .set({ updated_at: now })
      .where(
        'id',
        'in',
        issues.map((i) => i.id),
      )
      .execute();
  }
  return issues.map((i) => i.slug);
}

/** Bumps every draft: the publication or glossary, which drafts show as they are now, changed. */
export async function touchAllDrafts(db: Db, now = nowIso()): Promise<void> {
  await db.updateTable('issues').set({ updated_at: now }).where('started_at', 'is', null).execute();
}

export interface SentIssueRef {
  slug: string;
  title: string;
  period: string;
  sentAt: string | null;
  /** Which of the asked-about articles it holds. */
  articleIds: number[];
}

/** The records (sent or sending issues) holding any of these articles: they keep the text they were sent with. */
export async function recordsHolding(db: Db, articleIds: number[]): Promise<SentIssueRef[]> {
  if (articleIds.length === 0) return [];
  const rows = await db
    .selectFrom('issue_articles')
    .innerJoin('issues', 'issues.id', 'issue_articles.issue_id')
    .select(['issues.slug', 'issues.title', 'issues.period', 'issues.sent_at', 'issue_articles.article_id'])
    .where('issue_articles.article_id', 'in', articleIds)
    .where('issues.started_at', 'is not', null)
    .orderBy('issues.started_at')
    .orderBy('issues.id')
    .execute();
  const bySlug = new Map<string, SentIssueRef>();
  for (const r of rows) {
    const ref = bySlug.get(r.slug) ?? {
      slug: r.slug,
      title: r.title,
      period: r.period,
      sentAt: r.sent_at,
      articleIds: [],
    };
    ref.articleIds.push(r.article_id);
    bySlug.set(r.slug, ref);
  }
  return [...bySlug.values()];
}

/** True when the issue holds at least one article: an empty issue is never sent nor public. */
export async function issueHasArticles(db: Db, issueId: number): Promise<boolean> {
  const row = await db
    .selectFrom('issue_articles')
    .select('article_id')
    .where('issue_id', '=', issueId)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** What a guarded change of an issue did: `done`, `refused` (the issue is not in a state that allows it) or `missing`. */
export type IssueChange = 'done' | 'refused' | 'missing';

async function changeResult(db: Db, slug: string, changed: bigint | undefined): Promise<IssueChange> {
  if (Number(changed ?? 0) > 0) return 'done';
  return (await getIssueRow(db, slug)) ? 'refused' : 'missing';
}

/**
 * Takes a sent issue out of the archive and the feed; its page then answers 410 with the note.
 * Nothing else changes (its snapshot and delivery records stay), so it can be put back.
 */
export async function withdrawIssue(db: Db, slug: string, note: string | null, now: string): Promise<IssueChange> {
  const result = await db
    .updateTable('issues')
    .set({ withdrawn_at: now, withdrawal_note: note })
    .where('slug', '=', slug)
    .where('status', '=', 'sent')
    .where('withdrawn_at', 'is', null)
    .executeTakeFirst();
  return changeResult(db, slug, result.numUpdatedRows);
}

/** Puts a withdrawn issue back in the archive and the feed. */
export async function republishIssue(db: Db, slug: string): Promise<IssueChange> {
  const result = await db
    .updateTable('issues')
    .set({ withdrawn_at: null, withdrawal_note: null })
    .where('slug', '=', slug)
    .where('withdrawn_at', 'is not', null)
    .executeTakeFirst();
  return changeResult(db, slug, result.numUpdatedRows);
}

/**
 * Deletes a draft (never scheduled, or cancelled before it started) with its sections and article
 * order; the articles stay in the library. An issue whose send started is a record and is never deleted.
 */
export async function deleteDraftIssue(db: Db, slug: string): Promise<IssueChange> {
  const result = await db
    .deleteFrom('issues')
    .where('slug', '=', slug)
    .where('started_at', 'is', null)
    .where('status', 'in', ['draft', 'cancelled'])
    .executeTakeFirst();
  return changeResult(db, slug, result.numDeletedRows);
}

/** How the library now differs from what a sent issue holds: what a correction would publish. */
export interface IssueDrift {
  /** Articles of the issue whose library text (title, body, takeaway, tags, sources, topics) changed. */
  articles: { id: number; title: string; sentTitle: string }[];
  details: boolean;
  publication: boolean;
  glossary: boolean;
}

export async function issueDrift(db: Db, slug: string): Promise<IssueDrift> {
  const issue = await getIssueRow(db, slug);
  if (!issue) throw new UnknownIssueError(slug, await listIssueSlugs(db));
  const sent = (await recordContent(db, issue)).content;
  const now = await liveContent(db, issue);
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  // What readers see of an article (a topic's description or place in the sign-up list is not part of it).
  const text = (a: Article) => [a.title, a.bodyMarkdown, a.takeaway, a.tags, a.sources, a.topics.map((t) => t.name)];
  const sentById = new Map(sent.articles.map((a) => [a.id, a]));
  return {
    articles: now.articles.flatMap((a) => {
      const before = sentById.get(a.id);
      return before && same(text(before), text(a))
        ? []
        : [{ id: a.id, title: a.title, sentTitle: before?.title ?? '' }];
    }),
    details:
      !same(
        [sent.title, sent.edition, sent.period, sent.editorNoteMarkdown],
        [now.title, now.edition, now.period, now.editorNoteMarkdown],
      ) || !same(sent.sections, now.sections),
    publication: !same(sent.publication, now.publication),
    glossary: !same(sent.glossary, now.glossary),
  };
}
