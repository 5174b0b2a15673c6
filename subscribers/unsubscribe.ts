import { Router, type Request, type RequestHandler, type Response } from 'express';
import multer from 'multer';
import { DatabaseBusyError } from '../src/db/lock-waiting-sqlite.js';
import { UnsubscribeBatches } from './unsubscribe-batches.js';
import {
  findEmailByUid,
  findSubscriberByUid,
  recordUnsubscribeRequest,
  type UnsubscribeOutcome,
  type UnsubscribeRequest,
} from './subscriber-repository.js';
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
//
// An unsubscribe is never lost. It is applied at once (one short transaction, shared with the
// unsubscribes arriving at the same time: unsubscribe-batches.ts); waiting for a lock
// held by another process (an import) happens on timers, so the server keeps answering meanwhile
// (src/db/lock-waiting-sqlite.ts). When applying fails, or takes longer than APPLY_BUDGET_MS (a
// lock held long, a locked row on PostgreSQL), the request is recorded in `unsubscribe_requests`
// and answered once that is committed; `newsletter serve` applies recorded requests within
// seconds (unsubscribe-retry.ts). Applying twice is harmless: an unsubscribed subscriber stays
// as they are and nothing more is logged.

const ONE_CLICK_BODY = 'One-Click';
/** How long the answer waits for the unsubscribe itself before it records the request instead. */
const APPLY_BUDGET_MS = 2000;

/** Reads a multipart/form-data body (RFC 8058 recommends it); a malformed body is ignored, not fatal. */
function optionalMultipart(): RequestHandler {
  const parse = multer({ limits: { fields: 10, fieldSize: 1024, fieldNameSize: 100, files: 0, parts: 10 } }).none();
  return (req, res, next) => {
    parse(req, res, () => next());
  };
}

/** Applies the unsubscribe, or says it did not within the budget (it may still complete). */
async function applyWithinBudget(
  web: SubscriberWeb,
  batches: UnsubscribeBatches,
  request: UnsubscribeRequest,
): Promise<UnsubscribeOutcome | null> {
  // A plain timer, cleared once the unsubscribe is applied: an AbortSignal'd sleep cost every request
  // an AbortError with its stack trace (a few per cent of a one-click's CPU).
  let budget: NodeJS.Timeout | undefined;
  const applying = batches.apply(request);
  try {
    return await Promise.race([
      applying,
      new Promise<null>((resolve) => {
        budget = setTimeout(resolve, APPLY_BUDGET_MS, null);
      }),
    ]);
  } catch (error) {
    web.services.logger.warn(
      { subscriber: request.uid, err: error instanceof Error ? error.message : String(error) },
      'one-click unsubscribe failed; recording it for a retry',
    );
    return null;
  } finally {
    clearTimeout(budget);
    applying.catch(() => undefined);
  }
}

async function unsubscribeNow(
  web: SubscriberWeb,
  batches: UnsubscribeBatches,
  req: Request,
  res: Response,
): Promise<void> {
  const check = await requireToken(web, req, res, 'unsubscribe');
  if (!check) return;
  const body = (req.body ?? {}) as Record<string, unknown>;
  const rfc8058 = body['List-Unsubscribe'] === ONE_CLICK_BODY && body.via !== 'page';
  const request: UnsubscribeRequest = {
    uid: check.uid,
    // The mail provider's one-click POST, or the person pressing the page's button.
    context: consentContext(req, rfc8058 ? 'one-click' : 'unsubscribe-page'),
    detail: rfc8058 ? 'RFC 8058 List-Unsubscribe=One-Click' : 'unsubscribe page button',
  };
  let outcome: UnsubscribeOutcome | 'recorded' | null = await applyWithinBudget(web, batches, request);
  if (outcome === null) {
    try {
      await recordUnsubscribeRequest(web.services.db, request);
      outcome = 'recorded';
    } catch (error) {
      if (!(error instanceof DatabaseBusyError)) throw error;
      res.set('Retry-After', '60');
      return renderMessage(web, res, 503, {
        title: 'Please try again',
        heading: 'We could not record your unsubscribe just now',
        message:
          'The service is busy with a long task. Nothing has been changed yet. Please use the same link again in a minute.',
      });
    }
  }
  const email = outcome === 'no-subscriber' ? undefined : await findEmailByUid(web.services.db, check.uid);
  if (email === undefined) return renderUnknownSubscriber(web, res);
  await renderMessage(web, res, 200, {
    title: 'Unsubscribed',
    heading: 'You are unsubscribed',
    message:
      outcome === 'recorded'
        ? `Your request is recorded: ${email} will receive no more issues (it takes effect within a minute). Changed your mind? Your preferences page lets you subscribe again.`
        : `${email} will receive no more issues. Changed your mind? Your preferences page lets you subscribe again.`,
    link: { href: managePath(web, check.uid), label: 'Your preferences' },
  });
}

export function createUnsubscribeRouter(web: SubscriberWeb): Router {
  const router = Router();
  const { db } = web.services;
  const batches = new UnsubscribeBatches(db);

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

  router.post('/unsubscribe', optionalMultipart(), (req, res) => unsubscribeNow(web, batches, req, res));

  return router;
}
