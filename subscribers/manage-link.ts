import { Router, type Request, type RequestHandler, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { getPublication } from '../src/content/content-repository.js';
import { parseEmail } from './address.js';
import { readForm } from './form-input.js';
import { findSubscriberByEmail } from './subscriber-repository.js';
import { subscriberLinks } from './tokens.js';
import { renderMessage, renderPage, type SubscriberWeb } from './web-context.js';

// GET/POST /manage: "email me a link to manage my topics". For a subscriber who lost the mail with
// their personal link (or whose confirmation link was replaced by a newer one). The link goes to
// the address itself, and the page answers the same whether the address is known or not, so the
// page neither tells who subscribes nor lets anyone change someone else's choice.

/** Requests per IP address and per email address per window (stops mail-bombing one inbox). */
export const MANAGE_LINK_LIMITS = {
  perIp: { limit: 20, windowMs: 15 * 60 * 1000 },
  perAddress: { limit: 3, windowMs: 60 * 60 * 1000 },
} as const;

function limiter(web: SubscriberWeb, limits: { limit: number; windowMs: number }, perAddress: boolean): RequestHandler {
  const addressOf = (req: Request): string | null => {
    const email = readForm(req.body)?.email;
    return email === undefined ? null : parseEmail(email);
  };
  return rateLimit({
    ...limits,
    // No RateLimit headers: the answer must look the same for every address.
    standardHeaders: false,
    legacyHeaders: false,
    ...(perAddress
      ? { keyGenerator: (req: Request) => `manage:${addressOf(req) ?? ''}`, skip: (req: Request) => !addressOf(req) }
      : {}),
    handler: (_req, res, next) => {
      res.set('Retry-After', String(Math.ceil(limits.windowMs / 1000)));
      renderMessage(web, res, 429, {
        title: 'Too many requests',
        heading: 'Too many requests',
        message: `We received too many requests from here or for this address. Please wait ${Math.round(limits.windowMs / 60_000)} minutes and try again.`,
      }).catch(next);
    },
  });
}

async function showForm(web: SubscriberWeb, req: Request, res: Response, status: number, email = '', error = '') {
  await renderPage(web, res, status, 'manage-request', {
    title: error ? 'Error: Manage your subscription' : 'Manage your subscription',
    csrfToken: web.csrf.token(req, res),
    email,
    error,
  });
}

async function requestLink(web: SubscriberWeb, req: Request, res: Response): Promise<void> {
  const raw = readForm(req.body)?.email ?? '';
  const email = parseEmail(raw);
  if (!email) {
    return showForm(web, req, res, 400, raw.slice(0, 320), 'Enter an email address in the form name@example.org.');
  }
  const { db, config } = web.services;
  const subscriber = await findSubscriberByEmail(db, email);
  if (subscriber) {
    const publication = await getPublication(db);
    const links = subscriberLinks(config, subscriber.uid);
    web.sendInBackground('manage-link mail', () => web.mail.sendManageLink(email, publication, links));
  }
  res.set('Cache-Control', 'no-store');
  await renderMessage(web, res, 200, {
    title: 'Check your inbox',
    heading: 'Check your inbox',
    message:
      'If this address receives the newsletter, or has before, a message with a link to manage its subscription is on its way. Nothing arrived after a few minutes? Look in the spam folder.',
  });
}

export function createManageLinkRouter(web: SubscriberWeb): Router {
  const router = Router();
  router.get('/manage', web.csrf.cookies, (req, res) => showForm(web, req, res, 200));
  router.post(
    '/manage',
    limiter(web, MANAGE_LINK_LIMITS.perIp, false),
    web.csrf.cookies,
    web.csrf.protect,
    limiter(web, MANAGE_LINK_LIMITS.perAddress, true),
    (req, res) => requestLink(web, req, res),
  );
  return router;
}
