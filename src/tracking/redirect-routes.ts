import { Router, type Request, type RequestHandler, type Response } from 'express';
import { LRUCache } from 'lru-cache';
import type { Db } from '../db/database.js';
import { getPublication } from '../content/content-repository.js';
import type { Views } from '../render/views.js';
import type { ClickRecorder } from './click-recorder.js';
import { trackingTokens, type TrackedKind } from './click-token.js';
import { machineReason } from './machine-clicks.js';
import { findTrackedLink, type TrackedLinkTarget } from './tracking-repository.js';

// GET /r/<token>: the tracked link of an email. A valid token is answered at once with a 302 to the
// address the email's author wrote; the click goes to the recorder (counted later, in a batch). A
// token whose signature fails, or that names no link, gets a page and never a redirect: the
// service cannot be used to send people to an address it did not write (no open redirect).
// GET /o/<token>: the open pixel (a 1×1 GIF), counted the same way.

export interface RedirectDeps {
  db: Db;
  views: Views;
  secretKey: string;
  scannerSeconds: number;
  recorder: ClickRecorder;
  /** The app's security headers (helmet), for the error page: the redirect itself skips them. */
  pageHeaders: RequestHandler;
}

/** The smallest transparent GIF (43 bytes). */
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
/**
 * Links are few and keep their address once their issue's send has started, so only those are
 * cached; a test copy's link is read each time (an edit before the send changes its address). The
 * time limit bounds how long a process keeps an address that a later registration (a test copy of a
 * corrected issue) changed. A miss costs one indexed read.
 */
const LINK_CACHE_ENTRIES = 20_000;
const LINK_CACHE_MS = 5 * 60_000;

export function createRedirectRouter(deps: RedirectDeps): Router {
  const tokens = trackingTokens(deps.secretKey);
  const links = new LRUCache<number, TrackedLinkTarget>({ max: LINK_CACHE_ENTRIES, ttl: LINK_CACHE_MS });

  const invalid = async (req: Request, res: Response, status: 400 | 404): Promise<void> => {
    await new Promise<void>((resolve, reject) =>
      deps.pageHeaders(req, res, (error?: unknown) =>
        error ? reject(error instanceof Error ? error : new Error('security headers failed')) : resolve(),
      ),
    );
    res
      .status(status)
      .set('Cache-Control', 'no-store')
      .set('X-Robots-Tag', 'noindex')
      .type('html')
      .send(
        deps.views.render('message', {
          title: 'Link not valid',
          heading: 'This link is not valid',
          message:
            status === 400
              ? 'This link was changed after we sent it, or is incomplete. Use the link exactly as it came in the email, or find the article in the archive.'
              : 'This link points to nothing we sent. Find the article in the archive.',
          link: { href: '/issues', label: 'Go to the archive' },
          noindex: true,
          publication: await getPublication(deps.db),
        }),
      );
  };

  const handle = (kind: TrackedKind) => async (req: Request, res: Response) => {
    const check = tokens.verifyLink(String(req.params.token));
    if (!check.ok || check.tag === null) return invalid(req, res, 400);
    if (check.link.kind !== kind) return invalid(req, res, 404);
    let link = links.get(check.link.linkId);
    if (!link) {
      link = await findTrackedLink(deps.db, check.link.linkId);
      if (!link) return invalid(req, res, 404);
      if (link.sent) links.set(link.id, link);
    }
    const tag = tokens.verifyTag(link.issueId, check.tag);
    if (!tag) return invalid(req, res, 400);
    // A bare 302 (res.redirect would negotiate and write a body nobody reads).
    if (kind === 'link') {
      res.location(link.url).set('Cache-Control', 'no-store').set('Referrer-Policy', 'no-referrer').status(302).end();
    } else {
      res
        .status(200)
        .set({ 'Cache-Control': 'no-store, private', 'X-Content-Type-Options': 'nosniff', 'Content-Type': 'image/gif' })
        .end(PIXEL);
    }
    if (tag.test) return;
    const at = new Date();
    const userAgent = req.get('user-agent') ?? '';
    const ip = req.ip ?? '';
    deps.recorder.record({
      linkId: link.id,
      kind,
      at: at.getTime(),
      machine: machineReason(
        {
          kind,
          method: req.method,
          userAgent,
          purpose: (
            req.get('sec-purpose') ??
            req.get('purpose') ??
            req.get('x-purpose') ??
            req.get('x-moz') ??
            ''
          ).toLowerCase(),
          ip,
          sentAt: tag.sentAt,
          at,
        },
        deps.scannerSeconds,
      ),
      subscriberId: tag.subscriberId,
      messageKey: `${check.tagText ?? ''}|${ip}`,
    });
  };

  const router = Router();
  // Express answers HEAD with the GET route (without a body): a HEAD is still a redirect, not counted.
  router.get('/r/:token', handle('link'));
  router.get('/o/:token', handle('open'));
  return router;
}
