import { Router, type Request, type Response } from 'express';
import { Feed } from 'feed';
import Handlebars from 'handlebars';
import type { Services } from '../app/services.js';
import { parseTopicList } from '../command/context.js';
import {
  getIssueRow,
  getPublication,
  listPublicIssues,
  loadIssueDocument,
  UnknownIssueError,
} from '../content/content-repository.js';
import { editionKey, UnknownTopicError } from '../content/editions.js';
import { stripXmlInvalid } from '../content/xml-chars.js';
import type { IssueRow } from '../db/schema.js';
import { EncodedPages, type EncodedPage } from './encoded-pages.js';

// The public archive: web versions of sent issues, the list of them and an Atom feed.
// Drafts, scheduled, sending, paused and cancelled issues are not public: they answer 404.
// The web version comes from the renderer's cache (rendered once per issue version and edition;
// the renderer notices an edited issue by its updated_at, and `invalidate` clears it).

const FEED_ENTRIES = 50;

function sendPage(req: Request, res: Response, page: EncodedPage): void {
  res.set('Cache-Control', 'public, max-age=60');
  res.set('ETag', page.etag);
  res.vary('Accept-Encoding');
  res.type('html');
  if (req.fresh) {
    res.status(304).end();
    return;
  }
  if (req.acceptsEncodings('gzip', 'identity') === 'gzip') {
    res.set('Content-Encoding', 'gzip');
    res.set('Content-Length', String(page.gzip.length));
    res.end(page.gzip);
  } else {
    res.set('Content-Length', String(page.body.length));
    res.end(page.body);
  }
}

/** Plain text as HTML, without the characters XML cannot carry. */
function htmlText(text: string): string {
  return Handlebars.escapeExpression(stripXmlInvalid(text));
}

function publishedAt(issue: IssueRow): string {
  return issue.sent_at ?? issue.updated_at;
}

function issueHeading(issue: Pick<IssueRow, 'edition' | 'period' | 'title'>): string {
  return [issue.edition, issue.period].filter((s) => s !== '').join(' · ') || issue.title;
}

const DATE_FORMAT = new Intl.DateTimeFormat('en-GB', {
  day: 'numeric',
  month: 'long',
  year: 'numeric',
  timeZone: 'UTC',
});

export function createIssuesRouter(services: Services): Router {
  const router = Router();
  const { db, views, renderer, config } = services;
  const encoded = new EncodedPages();

  const notFound = async (res: Response, message: string) => {
    res
      .status(404)
      .type('html')
      .send(
        views.render('message', {
          title: 'Not found',
          heading: 'Issue not found',
          message,
          link: { href: '/issues', label: 'All issues' },
          publication: await getPublication(db),
        }),
      );
  };

  /** A withdrawn issue is gone on purpose: 410, with the editors' note when they left one. */
  const withdrawn = async (res: Response, issue: IssueRow) => {
    res
      .status(410)
      .type('html')
      .send(
        views.render('message', {
          title: 'Issue withdrawn',
          heading: 'This issue was withdrawn',
          message: `${issueHeading(issue)} was taken out of the archive on ${DATE_FORMAT.format(new Date(issue.withdrawn_at ?? ''))}.${issue.withdrawal_note ? ` ${issue.withdrawal_note}` : ''}`,
          link: { href: '/issues', label: 'All issues' },
          publication: await getPublication(db),
        }),
      );
  };

  router.get('/issues', async (_req, res) => {
    const publication = await getPublication(db);
    const issues = (await listPublicIssues(db)).map((issue) => ({
      href: `/issues/${encodeURIComponent(issue.slug)}`,
      title: issue.title,
      showTitle: issue.title !== publication.name && issue.title !== '',
      edition: issue.edition,
      period: issue.period,
      sentAt: publishedAt(issue),
      sentDate: DATE_FORMAT.format(new Date(publishedAt(issue))),
    }));
    res.set('Cache-Control', 'public, max-age=60');
    res.type('html').send(views.render('issues', { title: 'Archive', publication, issues }));
  });

  router.get('/issues/:slug', async (req, res) => {
    const issue = await getIssueRow(db, req.params.slug);
    // Readable from the moment its first email may have gone out: the email's Index, Takeaways and
    // teasers link here, while the rest of the list is still being sent (or after a pause or cancel).
    const started = issue?.started_at != null && ['sending', 'paused', 'cancelled'].includes(issue.status);
    if (!issue || (issue.status !== 'sent' && !started)) {
      return notFound(res, 'There is no published issue at this address.');
    }
    if (issue.withdrawn_at !== null) return withdrawn(res, issue);
    const topics = parseTopicList(typeof req.query.topics === 'string' ? req.query.topics : undefined);
    try {
      const html = await renderer.renderWeb(issue.slug, topics);
      sendPage(req, res, encoded.get(`${issue.slug}?${editionKey(topics)}`, html));
    } catch (error) {
      if (error instanceof UnknownTopicError) {
        return notFound(
          res,
          `This issue has no edition for ${error.unknown.join(', ')}. Topics: ${error.known.join(', ')}.`,
        );
      }
      if (error instanceof UnknownIssueError) return notFound(res, 'There is no published issue at this address.');
      throw error;
    }
  });

  router.get('/feed.xml', async (_req, res) => {
    const publication = await getPublication(db);
    const issues = (await listPublicIssues(db)).slice(0, FEED_ENTRIES);
    const base = config.baseUrl;
    const updated = issues.map(publishedAt).sort().at(-1) ?? new Date(0).toISOString();
    const feed = new Feed({
      id: `${base}/issues`,
      title: stripXmlInvalid(publication.name),
      link: `${base}/issues`,
      feedLinks: { atom: `${base}/feed.xml` },
      updated: new Date(updated),
      author: { name: stripXmlInvalid(publication.publisher || publication.name) },
      generator: false,
    });
    for (const issue of issues) {
      const url = `${base}/issues/${encodeURIComponent(issue.slug)}`;
      // Straight from the database: 50 issues through the renderer would render every article of each.
      const doc = await loadIssueDocument(db, issue.slug);
      // Entry titles and summaries are HTML in feed's Atom (type="html" in CDATA): escaped text,
      // which also keeps "]]>" out of the CDATA.
      const summary = doc.articles.map((a) => htmlText(`${a.section.name}: ${a.title}`)).join('<br>');
      feed.addItem({
        id: url,
        link: url,
        title: htmlText(issueHeading(issue)),
        date: new Date(publishedAt(issue)),
        published: new Date(publishedAt(issue)),
        description: summary,
      });
    }
    res.set('Cache-Control', 'public, max-age=300');
    res.type('application/atom+xml; charset=utf-8').send(feed.atom1());
  });

  return router;
}
