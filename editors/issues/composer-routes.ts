import { Router, type Request, type Response } from 'express';
import { buildEdition } from '../../src/content/editions.js';
import { getIssueRow, listIssues, listTopics, loadIssueDocument } from '../../src/content/content-repository.js';
import type { IssueRow } from '../../src/db/schema.js';
import { inlineMarkdownToSafeHtml, markdownToSafeHtml } from '../../src/render/markdown.js';
import type { AdminContext } from '../context.js';
import { field, fieldList, HttpError, notFound, redirectSeeOther } from '../context.js';
import { renderAdminPage } from '../page.js';
import { formatTime } from '../format.js';
import { listLibrary, updateArticleTakeaway } from '../library-repository.js';
import {
  articleSections,
  EDITABLE_STATUSES,
  insertIssue,
  IssueSlugTakenError,
  loadComposition,
  saveComposition,
  updateIssueDetails,
} from '../issue-repository.js';
import { addArticles, moveArticle, moveSection, removeArticle, reorderArticles } from './composition.js';
import { issueFormFromBody, validateIssueForm, type IssueFormErrors, type IssueFormValues } from './issue-form.js';

export async function issueBySlug(ctx: AdminContext, req: Request): Promise<IssueRow> {
  const slug = req.params.slug;
  const issue = typeof slug === 'string' ? await getIssueRow(ctx.services.db, slug) : undefined;
  if (!issue) throw notFound('This issue');
  return issue;
}

function assertEditable(issue: IssueRow): void {
  if (!EDITABLE_STATUSES.includes(issue.status)) {
    throw new HttpError(409, `This issue is ${issue.status}; only draft and scheduled issues can be changed.`);
  }
}

export function createComposerRouter(ctx: AdminContext): Router {
  const router = Router();
  const { services } = ctx;
  const tz = services.config.scheduleTz;

  router.get('/issues', async (req, res) => {
    const issues = await listIssues(services.db);
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
  });

  const showNewForm = (
    req: Request,
    res: Response,
    values: IssueFormValues,
    errors: IssueFormErrors = {},
    status = 200,
  ) =>
    renderAdminPage(
      ctx,
      req,
      res,
      'issues/new',
      { values, errors, hasErrors: Object.keys(errors).length > 0 },
      { title: 'New issue', section: 'issues', status },
    );

  router.get('/issues/new', (req, res) =>
    showNewForm(req, res, { slug: '', title: '', edition: '', period: '', note: '' }),
  );

  router.post('/issues', async (req, res) => {
    const values = issueFormFromBody(req.body);
    const { details, slug, errors } = validateIssueForm(values, { needSlug: true });
    if (Object.keys(errors).length > 0) return showNewForm(req, res, values, errors, 400);
    try {
      await insertIssue(services.db, slug, details);
    } catch (error) {
      if (!(error instanceof IssueSlugTakenError)) throw error;
      return showNewForm(req, res, { ...values, slug }, { slug: `${error.message} Choose another address.` }, 400);
    }
    redirectSeeOther(res, `/admin/issues/${slug}?notice=created`);
  });

  const showComposer = async (
    req: Request,
    res: Response,
    issue: IssueRow,
    extra: { detailErrors?: IssueFormErrors; detailValues?: IssueFormValues; status?: number } = {},
  ) => {
    const doc = await loadIssueDocument(services.db, issue.slug);
    const edition = buildEdition(doc, null);
    const topics = await listTopics(services.db);
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
    const q = field(req.query, 'q').trim();
    const topicParam = field(req.query, 'topic');
    const inIssue = new Set(doc.articles.map((a) => a.id));
    const candidates = (
      await listLibrary(services.db, {
        q: q || undefined,
        topicId: topics.find((t) => String(t.id) === topicParam)?.id,
      })
    )
      .filter((a) => !inIssue.has(a.id))
      .slice(0, 200);
    await renderAdminPage(
      ctx,
      req,
      res,
      'issues/composer',
      {
        issue: { ...issue, sendAtText: formatTime(issue.send_at, tz) },
        editable: EDITABLE_STATUSES.includes(issue.status),
        details: extra.detailValues ?? {
          slug: issue.slug,
          title: issue.title,
          edition: issue.edition,
          period: issue.period,
          note: issue.editor_note_markdown,
        },
        detailErrors: extra.detailErrors ?? {},
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
        search: { q, topic: topicParam },
        topics: topics.map((t) => ({ id: t.id, name: t.name, selected: String(t.id) === topicParam })),
        candidates: candidates.map((c) => ({
          id: c.id,
          title: c.title,
          sectionName: c.sectionName,
          issues: c.issues.map((i) => i.slug).join(', '),
        })),
      },
      {
        title: `Compose: ${issue.title} ${issue.period}`,
        section: 'issues',
        status: extra.status,
        scripts: ['reorder.js'],
      },
    );
  };

  router.get('/issues/:slug', async (req, res) => showComposer(req, res, await issueBySlug(ctx, req)));

  const changed = (issue: IssueRow) => services.renderer.invalidate(issue.slug);

  router.post('/issues/:slug/details', async (req, res) => {
    const issue = await issueBySlug(ctx, req);
    assertEditable(issue);
    const values = { ...issueFormFromBody(req.body), slug: issue.slug };
    const { details, errors } = validateIssueForm(values, { needSlug: false });
    if (Object.keys(errors).length > 0)
      return showComposer(req, res, issue, { detailErrors: errors, detailValues: values, status: 400 });
    await updateIssueDetails(services.db, issue.id, details);
    changed(issue);
    redirectSeeOther(res, `/admin/issues/${issue.slug}?notice=saved`);
  });

  router.post('/issues/:slug/add', async (req, res) => {
    const issue = await issueBySlug(ctx, req);
    assertEditable(issue);
    const ids = fieldList(req.body, 'add')
      .filter((v) => /^\d+$/.test(v))
      .map(Number);
    if (ids.length === 0) throw new HttpError(400, 'Tick at least one article to add.');
    const composition = await loadComposition(services.db, issue.id);
    await saveComposition(services.db, issue.id, addArticles(composition, await articleSections(services.db, ids)));
    changed(issue);
    redirectSeeOther(res, `/admin/issues/${issue.slug}?notice=saved#arrangement`);
  });

  /** One form for the whole arrangement (no JavaScript needed): the pressed button says what to do. */
  router.post('/issues/:slug/arrange', async (req, res) => {
    const issue = await issueBySlug(ctx, req);
    assertEditable(issue);
    const op = /^(up|down|remove|section-up|section-down|takeaway):(\d+)$/.exec(field(req.body, 'op'));
    if (!op) throw new HttpError(400, 'Unknown change; reload the page and try again.');
    const [, action = '', idText = ''] = op;
    const id = Number(idText);
    let composition = await loadComposition(services.db, issue.id);
    let anchor = `article-${id}`;
    if (action === 'up' || action === 'down') composition = moveArticle(composition, id, action);
    else if (action === 'remove') {
      composition = removeArticle(composition, id);
      anchor = 'arrangement';
    } else if (action === 'section-up' || action === 'section-down') {
      composition = moveSection(composition, id, action === 'section-up' ? 'up' : 'down');
      anchor = `section-${id}`;
    } else if (action === 'takeaway') {
      if (!composition.articles.some((a) => a.id === id)) throw notFound('This article in the issue');
      const text = field(req.body, `takeaway_${id}`).trim();
      const touched = await updateArticleTakeaway(services.db, id, text === '' ? null : text.slice(0, 2000));
      for (const slug of touched) services.renderer.invalidate(slug);
      return redirectSeeOther(res, `/admin/issues/${issue.slug}?notice=saved#${anchor}`);
    }
    await saveComposition(services.db, issue.id, composition);
    changed(issue);
    redirectSeeOther(res, `/admin/issues/${issue.slug}#${anchor}`);
  });

  /** Drag and drop sends the new order of every article (JSON from reorder.js, or a form field). */
  router.post('/issues/:slug/order', async (req, res) => {
    const issue = await issueBySlug(ctx, req);
    assertEditable(issue);
    const body: unknown = req.body;
    const raw = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).order : undefined;
    const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : [];
    const order = list.map((v) => Number(v)).filter((n) => Number.isInteger(n) && n > 0);
    const composition = reorderArticles(await loadComposition(services.db, issue.id), order);
    await saveComposition(services.db, issue.id, composition);
    changed(issue);
    if (req.is('application/json')) {
      const saved = await loadComposition(services.db, issue.id);
      res.json({ order: saved.articles.map((a) => a.id) });
      return;
    }
    redirectSeeOther(res, `/admin/issues/${issue.slug}?notice=saved#arrangement`);
  });

  return router;
}
