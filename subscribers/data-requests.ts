import { Router, type Request, type RequestHandler, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { getPublication } from '../src/content/content-repository.js';
import { buildDataExport } from './data-export.js';
import { readForm } from './form-input.js';
import { eraseEverywhere } from './erasure.js';
import { findSubscriberByUid, type Subscriber } from './subscriber-repository.js';
import { DATA_REQUEST_TTL_MS } from './tokens.js';
import {
  managePath,
  renderMessage,
  renderPage,
  renderUnknownSubscriber,
  requireToken,
  tokenFromQuery,
  type SubscriberWeb,
} from './web-context.js';

// Export and erase ask the address first (issue 9 item 12). Every issue carries the subscriber's
// manage link, so whoever receives a forwarded issue holds it too: from the manage page, "download"
// and "erase" only mail a short-lived link (an hour) to the subscriber's own address. That link
// opens a page whose button does it (POST with a CSRF token: mail scanners open links, and an
// erasure cannot be undone). Routes: GET/POST /preferences/export?token=x.… and
// GET/POST /preferences/erase?token=e.….

export type DataRequest = 'export' | 'erase';

/** Links mailed per manage link per hour: enough for a person, too few to flood their inbox. */
export const DATA_REQUESTS_PER_HOUR = 5;

function isDataRequest(req: Request): boolean {
  const action = readForm(req.body)?.action;
  return action === 'export' || action === 'erase';
}

/** Limits the mails a manage link can trigger; mounted before the /preferences POST handler. */
export function dataRequestLimiter(web: SubscriberWeb): RequestHandler {
  return rateLimit({
    windowMs: 60 * 60_000,
    limit: DATA_REQUESTS_PER_HOUR,
    standardHeaders: false,
    legacyHeaders: false,
    skip: (req) => !isDataRequest(req),
    keyGenerator: (req) => `manage:${tokenFromQuery(req)}`,
    handler: (_req, res) => {
      void renderMessage(web, res, 429, {
        title: 'Too many requests',
        heading: 'We have already emailed you several links',
        message: `We send at most ${DATA_REQUESTS_PER_HOUR} such links an hour. Use one of those already sent to your address, or try again in an hour. Nothing has been changed.`,
      });
    },
  });
}

/** Mails the export or erase link to the subscriber's own address; returns the notice for the page. */
export async function mailDataLink(web: SubscriberWeb, subscriber: Subscriber, what: DataRequest): Promise<string> {
  const { config, db } = web.services;
  const token = web.tokens.sign(what, subscriber.uid, new Date(Date.now() + DATA_REQUEST_TTL_MS));
  const actionUrl = `${config.baseUrl.replace(/\/+$/, '')}/preferences/${what}?token=${token}`;
  const publication = await getPublication(db);
  const expiresMinutes = Math.round(DATA_REQUEST_TTL_MS / 60_000);
  web.sendInBackground(`${what} link mail`, () =>
    web.mail.sendDataRequest(subscriber.email, publication, { what, actionUrl, expiresMinutes }),
  );
  const purpose = what === 'export' ? 'download your data' : 'confirm that your data should be erased';
  return `We have emailed a link to ${subscriber.email}. Open it within ${expiresMinutes} minutes to ${purpose}. Nothing else has been changed.`;
}

/** The subscriber behind a valid export or erase link, or null once the page has answered. */
async function linkedSubscriber(
  web: SubscriberWeb,
  req: Request,
  res: Response,
  what: DataRequest,
): Promise<Subscriber | null> {
  const check = await requireToken(web, req, res, what);
  if (!check) return null;
  const subscriber = await findSubscriberByUid(web.services.db, check.uid);
  if (!subscriber) await renderUnknownSubscriber(web, res);
  return subscriber ?? null;
}

async function showExport(web: SubscriberWeb, req: Request, res: Response): Promise<void> {
  const subscriber = await linkedSubscriber(web, req, res, 'export');
  if (!subscriber) return;
  await renderPage(web, res, 200, 'data-export', {
    title: 'Download your data',
    noindex: true,
    csrfToken: web.csrf.token(req, res),
    formAction: `/preferences/export?token=${tokenFromQuery(req)}`,
    email: subscriber.email,
  });
}

async function sendExport(web: SubscriberWeb, req: Request, res: Response): Promise<void> {
  const subscriber = await linkedSubscriber(web, req, res, 'export');
  if (!subscriber) return;
  const data = await buildDataExport(web.services.db, subscriber);
  res
    .status(200)
    .type('application/json')
    .set('Content-Disposition', 'attachment; filename="my-newsletter-data.json"')
    .send(JSON.stringify(data, null, 2) + '\n');
}

async function showErase(web: SubscriberWeb, req: Request, res: Response): Promise<void> {
  const subscriber = await linkedSubscriber(web, req, res, 'erase');
  if (!subscriber) return;
  await renderPage(web, res, 200, 'erase-confirm', {
    title: 'Erase your data',
    noindex: true,
    csrfToken: web.csrf.token(req, res),
    formAction: `/preferences/erase?token=${tokenFromQuery(req)}`,
    keepHref: managePath(web, subscriber.uid),
    email: subscriber.email,
  });
}

async function eraseNow(web: SubscriberWeb, req: Request, res: Response): Promise<void> {
  const subscriber = await linkedSubscriber(web, req, res, 'erase');
  if (!subscriber) return;
  const { db, config, logger } = web.services;
  await eraseEverywhere({ db, secretKey: config.secretKey, outboxDir: config.outboxDir, logger }, subscriber);
  await renderMessage(web, res, 200, {
    title: 'Data erased',
    heading: 'Your data is erased',
    message:
      'We deleted your subscription, your topics and the record of your consent. We keep only a one-way keyed hash of your address, so that nobody can add it back by importing a list. You can still sign up again yourself.',
    link: { href: '/subscribe', label: 'Sign up again' },
  });
}

export function createDataRequestRouter(web: SubscriberWeb): Router {
  const router = Router();
  const { cookies, protect } = web.csrf;
  router.get('/preferences/export', cookies, (req, res) => showExport(web, req, res));
  router.post('/preferences/export', cookies, protect, (req, res) => sendExport(web, req, res));
  router.get('/preferences/erase', cookies, (req, res) => showErase(web, req, res));
  router.post('/preferences/erase', cookies, protect, (req, res) => eraseNow(web, req, res));
  return router;
}
