import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { loadArticles, listTopics } from '../src/content/content-repository.js';
import { importFolder, ImportError, IssueRecordError } from '../src/content/import.js';
import { topicSlug } from '../src/content/slug.js';
import type { Article } from '../src/content/types.js';
import {
  validateArticleForm,
  type ArticleFormErrors,
  type ArticleFormValues,
} from '../editors/articles/article-form.js';
import { findArticleBySlug, findOrCreateTopic, insertArticle, updateArticle } from '../editors/library-repository.js';
import type { ApiContext } from './context.js';
import { conflict, notFound, Problem, validationProblem, type FieldProblem } from './problem.js';
import { defineRoute, type ApiRoute } from './route.js';
import { articleSchema, importResultSchema, slugParams } from './schemas.js';

// /api/v1/imports and /api/v1/articles: the import is `newsletter import` itself (the files are
// written to a temporary folder and read by the same code, with the same checks and errors), and
// articles go through the editors' article form validation.

const TAG = 'Content';

/** The files an import folder may hold (contract §1). */
export const IMPORT_FILE_PATH =
  /^(issue\.md|publication\.md|abbreviations\.tsv|articles\/[A-Za-z0-9][A-Za-z0-9._-]{0,150}\.md)$/;
export const MAX_IMPORT_FILES = 300;
export const MAX_IMPORT_FILE_BYTES = 1024 * 1024;

const importBody = z
  .object({
    files: z
      .record(
        z
          .string()
          .regex(IMPORT_FILE_PATH, 'a file path is issue.md, publication.md, abbreviations.tsv or articles/<name>.md'),
        z.string().max(MAX_IMPORT_FILE_BYTES),
      )
      .refine((files) => Object.keys(files).length <= MAX_IMPORT_FILES, `at most ${MAX_IMPORT_FILES} files`)
      .meta({
        description: "The import folder: each file's path (issue.md, articles/<name>.md, …) and its UTF-8 text",
        example: { 'issue.md': '---\nslug: spring\n…', 'articles/first.md': '---\ntitle: …' },
      }),
    correction: z
      .object({ note: z.string().trim().min(1).max(2000) })
      .optional()
      .meta({ description: 'Publish the import as a correction of a sent issue, with this note for readers' }),
  })
  .meta({ id: 'ImportFolder' });

const importMultipart = z
  .object({ correction: z.string().optional().meta({ description: 'Correction note (see the JSON form)' }) })
  .catchall(z.string().meta({ format: 'binary' }))
  .meta({
    description: 'One file part per file, its field name being its path in the folder (issue.md, articles/a.md)',
  });

async function writeImportFolder(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'newsletter-api-import-'));
  await mkdir(path.join(dir, 'articles'));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text, 'utf8');
  return dir;
}

const importIssue = defineRoute({
  method: 'post',
  path: '/imports',
  operationId: 'importIssue',
  summary: 'Import an issue folder (as `newsletter import` does)',
  description:
    'A JSON body, or multipart/form-data with one part per file. Importing the same folder twice changes nothing ' +
    'the second time; an import onto a sent issue is refused unless it is a correction.',
  tag: TAG,
  scope: 'content:write',
  body: importBody,
  multipartBody: importMultipart,
  responses: {
    200: { description: 'Imported', schema: importResultSchema },
    409: { description: 'The issue is a record (sent) and this is not a correction, or not correctable' },
    422: { description: 'A file is invalid (`file`, `field`, `reason`); nothing was written' },
  },
  async handler(ctx, { body, key }) {
    const dir = await writeImportFolder(body.files);
    try {
      const options = body.correction ? { correction: { note: body.correction.note, by: `api:${key.name}` } } : {};
      const result = await importFolder(ctx.services.db, dir, options);
      ctx.services.renderer.invalidate();
      return { status: 200, body: result };
    } catch (error) {
      if (error instanceof ImportError) {
        throw new Problem(422, 'import-invalid', 'Import failed, nothing was written', error.message, {
          file: error.file,
          field: error.field,
          reason: error.reason,
        });
      }
      if (error instanceof IssueRecordError) throw conflict(error.message);
      throw error;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
});

const articleFields = {
  title: z.string().max(1000),
  section: z.string().max(200).meta({ description: 'Section name: an existing topic, or a new one' }),
  topics: z.array(z.string()).max(50).meta({ description: 'Slugs of extra topics (existing ones)' }),
  tags: z
    .array(
      z
        .string()
        .max(60)
        .regex(/^[^,]*$/, 'a tag cannot hold a comma'),
    )
    .max(50),
  takeaway: z.string().max(4000).nullable(),
  sources: z.array(z.object({ url: z.string().max(2000), label: z.string().max(300).optional() })).max(100),
  body: z.string().max(500_000).meta({ description: 'Markdown' }),
};

const newArticle = z
  .object({
    ...articleFields,
    topics: articleFields.topics.default([]),
    tags: articleFields.tags.default([]),
    takeaway: articleFields.takeaway.default(null),
    sources: articleFields.sources.default([]),
  })
  .meta({ id: 'NewArticle' });

const articleChange = z.object(articleFields).partial().meta({ id: 'ArticleChange' });

type ArticleValues = z.output<typeof newArticle>;

const FORM_FIELD: Record<keyof ArticleFormErrors, string> = {
  title: 'body.title',
  sectionTopicId: 'body.section',
  newSection: 'body.section',
  extraTopicIds: 'body.topics',
  tags: 'body.tags',
  takeaway: 'body.takeaway',
  sources: 'body.sources',
  body: 'body.body',
  imageAlt: 'body.body',
  image: 'body.body',
};

function toApiArticle(article: Article, updatedAt: string) {
  return {
    id: article.slug,
    title: article.title,
    section: article.section.name,
    topics: article.topics.map((t) => t.slug),
    tags: article.tags,
    takeaway: article.takeaway,
    sources: article.sources,
    body: article.bodyMarkdown,
    updatedAt,
  };
}

/** Checks the values with the editors' article form rules and saves them (new when `id` is absent). */
async function saveArticle(ctx: ApiContext, values: ArticleValues, id?: number): Promise<number> {
  const { db } = ctx.services;
  const topics = await listTopics(db);
  const section = topics.find((t) => t.slug === topicSlug(values.section));
  const unknown = values.topics.filter((slug) => !topics.some((t) => t.slug === slug));
  const problems: FieldProblem[] = [];
  if (unknown.length > 0) problems.push({ field: 'body.topics', message: `unknown topic ${unknown.join(', ')}` });
  const form: ArticleFormValues = {
    title: values.title,
    sectionTopicId: section ? String(section.id) : '',
    newSection: section ? '' : values.section,
    extraTopicIds: topics.filter((t) => values.topics.includes(t.slug)).map((t) => String(t.id)),
    tags: values.tags.join(', '),
    takeaway: values.takeaway ?? '',
    sources: values.sources.map((s) => `${s.url} ${s.label ?? ''}`.trim()).join('\n'),
    body: values.body,
    imageAlt: '',
  };
  const checked = validateArticleForm(form, topics);
  for (const [name, message] of Object.entries(checked.errors) as [keyof ArticleFormErrors, string][]) {
    problems.push({ field: FORM_FIELD[name], message });
  }
  if (problems.length > 0) throw validationProblem(problems);
  const input = {
    ...checked.input,
    sectionTopicId: checked.input.sectionTopicId ?? (await findOrCreateTopic(db, values.section)),
  };
  if (id === undefined) return (await insertArticle(db, input)).id;
  for (const slug of await updateArticle(db, id, input)) ctx.services.renderer.invalidate(slug);
  return id;
}

async function articleAnswer(ctx: ApiContext, id: number, status: number) {
  const [article] = await loadArticles(ctx.services.db, [id]);
  const found = article && (await findArticleBySlug(ctx.services.db, article.slug));
  if (!article || !found) throw new Error(`article ${id} vanished after saving`);
  return {
    status,
    body: toApiArticle(article, found.updatedAt),
    headers: { Location: `/api/v1/articles/${article.slug}` },
  };
}

const createArticle = defineRoute({
  method: 'post',
  path: '/articles',
  operationId: 'createArticle',
  summary: 'Add an article to the library',
  tag: TAG,
  scope: 'content:write',
  body: newArticle,
  responses: { 201: { description: 'Created', schema: articleSchema } },
  async handler(ctx, { body }) {
    return articleAnswer(ctx, await saveArticle(ctx, body), 201);
  },
});

const updateArticleRoute = defineRoute({
  method: 'patch',
  path: '/articles/{slug}',
  operationId: 'updateArticle',
  summary: 'Change an article (drafts holding it show the change; sent issues keep what they sent)',
  tag: TAG,
  scope: 'content:write',
  params: slugParams,
  body: articleChange,
  responses: { 200: { description: 'Changed', schema: articleSchema }, 404: { description: 'No such article' } },
  async handler(ctx, { params, body }) {
    const found = await findArticleBySlug(ctx.services.db, params.slug);
    const [current] = found ? await loadArticles(ctx.services.db, [found.id]) : [];
    if (!found || !current) throw notFound(`Article "${params.slug}"`);
    const values: ArticleValues = {
      title: body.title ?? current.title,
      section: body.section ?? current.section.name,
      topics: body.topics ?? current.topics.slice(1).map((t) => t.slug),
      tags: body.tags ?? current.tags,
      takeaway: body.takeaway !== undefined ? body.takeaway : current.takeaway,
      sources: body.sources ?? current.sources,
      body: body.body ?? current.bodyMarkdown,
    };
    return articleAnswer(ctx, await saveArticle(ctx, values, found.id), 200);
  },
});

export const contentRoutes: ApiRoute[] = [importIssue, createArticle, updateArticleRoute];
