import { Router, type Request, type Response } from 'express';
import { listTopics, loadArticles } from '../../src/content/content-repository.js';
import type { Topic } from '../../src/content/types.js';
import { inlineMarkdownToSafeHtml, markdownToSafeHtml } from '../../src/render/markdown.js';
import type { AdminContext } from '../context.js';
import { adminState, field, HttpError, intParam, notFound, redirectSeeOther } from '../context.js';
import { renderAdminPage } from '../page.js';
import { formatTime } from '../format.js';
import {
  articleIsUsed,
  deleteArticle,
  findOrCreateTopic,
  insertArticle,
  listAllTags,
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

const MAX_PREVIEW_CHARS = 200_000;

function uploadedImage(req: Request): Express.Multer.File | undefined {
  const files = Array.isArray(req.files) ? req.files : [];
  return files.find((f) => f.fieldname === 'image' && f.originalname !== '');
}

export function createArticleRouter(ctx: AdminContext): Router {
  const router = Router();
  const { services } = ctx;

  router.get('/articles', async (req, res) => {
    const topics = await listTopics(services.db);
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
    const articles = await listLibrary(services.db, filter);
    const topicName = new Map(topics.map((t) => [t.id, t.name]));
    await renderAdminPage(
      ctx,
      req,
      res,
      'articles/list',
      {
        filter: { q, topic: topicParam, tag, used: filter.used ?? '' },
        topics: topics.map((t) => ({ id: t.id, name: t.name, selected: String(t.id) === topicParam })),
        tags: (await listAllTags(services.db)).map((t) => ({
          name: t,
          selected: t.toLowerCase() === tag.toLowerCase(),
        })),
        usedOptions: [
          { value: '', label: 'Any', selected: !filter.used },
          { value: 'no', label: 'Not in any issue', selected: filter.used === 'no' },
          { value: 'yes', label: 'In an issue', selected: filter.used === 'yes' },
        ],
        filtered: Boolean(filter.q || filter.topicId || filter.tag || filter.used),
        articles: articles.map((a) => ({
          ...a,
          extraTopics: a.topicIds.slice(1).map((id) => topicName.get(id) ?? ''),
          updated: formatTime(a.updatedAt, services.config.scheduleTz),
        })),
      },
      { title: 'Articles', section: 'articles' },
    );
  });

  const showForm = async (
    req: Request,
    res: Response,
    options: {
      articleId?: number;
      values: ArticleFormValues;
      errors?: ArticleFormErrors;
      status?: number;
      usedIn?: string[];
    },
  ) => {
    const topics = await listTopics(services.db);
    const errors = options.errors ?? {};
    const v = options.values;
    await renderAdminPage(
      ctx,
      req,
      res,
      'articles/form',
      {
        articleId: options.articleId,
        action: options.articleId ? `/admin/articles/${options.articleId}` : '/admin/articles',
        values: v,
        errors,
        hasErrors: Object.keys(errors).length > 0,
        usedIn: options.usedIn ?? [],
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
        title: options.articleId ? `Edit: ${v.title || 'article'}` : 'New article',
        section: 'articles',
        status: options.status,
        scripts: ['markdown-preview.js'],
      },
    );
  };

  router.get('/articles/new', async (req, res) => {
    const values = emptyArticleForm();
    values.sectionTopicId = field(req.query, 'section');
    await showForm(req, res, { values });
  });

  /** Live preview: the same sanitising renderer as the email and web versions. */
  router.post('/articles/preview', (req, res) => {
    const markdown = field(req.body, 'markdown');
    if (markdown.length > MAX_PREVIEW_CHARS) throw new HttpError(413, 'The text is too long to preview.');
    const takeaway = field(req.body, 'takeaway');
    res.json({
      html: markdownToSafeHtml(markdown),
      takeawayHtml: takeaway.trim() ? inlineMarkdownToSafeHtml(takeaway) : '',
    });
  });

  const submit = async (req: Request, res: Response, articleId?: number) => {
    const values = formFromBody(req.body);
    const intent = field(req.body, 'intent') || 'save';
    const errors: ArticleFormErrors = {};
    const uploadError = adminState(req).uploadError;
    if (uploadError) errors.image = uploadError;

    const file = uploadedImage(req);
    if (file && !uploadError) {
      const alt = values.imageAlt.trim();
      if (alt === '') {
        errors.imageAlt =
          'Describe the image for readers who cannot see it (alt text is required), then choose the file again.';
      } else {
        try {
          const image = await storeImage(services, file, alt);
          values.body = `${values.body.replace(/\s+$/, '')}${values.body.trim() ? '\n\n' : ''}${imageMarkdown(image.url, image.alt)}\n`;
          values.imageAlt = '';
        } catch (error) {
          if (!(error instanceof MediaRejected)) throw error;
          errors.image = error.message;
        }
      }
    } else if (intent === 'upload' && !uploadError) {
      errors.image = 'Choose an image file to upload.';
    }

    const usedIn = articleId ? await loadUsage(articleId) : [];
    if (intent !== 'save') {
      return showForm(req, res, { articleId, values, errors, status: Object.keys(errors).length ? 400 : 200, usedIn });
    }
    const topics = await listTopics(services.db);
    const checked = validateArticleForm(values, topics);
    Object.assign(errors, checked.errors);
    if (Object.keys(errors).length > 0) return showForm(req, res, { articleId, values, errors, status: 400, usedIn });

    const sectionTopicId = checked.input.sectionTopicId ?? (await findOrCreateTopic(services.db, values.newSection));
    const input = { ...checked.input, sectionTopicId };
    if (articleId === undefined) {
      const { id } = await insertArticle(services.db, input);
      return redirectSeeOther(res, `/admin/articles/${id}?notice=created`);
    }
    const touched = await updateArticle(services.db, articleId, input);
    for (const slug of touched) services.renderer.invalidate(slug);
    redirectSeeOther(res, `/admin/articles/${articleId}?notice=saved`);
  };

  const loadUsage = async (articleId: number): Promise<string[]> =>
    (await listLibrary(services.db, {})).find((a) => a.id === articleId)?.issues.map((i) => i.slug) ?? [];

  router.post('/articles', (req, res) => submit(req, res));

  router.get('/articles/:id', async (req, res) => {
    const id = intParam(req, 'id');
    const [article] = await loadArticles(services.db, [id]);
    if (!article) throw notFound('This article');
    await showForm(req, res, { articleId: id, values: formFromArticle(article), usedIn: await loadUsage(id) });
  });

  router.post('/articles/:id', async (req, res) => {
    const id = intParam(req, 'id');
    const [article] = await loadArticles(services.db, [id]);
    if (!article) throw notFound('This article');
    await submit(req, res, id);
  });

  router.post('/articles/:id/delete', async (req, res) => {
    const id = intParam(req, 'id');
    if (await articleIsUsed(services.db, id)) {
      throw new HttpError(409, 'This article is part of an issue; remove it from the issue before deleting it.');
    }
    await deleteArticle(services.db, id);
    redirectSeeOther(res, '/admin/articles?notice=removed');
  });

  return router;
}
