import { Router, type Request, type Response } from 'express';
import { listTopics, loadArticles, recordsHolding } from '../../src/content/content-repository.js';
import type { Topic } from '../../src/content/types.js';
import { inlineMarkdownToSafeHtml, markdownToSafeHtml } from '../../src/render/markdown.js';
import {
  adminState,
  type AdminContext,
  field,
  handle,
  HttpError,
  intParam,
  notFound,
  redirectSeeOther,
} from '../context.js';
import { renderAdminPage } from '../page.js';
import { formatTime } from '../format.js';
import {
  articleIsUsed,
  deleteArticle,
  findOrCreateTopic,
  insertArticle,
  listAllTags,
  issuesHoldingArticle,
  listLibrary,
  updateArticle,
  type ArticleListFilter,
} from '../library-repository.js';
import {
  emptyArticleForm,
  formFromArticle,
  formFromBody,
  validateArticleForm,
  type ArticleFormErrors,
  type ArticleFormValues,
} from './article-form.js';
import { imageMarkdown, MediaRejected, storeImage } from './media.js';

// The article library: list with filters, the Markdown editor (live preview, image upload),
// save and delete.

const MAX_PREVIEW_CHARS = 200_000;

function uploadedImage(req: Request): Express.Multer.File | undefined {
  const files = Array.isArray(req.files) ? req.files : [];
  return files.find((f) => f.fieldname === 'image' && f.originalname !== '');
}

async function listArticlesPage(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const { db } = ctx.services;
  const topics = await listTopics(db);
  const q = field(req.query, 'q').trim();
  const topicParam = field(req.query, 'topic');
  const tag = field(req.query, 'tag').trim();
  const usedParam = field(req.query, 'used');
  const filter: ArticleListFilter = {
    q: q || undefined,
    topicId: topics.find((t) => String(t.id) === topicParam)?.id,
    tag: tag || undefined,
    used: usedParam === 'yes' || usedParam === 'no' ? usedParam : undefined,
  };
  const articles = await listLibrary(db, filter);
  const topicName = new Map(topics.map((t) => [t.id, t.name]));
  await renderAdminPage(
    ctx,
    req,
    res,
    'articles/list',
    {
      filter: { q, topic: topicParam, tag, used: filter.used ?? '' },
      topics: topics.map((t) => ({ id: t.id, name: t.name, selected: String(t.id) === topicParam })),
      tags: (await listAllTags(db)).map((t) => ({ name: t, selected: t.toLowerCase() === tag.toLowerCase() })),
      usedOptions: [
        { value: '', label: 'Any', selected: !filter.used },
        { value: 'no', label: 'Not in any issue', selected: filter.used === 'no' },
        { value: 'yes', label: 'In an issue', selected: filter.used === 'yes' },
      ],
      filtered: Boolean(filter.q || filter.topicId || filter.tag || filter.used),
      articles: articles.map((a) => ({
        ...a,
        extraTopics: a.topicIds.slice(1).map((id) => topicName.get(id) ?? ''),
        updated: formatTime(a.updatedAt, ctx.services.config.scheduleTz),
      })),
    },
    { title: 'Articles', section: 'articles' },
  );
}

interface ArticleFormState {
  articleId?: number;
  values: ArticleFormValues;
  errors?: ArticleFormErrors;
  status?: number;
  usage?: ArticleUsage;
}

/** Where an article is printed: drafts follow its edits, sent issues keep the text they were sent with. */
interface ArticleUsage {
  drafts: string[];
  records: { slug: string; title: string; period: string; sentAt: string; correctable: boolean }[];
}

async function showArticleForm(ctx: AdminContext, req: Request, res: Response, state: ArticleFormState) {
  const topics = await listTopics(ctx.services.db);
  const errors = state.errors ?? {};
  const v = state.values;
  await renderAdminPage(
    ctx,
    req,
    res,
    'articles/form',
    {
      articleId: state.articleId,
      action: state.articleId ? `/admin/articles/${state.articleId}` : '/admin/articles',
      values: v,
      errors,
      hasErrors: Object.keys(errors).length > 0,
      usedIn: state.usage?.drafts ?? [],
      records: state.usage?.records ?? [],
      inUse: Boolean(state.usage && (state.usage.drafts.length || state.usage.records.length)),
      sectionOptions: topics.map((t: Topic) => ({
        id: t.id,
        name: t.name,
        selected: String(t.id) === v.sectionTopicId,
      })),
      topicOptions: topics.map((t: Topic) => ({
        id: t.id,
        name: t.name,
        checked: v.extraTopicIds.includes(String(t.id)),
      })),
      previewHtml: markdownToSafeHtml(v.body.slice(0, MAX_PREVIEW_CHARS)),
      takeawayHtml: v.takeaway.trim() ? inlineMarkdownToSafeHtml(v.takeaway) : '',
    },
    {
      title: state.articleId ? `Edit: ${v.title || 'article'}` : 'New article',
      section: 'articles',
      status: state.status,
      scripts: ['markdown-preview.js'],
    },
  );
}

async function showNewArticleForm(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const values = emptyArticleForm();
  values.sectionTopicId = field(req.query, 'section');
  await showArticleForm(ctx, req, res, { values });
}

/** Live preview: the same sanitising renderer as the email and web versions. */
async function previewArticle(_ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const markdown = field(req.body, 'markdown');
  if (markdown.length > MAX_PREVIEW_CHARS) throw new HttpError(413, 'The text is too long to preview.');
  const takeaway = field(req.body, 'takeaway');
  res.json({
    html: markdownToSafeHtml(markdown),
    takeawayHtml: takeaway.trim() ? inlineMarkdownToSafeHtml(takeaway) : '',
  });
  return Promise.resolve();
}

async function articleUsage(ctx: AdminContext, articleId: number): Promise<ArticleUsage> {
  const { db, config } = ctx.services;
  const records = await recordsHolding(db, [articleId]);
  const holding = await issuesHoldingArticle(db, articleId);
  return {
    drafts: holding.map((i) => i.slug).filter((slug) => !records.some((r) => r.slug === slug)),
    records: records.map((r) => ({
      slug: r.slug,
      title: r.title,
      period: r.period,
      sentAt: formatTime(r.sentAt, config.scheduleTz),
      correctable: r.sentAt !== null,
    })),
  };
}

/**
 * Stores an uploaded image and appends it to the body, or says what is wrong beside the file
 * field. Returns the errors (empty when there was nothing to upload or it went well).
 */
async function attachUploadedImage(
  ctx: AdminContext,
  req: Request,
  values: ArticleFormValues,
  intent: string,
): Promise<ArticleFormErrors> {
  const uploadError = adminState(req).uploadError;
  if (uploadError) return { image: uploadError };
  const file = uploadedImage(req);
  if (!file) return intent === 'upload' ? { image: 'Choose an image file to upload.' } : {};
  const alt = values.imageAlt.trim();
  if (alt === '') {
    return {
      imageAlt: 'Describe the image for readers who cannot see it (alt text is required), then choose the file again.',
    };
  }
  try {
    const image = await storeImage(ctx.services, file, alt);
    values.body = `${values.body.replace(/\s+$/, '')}${values.body.trim() ? '\n\n' : ''}${imageMarkdown(image.url, image.alt)}\n`;
    values.imageAlt = '';
    return {};
  } catch (error) {
    if (!(error instanceof MediaRejected)) throw error;
    return { image: error.message };
  }
}

/** Saves the form (new article when `articleId` is absent), or shows it again with every error beside its field. */
async function submitArticle(ctx: AdminContext, req: Request, res: Response, articleId?: number): Promise<void> {
  const { db } = ctx.services;
  const values = formFromBody(req.body);
  const intent = field(req.body, 'intent') || 'save';
  const errors = await attachUploadedImage(ctx, req, values, intent);
  const usage = articleId ? await articleUsage(ctx, articleId) : undefined;
  if (intent !== 'save') {
    const status = Object.keys(errors).length ? 400 : 200;
    return showArticleForm(ctx, req, res, { articleId, values, errors, status, usage });
  }
  const checked = validateArticleForm(values, await listTopics(db));
  Object.assign(errors, checked.errors);
  if (Object.keys(errors).length > 0)
    return showArticleForm(ctx, req, res, { articleId, values, errors, status: 400, usage });

  const sectionTopicId = checked.input.sectionTopicId ?? (await findOrCreateTopic(db, values.newSection));
  const input = { ...checked.input, sectionTopicId };
  if (articleId === undefined) {
    const { id } = await insertArticle(db, input);
    return redirectSeeOther(res, `/admin/articles/${id}?notice=created`);
  }
  const touched = await updateArticle(db, articleId, input);
  for (const slug of touched) ctx.services.renderer.invalidate(slug);
  const notice = usage?.records.length ? 'saved-drafts-only' : 'saved';
  redirectSeeOther(res, `/admin/articles/${articleId}?notice=${notice}`);
}

async function createArticle(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  await submitArticle(ctx, req, res);
}

async function showArticle(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const id = intParam(req, 'id');
  const [article] = await loadArticles(ctx.services.db, [id]);
  if (!article) throw notFound('This article');
  await showArticleForm(ctx, req, res, {
    articleId: id,
    values: formFromArticle(article),
    usage: await articleUsage(ctx, id),
  });
}

async function saveArticle(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const id = intParam(req, 'id');
  const [article] = await loadArticles(ctx.services.db, [id]);
  if (!article) throw notFound('This article');
  await submitArticle(ctx, req, res, id);
}

async function removeArticleFromLibrary(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const id = intParam(req, 'id');
  if (await articleIsUsed(ctx.services.db, id)) {
    throw new HttpError(409, 'This article is part of an issue; remove it from the issue before deleting it.');
  }
  await deleteArticle(ctx.services.db, id);
  redirectSeeOther(res, '/admin/articles?notice=removed');
}

export function createArticleRouter(ctx: AdminContext): Router {
  const router = Router();
  router.get('/articles', handle(ctx, listArticlesPage));
  router.get('/articles/new', handle(ctx, showNewArticleForm));
  router.post('/articles/preview', handle(ctx, previewArticle));
  router.post('/articles', handle(ctx, createArticle));
  router.get('/articles/:id', handle(ctx, showArticle));
  router.post('/articles/:id', handle(ctx, saveArticle));
  router.post('/articles/:id/delete', handle(ctx, removeArticleFromLibrary));
  return router;
}
