import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { CsvError, parse as parseCsv, type Options } from 'csv-parse/sync';
import { z } from 'zod';
import type { Db } from '../db/database.js';
import { nowIso } from '../db/database.js';
import type { IssueRow } from '../db/schema.js';
import {
  correctIssueContent,
  isIssueRecord,
  listGlossary,
  recordsHolding,
  touchAllDrafts,
  touchIssuesHolding,
} from './content-repository.js';
import { ContentFileError, readContentFile } from './content-file.js';
import { FrontMatterError, parseFrontMatter } from './front-matter.js';
import { topicSlug } from './slug.js';
import { markdownNestingProblem } from '../render/markdown.js';
import { stripXmlInvalidDeep } from './xml-chars.js';

/** A bad file in an import: names the file and the field at fault. */
export class ImportError extends Error {
  constructor(
    readonly file: string,
    readonly field: string | null,
    readonly reason: string,
  ) {
    super(`${file}${field ? `: ${field}` : ''}: ${reason}`);
  }
}

const text = (what: string) =>
  z
    .string({ error: `${what} must be text` })
    .trim()
    .min(1, `${what} must not be empty`);

const issueSchema = z.object({
  slug: text('slug').regex(/^[a-z0-9][a-z0-9-]*$/, 'slug may hold only a-z, 0-9 and -'),
  title: text('title'),
  edition: z.string().default(''),
  period: z.string().default(''),
  sections: z.array(text('section name')).min(1, 'list at least one section'),
  articles: z.array(text('article file name')).min(1, 'list at least one article'),
  preheader: z
    .string({ error: 'preheader must be text' })
    .trim()
    .max(200, 'preheader must be at most 200 characters')
    .optional(),
  email_fit: z.enum(['auto', 'full', 'teasers'], { error: 'email_fit must be auto, full or teasers' }).optional(),
});

const articleSchema = z.object({
  title: text('title'),
  section: text('section'),
  tags: z.array(z.string().trim().min(1)).default([]),
  takeaway: z.string().trim().optional(),
  sources: z
    .array(
      z.object({
        url: z.url({ protocol: /^https?$/, error: 'each source needs an http(s) url' }),
        label: z.string().trim().optional(),
      }),
    )
    .default([]),
  topics: z.array(text('topic name')).default([]),
});

const publicationSchema = z.object({
  name: text('name'),
  publisher: z.string().default(''),
  cadence: z.string().default(''),
  contact: z.string().default(''),
});

interface ParsedArticle {
  slug: string;
  file: string;
  data: z.infer<typeof articleSchema>;
  body: string;
  images: { src: string; alt: string }[];
}

export interface ImportBundle {
  issue: z.infer<typeof issueSchema> & { note: string };
  articles: ParsedArticle[];
  publication: (z.infer<typeof publicationSchema> & { about: string }) | null;
  glossary: { abbreviation: string; english: string; chinese: string }[] | null;
}

/** Reads one file of the folder with content-file's rules, naming the file in any error. */
function readFolderFile(root: string, file: string, label: string): string {
  try {
    return readContentFile(root, file);
  } catch (error) {
    if (error instanceof ContentFileError) throw new ImportError(label, null, error.message);
    throw error;
  }
}

function readFrontMatter(root: string, file: string, label: string): { data: unknown; body: string } {
  try {
    return parseFrontMatter(readFolderFile(root, file, label));
  } catch (error) {
    if (error instanceof FrontMatterError) throw new ImportError(label, error.field, error.reason);
    throw error;
  }
}

function refuseDeepNesting(label: string, field: string, markdown: string, options?: { inline?: boolean }): void {
  const problem = markdownNestingProblem(markdown, options);
  if (problem) throw new ImportError(label, field, problem);
}

function validate<T>(schema: z.ZodType<T>, data: unknown, label: string): T {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join('.') : 'front matter';
  const reason =
    issue?.code === 'invalid_type' && issue.input === undefined ? 'is missing' : (issue?.message ?? 'is invalid');
  throw new ImportError(label, field, reason);
}

function imagesOf(markdown: string): { src: string; alt: string }[] {
  return [...markdown.matchAll(/!\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => ({
    alt: m[1] ?? '',
    src: m[2] ?? '',
  }));
}

function readGlossary(root: string, file: string): ImportBundle['glossary'] {
  const label = path.basename(file);
  return parseGlossaryTsv(readFolderFile(root, file, label), label);
}

/**
 * abbreviations.tsv: a header row naming the abbreviation, english and chinese columns (any order,
 * more columns allowed), then one entry a line. Tab-separated with no quoting (csv-parse), so a
 * quote mark is an ordinary character; blank lines are skipped, a byte order mark is dropped.
 */
function parseGlossaryTsv(text: string, label: string): NonNullable<ImportBundle['glossary']> {
  let rows: { record: string[]; info: { lines: number } }[];
  try {
    // csv-parse's synchronous parse is typed `any`; with `info: true` it returns these pairs.
    rows = (parseCsv as (input: string, options: Options) => typeof rows)(text, {
      delimiter: '\t',
      quote: false,
      bom: true,
      trim: true,
      skip_empty_lines: true,
      skip_records_with_empty_values: true,
      relax_column_count: true,
      info: true,
    });
  } catch (error) {
    if (error instanceof CsvError) throw new ImportError(label, `line ${error.lines}`, error.message);
    throw error;
  }
  const header = (rows.shift()?.record ?? []).map((h) => h.toLowerCase());
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new ImportError(label, name, 'column is missing from the header row');
    return i;
  };
  const [a, e, c] = [col('abbreviation'), col('english'), col('chinese')];
  return rows.map(({ record, info }) => {
    const abbreviation = record[a] ?? '';
    if (!abbreviation) throw new ImportError(label, `line ${info.lines} abbreviation`, 'is empty');
    return { abbreviation, english: record[e] ?? '', chinese: record[c] ?? '' };
  });
}

/** Reads and validates a whole folder before anything is written. */
export function readImportFolder(dir: string): ImportBundle {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ImportError(dir, null, 'is not a folder');
  const issueFile = path.join(dir, 'issue.md');
  if (!existsSync(issueFile)) throw new ImportError('issue.md', null, `is missing from ${dir}`);
  const issueRaw = readFrontMatter(dir, issueFile, 'issue.md');
  const issue = validate(issueSchema, issueRaw.data, 'issue.md');
  refuseDeepNesting('issue.md', 'body', issueRaw.body);
  const sectionSlugs = new Set(issue.sections.map(topicSlug));

  const seen = new Set<string>();
  const articles = issue.articles.map((name, i): ParsedArticle => {
    const field = `articles[${i}]`;
    if (seen.has(name)) throw new ImportError('issue.md', field, `lists "${name}" twice`);
    seen.add(name);
    if (name.includes('/') || name.includes('\\'))
      throw new ImportError('issue.md', field, `"${name}" must be a file name inside articles/`);
    const file = path.join(dir, 'articles', name);
    if (!existsSync(file)) {
      const present = existsSync(path.join(dir, 'articles')) ? readdirSync(path.join(dir, 'articles')).length : 0;
      throw new ImportError('issue.md', field, `"${name}" does not exist in articles/ (${present} files there)`);
    }
    const label = `articles/${name}`;
    const raw = readFrontMatter(dir, file, label);
    const data = validate(articleSchema, raw.data, label);
    if (!sectionSlugs.has(topicSlug(data.section))) {
      throw new ImportError(
        label,
        'section',
        `"${data.section}" is not one of the issue's sections (${issue.sections.join(', ')})`,
      );
    }
    if (raw.body === '') throw new ImportError(label, 'body', 'is empty');
    const images = imagesOf(raw.body);
    const unlabelled = images.find((image) => image.alt.trim() === '');
    if (unlabelled) {
      throw new ImportError(
        label,
        'body',
        `the image ${unlabelled.src} has no alt text; describe it for readers who cannot see it: ![what it shows](${unlabelled.src})`,
      );
    }
    refuseDeepNesting(label, 'body', raw.body);
    if (data.takeaway) refuseDeepNesting(label, 'takeaway', data.takeaway, { inline: true });
    return { slug: name.replace(/\.md$/i, ''), file, data, body: raw.body, images };
  });

  const publicationFile = path.join(dir, 'publication.md');
  let publication: ImportBundle['publication'] = null;
  if (existsSync(publicationFile)) {
    const raw = readFrontMatter(dir, publicationFile, 'publication.md');
    publication = { ...validate(publicationSchema, raw.data, 'publication.md'), about: raw.body };
    refuseDeepNesting('publication.md', 'body', raw.body);
  }
  const glossaryFile = path.join(dir, 'abbreviations.tsv');
  const glossary = existsSync(glossaryFile) ? readGlossary(dir, glossaryFile) : null;

  return { issue: { ...issue, note: issueRaw.body }, articles, publication, glossary };
}

/**
 * A plain import onto an issue whose send has started, or a correction that cannot apply: nothing
 * was written, and the message names the issue and says what to do.
 */
export class IssueRecordError extends Error {}

export interface ImportOptions {
  /** Publish the import as a correction of an already sent issue (`--correct "<note>"`). */
  correction?: { note: string; by: string };
}

export interface ImportResult {
  slug: string;
  articles: number;
  topics: number;
  /** True when the import was published as a correction of a sent issue. */
  corrected: boolean;
  /** Changed articles that other sent issues hold: those keep the text they were sent with. */
  keptBySentIssues: { article: string; issues: string[] }[];
}

/** Refuses, before anything is written, an import that would change a sent issue without saying so. */
function checkIssueTarget(existing: IssueRow | undefined, slug: string, options: ImportOptions): void {
  const sentOn = (row: IssueRow) => (row.sent_at ?? row.started_at ?? '').slice(0, 10);
  if (!options.correction) {
    if (existing && isIssueRecord(existing)) {
      const what = existing.status === 'sent' ? `was sent on ${sentOn(existing)}` : `is ${existing.status}`;
      throw new IssueRecordError(
        `Issue "${slug}" ${what}; its content is what subscribers received, so nothing was imported. ` +
          `To fix a mistake in its web version, import again with a note for readers: ` +
          `newsletter import <dir> --correct "<what was corrected>" (nobody is mailed again). ` +
          `To start a new issue, give issue.md another slug.`,
      );
    }
    return;
  }
  if (!existing || !isIssueRecord(existing)) {
    throw new IssueRecordError(
      `Issue "${slug}" has not been sent, so there is nothing to correct and nothing was imported; ` +
        `import it without --correct.`,
    );
  }
  if (existing.status !== 'sent') {
    throw new IssueRecordError(
      existing.status === 'cancelled'
        ? `Issue "${slug}": its send was cancelled, so it is not public and has nothing to correct; nothing was imported.`
        : `Issue "${slug}" is ${existing.status}; every subscriber of a send gets the same content, so a correction ` +
            `can be published once the send has finished. Nothing was imported.`,
    );
  }
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** True when `row` holds exactly `values` in each of their columns. */
function holds<T extends object>(row: T, values: Partial<T>): boolean {
  return (Object.keys(values) as (keyof T)[]).every((k) => row[k] === values[k]);
}

/** Writes a validated bundle in one transaction: re-import updates in place and never duplicates. */
export async function writeImportBundle(
  db: Db,
  bundle: ImportBundle,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const now = nowIso();
  return db.transaction().execute(async (trx) => {
    const existingIssue = await trx
      .selectFrom('issues')
      .selectAll()
      .where('slug', '=', bundle.issue.slug)
      .executeTakeFirst();
    checkIssueTarget(existingIssue, bundle.issue.slug, options);
    const topicIds = new Map<string, number>();
    const ensureTopic = async (name: string): Promise<number> => {
      const slug = topicSlug(name);
      const cached = topicIds.get(slug);
      if (cached !== undefined) return cached;
      const existing = await trx.selectFrom('topics').select('id').where('slug', '=', slug).executeTakeFirst();
      let id: number;
      if (existing) {
        id = existing.id;
      } else {
        const max = await trx
          .selectFrom('topics')
          .select((eb) => eb.fn.max('position').as('p'))
          .executeTakeFirst();
        const inserted = await trx
          .insertInto('topics')
          .values({ slug, name: name.trim(), description: '', position: Number(max?.p ?? 0) + 1 })
          .returning('id')
          .executeTakeFirstOrThrow();
        id = inserted.id;
      }
      topicIds.set(slug, id);
      return id;
    };

    const sectionIds: number[] = [];
    for (const name of bundle.issue.sections) sectionIds.push(await ensureTopic(name));

    const articleIds: number[] = [];
    const changedArticles = new Map<number, string>();
    for (const a of bundle.articles) {
      const { id, changed } = await writeArticle(trx, a, ensureTopic, now);
      if (changed) changedArticles.set(id, a.slug);
      articleIds.push(id);
    }

    const issueId = await writeIssue(trx, bundle, existingIssue, sectionIds, articleIds, now);
    const sharedChanged = await writeSharedContent(trx, bundle);
    // Drafts show the library as it is: bump the ones that changed, so every process's cache drops them.
    if (sharedChanged) await touchAllDrafts(trx, now);
    else await touchIssuesHolding(trx, [...changedArticles.keys()], now);

    if (options.correction) await correctIssueContent(trx, issueId, options.correction, now);
    const kept = (await recordsHolding(trx, [...changedArticles.keys()])).filter((r) => r.slug !== bundle.issue.slug);
    const keptBySentIssues = [...changedArticles].flatMap(([id, article]) => {
      const issues = kept.filter((r) => r.articleIds.includes(id)).map((r) => r.slug);
      return issues.length ? [{ article, issues }] : [];
    });
    return {
      slug: bundle.issue.slug,
      articles: articleIds.length,
      topics: topicIds.size,
      corrected: options.correction !== undefined,
      keptBySentIssues,
    };
  });
}

/** Inserts or updates one article; `changed` is false when an existing article already read exactly so. */
async function writeArticle(
  trx: Db,
  a: ParsedArticle,
  ensureTopic: (name: string) => Promise<number>,
  now: string,
): Promise<{ id: number; changed: boolean }> {
  const sectionId = await ensureTopic(a.data.section);
  const values = {
    title: a.data.title,
    section_topic_id: sectionId,
    body_markdown: a.body,
    tags_json: JSON.stringify(a.data.tags),
    takeaway: a.data.takeaway && a.data.takeaway !== '' ? a.data.takeaway : null,
    sources_json: JSON.stringify(a.data.sources.map((s) => ({ url: s.url, label: s.label || s.url }))),
  };
  const extra = new Set<number>();
  for (const name of a.data.topics) {
    const topicId = await ensureTopic(name);
    if (topicId !== sectionId) extra.add(topicId);
  }
  const existing = await trx.selectFrom('articles').selectAll().where('slug', '=', a.slug).executeTakeFirst();
  let id: number;
  let changed = true;
  if (existing) {
    id = existing.id;
    const before = await trx.selectFrom('article_topics').select('topic_id').where('article_id', '=', id).execute();
    const topics = (ids: number[]) => ids.sort((x, y) => x - y);
    changed = !holds(existing, values) || !sameJson(topics(before.map((t) => t.topic_id)), topics([...extra]));
    if (!changed) return { id, changed };
    await trx
      .updateTable('articles')
      .set({ ...values, updated_at: now })
      .where('id', '=', id)
      .execute();
  } else {
    id = (
      await trx
        .insertInto('articles')
        .values({ ...values, slug: a.slug, created_at: now, updated_at: now })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
  }
  await trx.deleteFrom('article_topics').where('article_id', '=', id).execute();
  if (extra.size > 0) {
    await trx
      .insertInto('article_topics')
      .values([...extra].map((topic_id) => ({ article_id: id, topic_id })))
      .execute();
  }
  return { id, changed };
}

/** Writes the issue's details, sections and article order; returns its id. */
async function writeIssue(
  trx: Db,
  bundle: ImportBundle,
  existing: IssueRow | undefined,
  sectionIds: number[],
  articleIds: number[],
  now: string,
): Promise<number> {
  const i = bundle.issue;
  const issueValues = {
    title: i.title,
    edition: i.edition,
    period: i.period,
    editor_note_markdown: i.note,
    // Absent from issue.md: what the editors' app set stays.
    ...(i.preheader !== undefined ? { preheader: i.preheader } : {}),
    ...(i.email_fit !== undefined ? { email_fit: i.email_fit } : {}),
    updated_at: now,
  };
  let issueId: number;
  if (existing) {
    issueId = existing.id;
    await trx.updateTable('issues').set(issueValues).where('id', '=', issueId).execute();
  } else {
    issueId = (
      await trx
        .insertInto('issues')
        .values({ ...issueValues, slug: i.slug, status: 'draft', created_at: now })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
  }
  await trx.deleteFrom('issue_sections').where('issue_id', '=', issueId).execute();
  await trx
    .insertInto('issue_sections')
    .values(sectionIds.map((topic_id, position) => ({ issue_id: issueId, topic_id, position })))
    .execute();
  await trx.deleteFrom('issue_articles').where('issue_id', '=', issueId).execute();
  await trx
    .insertInto('issue_articles')
    .values(articleIds.map((article_id, position) => ({ issue_id: issueId, article_id, position })))
    .execute();
  return issueId;
}

/** Writes publication.md and abbreviations.tsv when the folder has them; true when either changed anything. */
async function writeSharedContent(trx: Db, bundle: ImportBundle): Promise<boolean> {
  let changed = false;
  if (bundle.publication) {
    const p = bundle.publication;
    const values = {
      name: p.name,
      publisher: p.publisher,
      cadence: p.cadence,
      contact: p.contact,
      about_markdown: p.about,
    };
    const before = await trx.selectFrom('publication').selectAll().where('id', '=', 1).executeTakeFirst();
    changed ||= !before || !holds(before, values);
    await trx
      .insertInto('publication')
      .values({ id: 1, ...values })
      .onConflict((oc) => oc.column('id').doUpdateSet(values))
      .execute();
  }
  if (bundle.glossary) {
    const before = await listGlossary(trx);
    for (const [position, g] of bundle.glossary.entries()) {
      await trx
        .insertInto('glossary')
        .values({ ...g, position })
        .onConflict((oc) => oc.column('abbreviation').doUpdateSet({ english: g.english, chinese: g.chinese, position }))
        .execute();
    }
    changed ||= !sameJson(before, await listGlossary(trx));
  }
  return changed;
}

export async function importFolder(db: Db, dir: string, options: ImportOptions = {}): Promise<ImportResult> {
  // Characters no XML can carry (a pasted vertical tab) are dropped here, once, for every output.
  return writeImportBundle(db, stripXmlInvalidDeep(readImportFolder(dir)), options);
}
