import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { PROJECT_ROOT } from '../src/config/config.js';
import { parseEmail } from './address.js';
import { cleanName, MAX_NAME_LENGTH, readForm, topicList, type FieldError } from './form-input.js';
import { registerSignup, SIGNUP_CONFIRM_DAYS, type SignupLimiters } from './signup.js';
import { resolveTopicSlugs } from './subscriber-repository.js';
import { consentContext, renderMessage, renderPage, type SubscriberWeb } from './web-context.js';

// POST /embed/subscribe: the sign-up form a publication pastes into its own website. It arrives
// cross-origin, where no CSRF cookie can be set, so it is guarded the way sign-up forms on the open
// web are: only pages of the origins in EMBED_ORIGINS may post it (Origin, or Referer when a
// browser sends no Origin), a honeypot field that people never see, the per-IP and per-address
// limits of /subscribe, and double opt-in. Every accepted form gets the same answer, so the form
// tells nobody whether an address is known. With `Accept: application/json` (the optional script,
// /embed/subscribe.js) the answer is JSON for the embedding page, allowed by CORS for that origin.

/** The hidden field bots fill in and people do not. */
export const HONEYPOT_FIELD = 'website';

const SENT_MESSAGE = `Check your inbox: we sent you a link to confirm. It works for ${SIGNUP_CONFIRM_DAYS} days.`;

function requestOrigin(req: Request): string | null {
  const origin = req.get('origin');
  if (origin && origin !== 'null') return origin;
  const referer = req.get('referer');
  if (!referer) return null;
  try {
    return new URL(referer).origin;
  } catch {
    return null;
  }
}

const wantsJson = (req: Request): boolean => req.accepts(['html', 'json']) === 'json';

interface EmbedAnswer {
  status: number;
  ok: boolean;
  heading: string;
  message: string;
  errors?: FieldError[];
}

async function answer(web: SubscriberWeb, req: Request, res: Response, reply: EmbedAnswer, origin: string | null) {
  res.set('Cache-Control', 'no-store');
  if (wantsJson(req)) {
    if (origin) {
      res.set('Access-Control-Allow-Origin', origin);
      res.vary('Origin');
    }
    res.status(reply.status).json({ ok: reply.ok, message: reply.message, errors: reply.errors ?? [] });
    return;
  }
  if (reply.ok) {
    await renderPage(web, res, reply.status, 'subscribe-sent', {
      title: 'Check your inbox',
      confirmDays: SIGNUP_CONFIRM_DAYS,
    });
    return;
  }
  await renderMessage(web, res, reply.status, {
    title: reply.heading,
    heading: reply.heading,
    message: reply.message,
    link: { href: '/subscribe', label: 'Sign up on our own page instead' },
  });
}

function allowedOrigin(web: SubscriberWeb): RequestHandler {
  const { config } = web.services;
  const allowed = new Set([new URL(config.baseUrl).origin, ...config.embedOrigins]);
  return (req, res, next) => {
    const origin = requestOrigin(req);
    if (origin && allowed.has(origin)) return next();
    web.services.logger.info({ origin }, 'embedded sign-up refused: origin not in EMBED_ORIGINS');
    answer(
      web,
      req,
      res,
      {
        status: 403,
        ok: false,
        heading: 'Sign-up not accepted from this site',
        message: 'This sign-up form may only be used on the pages the newsletter allows. Nothing was recorded.',
      },
      null,
    ).catch(next);
  };
}

async function embeddedSignup(web: SubscriberWeb, req: Request, res: Response): Promise<void> {
  const origin = requestOrigin(req);
  const body = req.body as Record<string, unknown> | undefined;
  const honeypot = body?.[HONEYPOT_FIELD];
  const sent: EmbedAnswer = { status: 200, ok: true, heading: 'Check your inbox', message: SENT_MESSAGE };
  if (typeof honeypot !== 'string' || honeypot !== '') {
    // A bot (or a form without the field): the same answer, nothing recorded, nothing mailed.
    web.services.logger.info({ origin }, 'embedded sign-up ignored: honeypot field filled or missing');
    return answer(web, req, res, sent, origin);
  }
  const form = readForm(body);
  const email = parseEmail(form?.email ?? '');
  const name = cleanName(form?.name);
  const topics = topicList(form?.topics);
  const errors: FieldError[] = [];
  if (!email) errors.push({ field: 'email', message: 'Enter an email address in the form name@example.org.' });
  if (name.length > MAX_NAME_LENGTH) {
    errors.push({ field: 'name', message: `Your name can be at most ${MAX_NAME_LENGTH} characters long.` });
  }
  const resolved = await resolveTopicSlugs(web.services.db, topics);
  if (resolved.unknown.length > 0) errors.push({ field: 'topics', message: 'Choose topics from the list.' });
  if (errors.length > 0 || !email) {
    return answer(
      web,
      req,
      res,
      {
        status: 400,
        ok: false,
        heading: 'Please check the form',
        message: errors.map((e) => e.message).join(' '),
        errors,
      },
      origin,
    );
  }
  const context = {
    ...consentContext(req, 'embed'),
    userAgent: `${req.get('user-agent') ?? ''} (form on ${origin ?? '?'})`,
  };
  await registerSignup(web, context, {
    email,
    name,
    topicIds: resolved.ids,
    topicSlugs: topics.filter((t) => !resolved.unknown.includes(t)),
  });
  await answer(web, req, res, sent, origin);
}

export function createEmbedRouter(web: SubscriberWeb, limiters: SignupLimiters): Router {
  const script = readFileSync(path.join(PROJECT_ROOT, 'public', 'embed', 'subscribe.js'), 'utf8');
  const router = Router();
  router.get('/embed/subscribe.js', (_req, res) => {
    // Loaded by <script src> on the publication's own site.
    res.set('Cross-Origin-Resource-Policy', 'cross-origin');
    res.set('Cache-Control', 'public, max-age=3600');
    res.type('text/javascript').send(script);
  });
  router.post('/embed/subscribe', allowedOrigin(web), limiters.perIp, limiters.perAddress, (req, res, next) => {
    embeddedSignup(web, req, res).catch(next);
  });
  return router;
}
