import { Router, type Request, type Response } from 'express';
import {
  buildEdition,
  editionKey,
  FULL_EDITION_KEY,
  topicSlugsFromKey,
  UnknownTopicError,
} from '../../src/content/editions.js';
import { listTopics, loadIssueDocument } from '../../src/content/content-repository.js';
import type { Topic } from '../../src/content/types.js';
import type { AdminContext } from '../context.js';
import { field, fieldList, HttpError } from '../context.js';
import { renderAdminPage } from '../page.js';
import { formatCount } from '../format.js';
import { describeFit, type EditionFit } from '../../src/render/edition-fit.js';
import { issueBySlug } from './issue-lookup.js';
import { issueAudience } from './audience.js';

/**
 * Email HTML is shown in same-origin iframes. MJML output needs inline styles, which the app's
 * CSP forbids, so these responses carry their own policy: inline styles and images, no script at
 * all, sandboxed even when opened directly. The sandbox keeps the same origin only so the frame
 * may load our own /media images (Cross-Origin-Resource-Policy: same-origin); with no script
 * allowed, that origin gives the message nothing to act with.
 */
export const EMAIL_FRAME_CSP = [
  "default-src 'none'",
  "img-src 'self' https: http: data:",
  "style-src 'unsafe-inline'",
  'font-src https: data:',
  "frame-ancestors 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  'sandbox allow-same-origin allow-popups allow-popups-to-escape-sandbox',
].join('; ');

/** Topics from `?topics=a,b` (or checkbox `topic` fields); unknown slugs are a 400 naming the valid ones. */
export function requestedTopics(req: Request, known: Topic[]): string[] | null {
  const list = [...field(req.query, 'topics').split(','), ...fieldList(req.query, 'topic')]
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const key = editionKey(list);
  const slugs = topicSlugsFromKey(key);
  const unknown = (slugs ?? []).filter((s) => !known.some((t) => t.slug === s));
  if (unknown.length)
    throw new HttpError(
      400,
      new UnknownTopicError(
        unknown,
        known.map((t) => t.slug),
      ).message,
    );
  return slugs;
}

/** An edition's size against EMAIL_HTML_BUDGET, as the preview and the edition matrix show it. */
function fitView(fit: EditionFit) {
  const kib = (bytes: number) => (bytes / 1024).toFixed(1);
  return {
    ...fit,
    sizeText: `${kib(fit.bytes)} of ${kib(fit.budget)} KiB`,
    percent: Math.min(100, Math.round((fit.bytes / fit.budget) * 100)),
    summary: describeFit(fit),
    teaserNumbers: fit.teasers.map((t) => t.number).join(', '),
  };
}

function topicsQuery(slugs: string[] | null): string {
  return slugs ? `?topics=${slugs.map(encodeURIComponent).join(',')}` : '';
}

export function createPreviewRouter(ctx: AdminContext): Router {
  const router = Router();
  const { services } = ctx;

  router.get('/issues/:slug/preview', async (req: Request, res: Response) => {
    const issue = await issueBySlug(ctx, req);
    const topics = await listTopics(services.db);
    const slugs = requestedTopics(req, topics);
    const edition = await services.renderer.edition(issue.slug, slugs);
    const text = edition.empty ? '' : edition.fill(services.renderer.previewFields(issue.slug, slugs)).text;
    const doc = await loadIssueDocument(services.db, issue.slug);
    const inIssue = new Set(doc.articles.flatMap((a) => a.topics.map((t) => t.id)));
    const q = topicsQuery(slugs);
    await renderAdminPage(
      ctx,
      req,
      res,
      'issues/preview',
      {
        issue,
        editionLabel: slugs
          ? topics
              .filter((t) => slugs.includes(t.slug))
              .map((t) => t.name)
              .join(', ')
          : 'Whole issue (readers with no topic chosen)',
        isWhole: slugs === null,
        topicChoices: topics.map((t) => ({
          slug: t.slug,
          name: t.name,
          checked: slugs?.includes(t.slug) ?? false,
          inIssue: inIssue.has(t.id),
        })),
        edition: {
          empty: edition.empty,
          articleCount: edition.articleCount,
          subject: edition.subject,
          key: edition.key,
          fit: fitView(edition.fit),
        },
        emailUrl: `/admin/issues/${issue.slug}/preview/email${q}`,
        webUrl: `/admin/issues/${issue.slug}/preview/web${q}`,
        text,
      },
      { title: `Preview: ${issue.title} ${issue.period}`, section: 'issues' },
    );
  });

  router.get('/issues/:slug/preview/email', async (req, res) => {
    const issue = await issueBySlug(ctx, req);
    const slugs = requestedTopics(req, await listTopics(services.db));
    const edition = await services.renderer.edition(issue.slug, slugs);
    res.setHeader('Content-Security-Policy', EMAIL_FRAME_CSP);
    if (edition.empty) {
      res
        .type('html')
        .send(
          '<!doctype html><meta charset="utf-8"><title>Empty edition</title><p>This edition holds no article; it is not sent.</p>',
        );
      return;
    }
    res.type('html').send(edition.fill(services.renderer.previewFields(issue.slug, slugs)).html);
  });

  router.get('/issues/:slug/preview/text', async (req, res) => {
    const issue = await issueBySlug(ctx, req);
    const slugs = requestedTopics(req, await listTopics(services.db));
    const edition = await services.renderer.edition(issue.slug, slugs);
    res
      .type('text/plain; charset=utf-8')
      .send(edition.empty ? '' : edition.fill(services.renderer.previewFields(issue.slug, slugs)).text);
  });

  router.get('/issues/:slug/preview/web', async (req, res) => {
    const issue = await issueBySlug(ctx, req);
    const slugs = requestedTopics(req, await listTopics(services.db));
    res.type('html').send(await services.renderer.renderWeb(issue.slug, slugs));
  });

  /** Each distinct topic combination among active subscribers: who gets what. */
  router.get('/issues/:slug/editions', async (req, res) => {
    const issue = await issueBySlug(ctx, req);
    const topics = await listTopics(services.db);
    const doc = await loadIssueDocument(services.db, issue.slug);
    const audience = await issueAudience(services.db, doc);
    const name = new Map(topics.map((t) => [t.slug, t.name]));
    const rows = [];
    for (const r of audience.rows) {
      const label = r.topicSlugs
        ? r.topicSlugs.map((s) => name.get(s) ?? s).join(', ')
        : 'No topic chosen: the whole issue';
      // Compiled (and fitted) as the send will: its size against the budget and its teasers.
      const compiled = r.empty ? null : await services.renderer.edition(issue.slug, r.topicSlugs);
      rows.push({
        key: r.key,
        label,
        audience: r.subscribers,
        audienceText: formatCount(r.subscribers),
        articleCount: r.articleCount,
        empty: r.empty,
        fit: compiled ? fitView(compiled.fit) : null,
        previewUrl: `/admin/issues/${issue.slug}/preview${topicsQuery(r.topicSlugs)}`,
      });
    }
    rows.sort((a, b) => b.audience - a.audience || a.label.localeCompare(b.label));
    await renderAdminPage(
      ctx,
      req,
      res,
      'issues/editions',
      {
        issue,
        rows,
        editionCount: rows.length,
        total: formatCount(audience.subscribers),
        receiving: formatCount(audience.receiving),
        emptyAudience: formatCount(audience.skipped),
        emptyCount: rows.filter((r) => r.empty).length,
        wholeUrl: `/admin/issues/${issue.slug}/preview`,
        wholeCount: buildEdition(doc, null).articles.length,
        fullKey: FULL_EDITION_KEY,
      },
      { title: `Editions: ${issue.title} ${issue.period}`, section: 'issues' },
    );
  });

  return router;
}
