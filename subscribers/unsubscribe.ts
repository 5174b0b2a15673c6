import { Router, type RequestHandler } from 'express';
import multer from 'multer';
import { findSubscriberByUid, withdrawSubscriber } from './subscriber-repository.js';
import {
  consentContext,
  managePath,
  renderMessage,
  renderPage,
  renderUnknownSubscriber,
  requireToken,
  tokenFromQuery,
  type SubscriberWeb,
} from './web-context.js';

// GET /unsubscribe?token=… shows one button; POST unsubscribes at once.
// The POST is the RFC 8058 one-click target named in every issue's List-Unsubscribe header: mail
// providers POST `List-Unsubscribe=One-Click` (urlencoded or multipart/form-data) with no cookie,
// so there is no CSRF check here by design — the signed, purpose-scoped token is the authority —
// and the answer is a plain 200 page, never a redirect.

const ONE_CLICK_BODY = 'One-Click';

/** Reads a multipart/form-data body (RFC 8058 recommends it); a malformed body is ignored, not fatal. */
function optionalMultipart(): RequestHandler {
  const parse = multer({ limits: { fields: 10, fieldSize: 1024, fieldNameSize: 100, files: 0, parts: 10 } }).none();
  return (req, res, next) => {
    parse(req, res, () => next());
  };
}

export function createUnsubscribeRouter(web: SubscriberWeb): Router {
  const router = Router();
  const { db } = web.services;

  router.get('/unsubscribe', async (req, res) => {
    const check = await requireToken(web, req, res, 'unsubscribe');
    if (!check) return;
    const subscriber = await findSubscriberByUid(db, check.uid);
    if (!subscriber) return renderUnknownSubscriber(web, res);
    await renderPage(web, res, 200, 'unsubscribe', {
      title: 'Unsubscribe',
      noindex: true,
      formAction: `/unsubscribe?token=${tokenFromQuery(req)}`,
      email: subscriber.email,
      subscribed: subscriber.status === 'active' || subscriber.status === 'pending',
      managePath: managePath(web, subscriber.uid),
    });
  });

  router.post('/unsubscribe', optionalMultipart(), async (req, res) => {
    const check = await requireToken(web, req, res, 'unsubscribe');
    if (!check) return;
    const subscriber = await findSubscriberByUid(db, check.uid);
    if (!subscriber) return renderUnknownSubscriber(web, res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const rfc8058 = body['List-Unsubscribe'] === ONE_CLICK_BODY && body.via !== 'page';
    await withdrawSubscriber(
      db,
      subscriber.id,
      'unsubscribed',
      'unsubscribe',
      // The mail provider's one-click POST, or the person pressing the page's button.
      consentContext(req, rfc8058 ? 'one-click' : 'unsubscribe-page'),
      rfc8058 ? 'RFC 8058 List-Unsubscribe=One-Click' : 'unsubscribe page button',
    );
    await renderMessage(web, res, 200, {
      title: 'Unsubscribed',
      heading: 'You are unsubscribed',
      message: `${subscriber.email} will receive no more issues. Changed your mind? Your preferences page lets you subscribe again.`,
      link: { href: managePath(web, subscriber.uid), label: 'Your preferences' },
    });
  });

  return router;
}
