import { Router, type Request, type Response } from 'express';
import { buildEdition } from '../../src/content/editions.js';
import { isIssueRecord, listIssues, listTopics, loadIssueDocument } from '../../src/content/content-repository.js';
import type { IssueRow } from '../../src/db/schema.js';
import { inlineMarkdownToSafeHtml, markdownToSafeHtml } from '../../src/render/markdown.js';
import { type AdminContext, field, fieldList, handle, HttpError, notFound, redirectSeeOther } from '../context.js';
import { renderAdminPage } from '../page.js';
import { formatTime } from '../format.js';
import { listLibrary, updateArticleTakeaway } from '../library-repository.js';
import {
  articleSections,
  type Composition,
  EDITABLE_STATUSES,
  insertIssue,
  IssueSlugTakenError,
  loadComposition,
  saveComposition,
  updateIssueDetails,
} from '../issue-repository.js';
import { addArticles, moveArticle, moveSection, removeArticle, reorderArticles } from './composition.js';
import { issueFormFromBody, validateIssueForm, type IssueFormErrors, type IssueFormValues } from './issue-form.js';
import { formCutMessage } from '../../src/http/form-body.js';
import { assertEditable, issueBySlug } from './issue-lookup.js';

// The issues list, a new issue, and the composer: details, articles from the library, their
// order and sections, takeaways.

const MAX_CANDIDATES = 200;
const MAX_TAKEAWAY = 2000;

async function listIssuesPage(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const tz = ctx.services.config.scheduleTz;
  const issues = await listIssues(ctx.services.db);
  await renderAdminPage(
    ctx,
    req,
    res,
    'issues/list',
    {
      issues: issues.map((i) => ({
        slug: i.slug,
        title: i.title,
        edition: i.edition,
        period: i.period,
        status: i.status,
        sendAt: formatTime(i.send_at, tz),
        sentAt: formatTime(i.sent_at, tz),
        updated: formatTime(i.updated_at, tz),
      })),
    },
    { title: 'Issues', section: 'issues' },
  );
}

async function showNewIssueForm(
  ctx: AdminContext,
  req: Request,
  res: Response,
  values: IssueFormValues = { slug: '', title: '', edition: '', period: '', note: '', preheader: '', emailFit: 'auto' },
  errors: IssueFormErrors = {},
  status = 200,
): Promise<void> {
  await renderAdminPage(
    ctx,
    req,
    res,
    'issues/new',
    { values, errors, hasErrors: Object.keys(errors).length > 0 },
    { title: 'New issue', section: 'issues', status },
  );
}

async function createIssue(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const values = issueFormFromBody(req.body);
  const { details, slug, errors } = validateIssueForm(values, { needSlug: true });
  const cut = formCutMessage(req);
  if (cut) errors.note = cut;
  if (Object.keys(errors).length > 0) return showNewIssueForm(ctx, req, res, values, errors, 400);
  try {
    await insertIssue(ctx.services.db, slug, details);
  } catch (error) {
    if (!(error instanceof IssueSlugTakenError)) throw error;
    const taken = { slug: `${error.message} Choose another address.` };
    return showNewIssueForm(ctx, req, res, { ...values, slug }, taken, 400);
  }
  redirectSeeOther(res, `/admin/issues/${slug}?notice=created`);
}

interface ComposerState {
  detailErrors?: IssueFormErrors;
  detailValues?: IssueFormValues;
  status?: number;
}

/** Library articles not yet in the issue, filtered by the search box. */
async function candidateArticles(ctx: AdminContext, req: Request, inIssue: Set<number>) {
  const topics = await listTopics(ctx.services.db);
  const q = field(req.query, 'q').trim();
  const topicParam = field(req.query, 'topic');
  const found = await listLibrary(ctx.services.db, {
    q: q || undefined,
    topicId: topics.find((t) => String(t.id) === topicParam)?.id,
  });
  return {
    search: { q, topic: topicParam },
    topics: topics.map((t) => ({ id: t.id, name: t.name, selected: String(t.id) === topicParam })),
    candidates: found
      .filter((a) => !inIssue.has(a.id))
      .slice(0, MAX_CANDIDATES)
      .map((c) => ({
        id: c.id,
        title: c.title,
        sectionName: c.sectionName,
        issues: c.issues.map((i) => i.slug).join(', '),
      })),
  };
}

async function showComposer(
  ctx: AdminContext,
  req: Request,
  res: Response,
  issue: IssueRow,
  state: ComposerState = {},
): Promise<void> {
  const doc = await loadIssueDocument(ctx.services.db, issue.slug);
  const edition = buildEdition(doc, null);
  const numberOf = new Map(edition.articles.map((a) => [a.article.id, a.number]));
  const sections = doc.sections.map((topic, si) => {
    const articles = doc.articles.filter((a) => a.section.id === topic.id);
    return {
      topic,
      first: si === 0,
      last: si === doc.sections.length - 1,
      articles: articles.map((a, ai) => ({
        id: a.id,
        title: a.title,
        number: numberOf.get(a.id),
        takeaway: a.takeaway ?? '',
        extraTopics: a.topics
          .slice(1)
          .map((t) => t.name)
          .join(', '),
        first: ai === 0,
        last: ai === articles.length - 1,
      })),
    };
  });
  const tz = ctx.services.config.scheduleTz;
  const record = isIssueRecord(issue) && {
    sent: issue.status === 'sent',
    sentAt: formatTime(issue.sent_at, tz),
    corrections: doc.corrections.map((c) => ({ note: c.note, when: formatTime(c.correctedAt, tz) })),
    withdrawn: issue.withdrawn_at !== null,
    withdrawnAt: formatTime(issue.withdrawn_at, tz),
    withdrawalNote: issue.withdrawal_note,
  };
  await renderAdminPage(
    ctx,
    req,
    res,
    'issues/composer',
    {
      issue: { ...issue, sendAtText: formatTime(issue.send_at, tz) },
      record,
      deletable: !record && issue.status !== 'scheduled',
      editable: EDITABLE_STATUSES.includes(issue.status),
      details: state.detailValues ?? {
        slug: issue.slug,
        title: issue.title,
        edition: issue.edition,
        period: issue.period,
        note: issue.editor_note_markdown,
        preheader: issue.preheader,
        emailFit: issue.email_fit,
      },
      detailErrors: state.detailErrors ?? {},
      sections,
      articleCount: doc.articles.length,
      index: {
        noteHtml: markdownToSafeHtml(doc.editorNoteMarkdown),
        sections: edition.sections.map((s) => ({
          name: s.topic.name,
          start: s.articles[0]?.number ?? 1,
          titles: s.articles.map((a) => a.article.title),
        })),
        takeaways: edition.takeaways.map((t) => ({
          number: t.number,
          title: t.article.title,
          html: inlineMarkdownToSafeHtml(t.article.takeaway ?? ''),
        })),
      },
      ...(await candidateArticles(ctx, req, new Set(doc.articles.map((a) => a.id)))),
    },
    {
      title: `Compose: ${issue.title} ${issue.period}`,
      section: 'issues',
      status: state.status,
      scripts: ['reorder.js', 'takeaways.js'],
    },
  );
}

async function showComposerPage(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  await showComposer(ctx, req, res, await issueBySlug(ctx, req));
}

async function saveIssueDetails(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const issue = await issueBySlug(ctx, req);
  assertEditable(issue);
  const values = { ...issueFormFromBody(req.body), slug: issue.slug };
  const { details, errors } = validateIssueForm(values, { needSlug: false });
  const cut = formCutMessage(req);
  if (cut) errors.note = cut;
  if (Object.keys(errors).length > 0)
    return showComposer(ctx, req, res, issue, { detailErrors: errors, detailValues: values, status: 400 });
  await updateIssueDetails(ctx.services.db, issue.id, details);
  ctx.services.renderer.invalidate(issue.slug);
  redirectSeeOther(res, `/admin/issues/${issue.slug}?notice=saved`);
}

async function addArticlesToIssue(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const issue = await issueBySlug(ctx, req);
  assertEditable(issue);
  const ids = fieldList(req.body, 'add')
    .filter((v) => /^\d+$/.test(v))
    .map(Number);
  if (ids.length === 0) throw new HttpError(400, 'Tick at least one article to add.');
  const { db } = ctx.services;
  const composition = await loadComposition(db, issue.id);
  await saveComposition(db, issue.id, addArticles(composition, await articleSections(db, ids)));
  ctx.services.renderer.invalidate(issue.slug);
  redirectSeeOther(res, `/admin/issues/${issue.slug}?notice=saved#arrangement`);
}

/** A change of the arrangement form, and the anchor to return to. */
function arranged(
  composition: Composition,
  action: string,
  id: number,
): { composition: Composition; anchor: string } | undefined {
  switch (action) {
    case 'up':
    case 'down':
      return { composition: moveArticle(composition, id, action), anchor: `article-${id}` };
    case 'remove':
      return { composition: removeArticle(composition, id), anchor: 'arrangement' };
    case 'section-up':
      return { composition: moveSection(composition, id, 'up'), anchor: `section-${id}` };
    case 'section-down':
      return { composition: moveSection(composition, id, 'down'), anchor: `section-${id}` };
    default:
      return undefined;
  }
}

/** One form for the whole arrangement (no JavaScript needed): the pressed button says what to do. */
async function arrangeIssue(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const issue = await issueBySlug(ctx, req);
  assertEditable(issue);
  const op = /^(up|down|remove|section-up|section-down|takeaway):(\d+)$/.exec(field(req.body, 'op'));
  if (!op) throw new HttpError(400, 'Unknown change; reload the page and try again.');
  const [, action = '', idText = ''] = op;
  const id = Number(idText);
  const composition = await loadComposition(ctx.services.db, issue.id);
  if (action === 'takeaway') return saveTakeaway(ctx, req, res, issue, composition, id);
  const change = arranged(composition, action, id);
  if (!change) throw new HttpError(400, 'Unknown change; reload the page and try again.');
  if (issue.status === 'scheduled' && change.composition.articles.length === 0) {
    throw new HttpError(
      409,
      'This is the only article of a scheduled issue: unschedule the issue first, or add another article.',
    );
  }
  await saveComposition(ctx.services.db, issue.id, change.composition);
  ctx.services.renderer.invalidate(issue.slug);
  redirectSeeOther(res, `/admin/issues/${issue.slug}#${change.anchor}`);
}

async function saveTakeaway(
  ctx: AdminContext,
  req: Request,
  res: Response,
  issue: IssueRow,
  composition: Composition,
  articleId: number,
): Promise<void> {
  if (!composition.articles.some((a) => a.id === articleId)) throw notFound('This article in the issue');
  const text = field(req.body, `takeaway_${articleId}`).replace(/\r\n?/g, '\n').trim();
  const touched = await updateArticleTakeaway(
    ctx.services.db,
    articleId,
    text === '' ? null : text.slice(0, MAX_TAKEAWAY),
  );
  for (const slug of touched) ctx.services.renderer.invalidate(slug);
  redirectSeeOther(res, `/admin/issues/${issue.slug}?notice=saved#article-${articleId}`);
}

/** Drag and drop sends the new order of every article (JSON from reorder.js, or a form field). */
async function reorderIssue(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const issue = await issueBySlug(ctx, req);
  assertEditable(issue);
  const { db } = ctx.services;
  const body: unknown = req.body;
  const raw = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).order : undefined;
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : [];
  const order = list.map((v) => Number(v)).filter((n) => Number.isInteger(n) && n > 0);
  await saveComposition(db, issue.id, reorderArticles(await loadComposition(db, issue.id), order));
  ctx.services.renderer.invalidate(issue.slug);
  if (req.is('application/json')) {
    const saved = await loadComposition(db, issue.id);
    res.json({ order: saved.articles.map((a) => a.id) });
    return;
  }
  redirectSeeOther(res, `/admin/issues/${issue.slug}?notice=saved#arrangement`);
}

export function createComposerRouter(ctx: AdminContext): Router {
  const router = Router();
  router.get('/issues', handle(ctx, listIssuesPage));
  router.get(
    '/issues/new',
    handle(ctx, (c, req, res) => showNewIssueForm(c, req, res)),
  );
  router.post('/issues', handle(ctx, createIssue));
  router.get('/issues/:slug', handle(ctx, showComposerPage));
  router.post('/issues/:slug/details', handle(ctx, saveIssueDetails));
  router.post('/issues/:slug/add', handle(ctx, addArticlesToIssue));
  router.post('/issues/:slug/arrange', handle(ctx, arrangeIssue));
  router.post('/issues/:slug/order', handle(ctx, reorderIssue));
  return router;
}
