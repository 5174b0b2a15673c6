import type { Request, Response } from 'express';
import type { Services } from '../src/app/services.js';
import { getPublication } from '../src/content/content-repository.js';
import type { Csrf } from '../src/http/csrf.js';
import type { ConsentSource } from '../src/db/schema.js';
import type { ConsentContext } from './subscriber-repository.js';
import type { SubscriberMail } from './subscriber-mail.js';
import {
  TOKEN_FAILURE_MESSAGES,
  type TokenCheck,
  type TokenFailure,
  type TokenPurpose,
  type TokenSigner,
} from './tokens.js';

/** Everything the subscriber pages share, passed to each router as one object. */
export interface SubscriberWeb {
  services: Services;
  csrf: Csrf;
  mail: SubscriberMail;
  tokens: TokenSigner;
  /** Sends mail after the response, so a sign-up's timing never tells a new address from a known one. */
  sendInBackground(what: string, work: () => Promise<unknown>): void;
}

export interface MessagePage {
  title: string;
  heading: string;
  message: string;
  link?: { href: string; label: string };
}

/** Renders a page inside the main layout with the publication filled in. */
export async function renderPage(
  web: SubscriberWeb,
  res: Response,
  status: number,
  page: string,
  data: Record<string, unknown>,
): Promise<void> {
  const publication = await getPublication(web.services.db);
  res
    .status(status)
    .type('html')
    .send(web.services.views.render(page, { ...data, publication }));
}

export async function renderMessage(
  web: SubscriberWeb,
  res: Response,
  status: number,
  page: MessagePage,
): Promise<void> {
  await renderPage(web, res, status, 'message', { ...page, noindex: true });
}

/** Pages reached through a personal link must not be cached or indexed, and must not leak the link. */
export function personalPageHeaders(res: Response): void {
  res.set('Cache-Control', 'no-store');
  res.set('X-Robots-Tag', 'noindex');
}

/** IP and user agent for the consent log. */
export function consentContext<S extends ConsentSource>(req: Request, source: S): ConsentContext & { source: S } {
  return { source, ip: req.ip ?? null, userAgent: req.get('user-agent') ?? null };
}

/** The query's `token` as a single string ('' when absent or repeated). */
export function tokenFromQuery(req: Request): string {
  const value = (req.query as Record<string, unknown>).token;
  return typeof value === 'string' ? value : '';
}

const FAILURE_STATUS: Record<TokenFailure, number> = {
  malformed: 400,
  'bad-signature': 400,
  'wrong-purpose': 400,
  expired: 410,
};

export type ValidToken = Extract<TokenCheck, { ok: true }>;

/** Verifies the query token; on failure renders the clear 4xx page and returns null. */
export async function requireToken(
  web: SubscriberWeb,
  req: Request,
  res: Response,
  purpose: TokenPurpose,
): Promise<ValidToken | null> {
  personalPageHeaders(res);
  const token = tokenFromQuery(req);
  const check: TokenCheck = token === '' ? { ok: false, reason: 'malformed' } : web.tokens.verify(purpose, token);
  if (check.ok) return check;
  const expiredDataLink = check.reason === 'expired' && (purpose === 'export' || purpose === 'erase');
  await renderMessage(web, res, FAILURE_STATUS[check.reason], {
    title: 'Link not valid',
    heading: check.reason === 'expired' ? 'This link has expired' : 'This link is not valid',
    message:
      (expiredDataLink
        ? 'This link has expired: it works for an hour. Ask for a new one on your preferences page (the "Manage your subscription" link in any issue).'
        : TOKEN_FAILURE_MESSAGES[check.reason]) + ' Nothing has been changed.',
    link: { href: '/subscribe', label: 'Go to the sign-up page' },
  });
  return null;
}

/** The page for a valid link whose subscriber no longer exists (erased). */
export async function renderUnknownSubscriber(web: SubscriberWeb, res: Response): Promise<void> {
  await renderMessage(web, res, 404, {
    title: 'Subscription not found',
    heading: 'We hold no subscription for this link',
    message:
      'The data behind this link has been erased, so there is nothing to show or change. You can sign up again at any time.',
    link: { href: '/subscribe', label: 'Sign up' },
  });
}

/** Site-relative links for pages (mails use absolute ones from tokens.ts). */
export function managePath(web: SubscriberWeb, uid: string): string {
  return `/preferences?token=${web.tokens.sign('manage', uid)}`;
}
