import type { Db } from '../src/db/database.js';
import { nowIso } from '../src/db/database.js';
import type { EmailFit, IssueRow, IssueStatus } from '../src/db/schema.js';

// All SQL the issue composer uses to write issues, their sections and their article order.

export const EDITABLE_STATUSES: readonly IssueStatus[] = ['draft', 'scheduled'];

export interface IssueDetails {
  title: string;
  edition: string;
  period: string;
  editorNoteMarkdown: string;
  /** The inbox preview line; empty: made from each edition's titles. Absent: left as it is. */
  preheader?: string;
  /** How editions meet EMAIL_HTML_BUDGET (README: Size budget). Absent: left as it is (`auto` when new). */
  emailFit?: EmailFit;
}

export class IssueSlugTakenError extends Error {}

export async function issueSlugTaken(db: Db, slug: string): Promise<boolean> {
  return (await db.selectFrom('issues').select('id').where('slug', '=', slug).executeTakeFirst()) !== undefined;
}

export async function insertIssue(db: Db, slug: string, details: IssueDetails): Promise<number> {
  if (await issueSlugTaken(db, slug))
    throw new IssueSlugTakenError(`An issue with the address “${slug}” exists already.`);
  const now = nowIso();
  const { id } = await db
    .insertInto('issues')
    .values({
      slug,
      title: details.title,
      edition: details.edition,
      period: details.period,
      editor_note_markdown: details.editorNoteMarkdown,
      preheader: details.preheader ?? '',
      email_fit: details.emailFit ?? 'auto',
      status: 'draft',
      created_at: now,
      updated_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return id;
}

export async function updateIssueDetails(db: Db, issueId: number, details: IssueDetails): Promise<void> {
  await db
    .updateTable('issues')
    .set({
      title: details.title,
      edition: details.edition,
      period: details.period,
      editor_note_markdown: details.editorNoteMarkdown,
      ...(details.preheader !== undefined ? { preheader: details.preheader } : {}),
      ...(details.emailFit !== undefined ? { email_fit: details.emailFit } : {}),
      updated_at: nowIso(),
    })
    .where('id', '=', issueId)
    .execute();
}

export interface Composition {
  /** Section topic ids in print order. */
  sections: number[];
  /** Article ids in issue order with their section topic ids. */
  articles: { id: number; sectionId: number }[];
}

export async function loadComposition(db: Db, issueId: number): Promise<Composition> {
  const sections = await db
    .selectFrom('issue_sections')
    .select('topic_id')
    .where('issue_id', '=', issueId)
    .orderBy('position')
    .execute();
  const articles = await db
    .selectFrom('issue_articles')
    .innerJoin('articles', 'articles.id', 'issue_articles.article_id')
    .select(['articles.id', 'articles.section_topic_id'])
    .where('issue_articles.issue_id', '=', issueId)
    .orderBy('issue_articles.position')
    .execute();
  return {
    sections: sections.map((s) => s.topic_id),
    articles: articles.map((a) => ({ id: a.id, sectionId: a.section_topic_id })),
  };
}

/**
 * Writes a composition in canonical form: every article's section is listed, and articles are
 * stored grouped by section in section order (so issue order is print order), keeping their
 * relative order. Bumps issues.updated_at, which is what the renderer's cache checks.
 */
export async function saveComposition(db: Db, issueId: number, composition: Composition): Promise<void> {
  const sections = [...new Set(composition.sections)];
  for (const a of composition.articles) if (!sections.includes(a.sectionId)) sections.push(a.sectionId);
  const seen = new Set<number>();
  const articles = sections.flatMap((sectionId) =>
    composition.articles.filter((a) => a.sectionId === sectionId && !seen.has(a.id) && seen.add(a.id)),
  );
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('issue_articles').where('issue_id', '=', issueId).execute();
    await trx.deleteFrom('issue_sections').where('issue_id', '=', issueId).execute();
    if (sections.length) {
      await trx
        .insertInto('issue_sections')
        .values(sections.map((topic_id, position) => ({ issue_id: issueId, topic_id, position })))
        .execute();
    }
    if (articles.length) {
      await trx
        .insertInto('issue_articles')
        .values(articles.map((a, position) => ({ issue_id: issueId, article_id: a.id, position })))
        .execute();
    }
    await trx.updateTable('issues').set({ updated_at: nowIso() }).where('id', '=', issueId).execute();
  });
}

export async function articleSections(db: Db, articleIds: number[]): Promise<{ id: number; sectionId: number }[]> {
  if (articleIds.length === 0) return [];
  const rows = await db
    .selectFrom('articles')
    .select(['id', 'section_topic_id'])
    .where('id', 'in', articleIds)
    .execute();
  const byId = new Map(rows.map((r) => [r.id, r.section_topic_id]));
  return articleIds.flatMap((id) => {
    const sectionId = byId.get(id);
    return sectionId === undefined ? [] : [{ id, sectionId }];
  });
}

/** The issue whose send started last (sent, sending, paused or cancelled), for the overview. */
export async function latestStartedIssue(db: Db): Promise<IssueRow | undefined> {
  return db
    .selectFrom('issues')
    .selectAll()
    .where('started_at', 'is not', null)
    .orderBy('started_at', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** Issues waiting for their time, soonest first. */
export async function scheduledIssues(db: Db, limit: number): Promise<IssueRow[]> {
  return db
    .selectFrom('issues')
    .selectAll()
    .where('status', '=', 'scheduled')
    .orderBy('send_at')
    .orderBy('id')
    .limit(limit)
    .execute();
}
