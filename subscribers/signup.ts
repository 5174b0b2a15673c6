import { Router, type Request, type RequestHandler, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { SqlRateLimitStore } from '../src/http/rate-limit-store.js';
import { getPublication, listTopics } from '../src/content/content-repository.js';
import { parseEmail } from './address.js';
import { cleanName, MAX_NAME_LENGTH, readForm, topicChoices, topicList, type FieldError } from './form-input.js';
import {
  activateSubscriber,
  createSubscriber,
  findSubscriberByEmail,
  findSubscriberByUid,
  logConsent,
  resolveTopicSlugs,
  updateSubscriberProfile,
  WITHDRAWN_STATUSES,
  type ConsentContext,
  type Subscriber,
} from './subscriber-repository.js';
import { CONFIRM_TOKEN_TTL_MS, confirmUrl, subscriberLinks } from './tokens.js';
import {
  consentContext,
  managePath,
  renderMessage,
  renderPage,
  renderUnknownSubscriber,
  requireToken,
  tokenFromQuery,
  type SubscriberWeb,
  type ValidToken,
} from './web-context.js';

// GET/POST /subscribe (double opt-in) and GET/POST /confirm.
//
// The confirmation mail goes to an address nobody has shown to be theirs yet, so it carries
// nothing the person signing up typed: no name (a "name" such as "your mailbox is full, restore
// access at https://…" would otherwise reach any inbox in our name), only our own text and link.

/** Sign-ups per IP address per window, and per email address per window (stops mail-bombing one inbox). */
export const SIGNUP_LIMITS = {
  perIp: { limit: 20, windowMs: 15 * 60 * 1000 },
  perAddress: { limit: 5, windowMs: 60 * 60 * 1000 },
} as const;

/** Days a confirmation link works (said on every "check your inbox" answer). */
export const SIGNUP_CONFIRM_DAYS = Math.round(CONFIRM_TOKEN_TTL_MS / 86_400_000);

function tooManyHandler(web: SubscriberWeb, windowMs: number): RequestHandler {
  return (_req, res, next) => {
    res.set('Retry-After', String(Math.ceil(windowMs / 1000)));
    renderMessage(web, res, 429, {
      title: 'Too many sign-ups',
      heading: 'Too many sign-ups',
      message: `We received too many sign-ups from here or for this address. Please wait ${Math.round(windowMs / 60_000)} minutes and try again.`,
    }).catch(next);
  };
}

export interface SignupLimiters {
  perIp: RequestHandler;
  perAddress: RequestHandler;
}

/** One set per server: /subscribe and /embed/subscribe count against the same limits. */
export function signupLimiters(web: SubscriberWeb): SignupLimiters {
  const addressOf = (req: Request): string | null => {
    const email = readForm(req.body)?.email;
    return email === undefined ? null : parseEmail(email);
  };
  // Counted in the database: every web process sharing it shares the counts.
  const counts = { db: web.services.db, secret: web.services.config.secretKey };
  return {
    perIp: rateLimit({
      ...SIGNUP_LIMITS.perIp,
      store: new SqlRateLimitStore({ ...counts, prefix: 'signup-ip' }),
      // No RateLimit headers: the answer to a sign-up must look the same for every address.
      standardHeaders: false,
      legacyHeaders: false,
      handler: tooManyHandler(web, SIGNUP_LIMITS.perIp.windowMs),
    }),
    perAddress: rateLimit({
      ...SIGNUP_LIMITS.perAddress,
      store: new SqlRateLimitStore({ ...counts, prefix: 'signup-address' }),
      standardHeaders: false,
      legacyHeaders: false,
      keyGenerator: (req) => `address:${addressOf(req) ?? ''}`,
      skip: (req) => addressOf(req) === null,
      handler: tooManyHandler(web, SIGNUP_LIMITS.perAddress.windowMs),
    }),
  };
}

interface FormState {
  email: string;
  name: string;
  topics: string[];
  errors: FieldError[];
}

async function renderSignupForm(web: SubscriberWeb, req: Request, res: Response, status: number, state: FormState) {
  const topics = await listTopics(web.services.db);
  const errorFor = Object.fromEntries(state.errors.map((e) => [e.field, e.message]));
  await renderPage(web, res, status, 'subscribe', {
    title: state.errors.length > 0 ? 'Error: Subscribe' : 'Subscribe',
    csrfToken: web.csrf.token(req, res),
    values: { email: state.email, name: state.name },
    topics: topicChoices(topics, state.topics),
    errors: state.errors,
    errorFor,
    maxNameLength: MAX_NAME_LENGTH,
    confirmDays: SIGNUP_CONFIRM_DAYS,
  });
}

/** What a double opt-in sign-up needs: the sign-up page, the embedded form and the API share it. */
export type SignupDeps = Pick<SubscriberWeb, 'services' | 'mail' | 'sendInBackground'>;

export interface SignupInput {
  /** Normalised (address.ts). */
  email: string;
  name: string;
  topicIds: number[];
  topicSlugs: string[];
}

/**
 * Records the sign-up and queues the right mail. Every branch answers the same page; only the
 * owner of the address learns, by mail, whether it was already known.
 */
export async function registerSignup(web: SignupDeps, context: ConsentContext, input: SignupInput): Promise<void> {
  const { db, config } = web.services;
  const publication = await getPublication(db);
  const existing = await findSubscriberByEmail(db, input.email);
  const detail = JSON.stringify({ topics: input.topicSlugs.length > 0 ? input.topicSlugs : 'all' });

  if (!existing) {
    const created = await createSubscriber(db, {
      email: input.email,
      name: input.name,
      status: 'pending',
      topicIds: input.topicIds,
      action: 'signup',
      context,
      detail,
    });
    const url = confirmUrl(config, created.uid);
    web.sendInBackground('confirmation mail', () =>
      web.mail.sendConfirmation(input.email, publication, {
        confirmUrl: url,
        returning: false,
        expiresDays: SIGNUP_CONFIRM_DAYS,
      }),
    );
    return;
  }

  await logConsent(db, existing.id, 'signup-repeated', context, detail);
  if (existing.status === 'pending') {
    // Still unconfirmed: the latest choice wins, and a fresh link is sent.
    await updateSubscriberProfile(
      db,
      existing,
      { name: input.name, topicIds: input.topicIds },
      'signup-changed',
      context,
    );
    const url = confirmUrl(config, existing.uid);
    web.sendInBackground('confirmation mail', () =>
      web.mail.sendConfirmation(input.email, publication, {
        confirmUrl: url,
        returning: false,
        expiresDays: SIGNUP_CONFIRM_DAYS,
      }),
    );
  } else if (existing.status === 'active') {
    const links = subscriberLinks(config, existing.uid);
    const topicNames = await topicNamesOf(web, existing);
    web.sendInBackground('already-subscribed mail', () =>
      web.mail.sendAlreadySubscribed(input.email, publication, { name: existing.name, ...links, topicNames }),
    );
  } else {
    // Withdrawn before: nothing changes until the owner confirms from their inbox.
    const url = confirmUrl(config, existing.uid);
    web.sendInBackground('re-confirmation mail', () =>
      web.mail.sendConfirmation(input.email, publication, {
        confirmUrl: url,
        returning: true,
        expiresDays: SIGNUP_CONFIRM_DAYS,
      }),
    );
  }
}

async function topicNamesOf(web: SignupDeps, subscriber: Subscriber): Promise<string[]> {
  const topics = await listTopics(web.services.db);
  return topics.filter((t) => subscriber.topicSlugs.includes(t.slug)).map((t) => t.name);
}

/**
 * Whether a confirmation link still subscribes: a pending address, or a withdrawn one when the
 * link was mailed after the withdrawal (a sign-up again); an older link does not undo it.
 */
function linkStillConfirms(subscriber: Subscriber, check: ValidToken): boolean {
  if (subscriber.status === 'pending') return true;
  if (!WITHDRAWN_STATUSES.includes(subscriber.status)) return false;
  const issuedAt = (check.expiresAt?.getTime() ?? 0) - CONFIRM_TOKEN_TTL_MS;
  return issuedAt >= Date.parse(subscriber.unsubscribedAt ?? subscriber.updatedAt);
}

async function renderLinkUsed(web: SubscriberWeb, res: Response, subscriber: Subscriber): Promise<void> {
  await renderMessage(web, res, 410, {
    title: 'Link already used',
    heading: 'This confirmation link has already been used',
    message:
      subscriber.status === 'active'
        ? 'Your subscription is already confirmed, with this link or another one we sent you; nothing has been changed. To change your topics, we can email you a link to manage them.'
        : 'This link was sent before you unsubscribed, so it no longer subscribes you. Nothing has been changed. Sign up again if you want the newsletter.',
    link:
      subscriber.status === 'active'
        ? { href: '/manage', label: 'Email me a link to manage my topics' }
        : { href: '/subscribe', label: 'Sign up again' },
  });
}

/** GET (and HEAD) /confirm: a page with a Confirm button. Mail scanners open links; only the button confirms. */
async function showConfirmation(web: SubscriberWeb, req: Request, res: Response): Promise<void> {
  const check = await requireToken(web, req, res, 'confirm');
  if (!check) return;
  const subscriber = await findSubscriberByUid(web.services.db, check.uid);
  if (!subscriber) return renderUnknownSubscriber(web, res);
  if (!linkStillConfirms(subscriber, check)) return renderLinkUsed(web, res, subscriber);
  await renderPage(web, res, 200, 'confirm', {
    title: 'Confirm your subscription',
    noindex: true,
    csrfToken: web.csrf.token(req, res),
    formAction: `/confirm?token=${tokenFromQuery(req)}`,
    email: subscriber.email,
    returning: subscriber.status !== 'pending',
  });
}

/** POST /confirm: the button of that page confirms, once. */
async function confirmNow(web: SubscriberWeb, req: Request, res: Response): Promise<void> {
  const check = await requireToken(web, req, res, 'confirm');
  if (!check) return;
  const { db } = web.services;
  const subscriber = await findSubscriberByUid(db, check.uid);
  if (!subscriber) return renderUnknownSubscriber(web, res);
  const context = consentContext(req, 'form');
  const confirmed =
    linkStillConfirms(subscriber, check) &&
    (subscriber.status === 'pending'
      ? await activateSubscriber(db, subscriber.id, ['pending'], 'confirm', context)
      : await activateSubscriber(db, subscriber.id, [subscriber.status], 'confirm', context, 'subscribed again'));
  if (!confirmed) return renderLinkUsed(web, res, (await findSubscriberByUid(db, check.uid)) ?? subscriber);
  await renderMessage(web, res, 200, {
    title: 'Subscription confirmed',
    heading: 'You are subscribed',
    message: 'Thank you: your subscription is confirmed. You can change your topics or withdraw at any time.',
    link: { href: managePath(web, subscriber.uid), label: 'Manage your subscription' },
  });
}

export function createSignupRouter(web: SubscriberWeb, limiters: SignupLimiters): Router {
  const router = Router();

  router.get('/subscribe', web.csrf.cookies, async (req, res) => {
    const preset = typeof req.query.topics === 'string' ? req.query.topics.split(',') : [];
    await renderSignupForm(web, req, res, 200, { email: '', name: '', topics: topicList(preset), errors: [] });
  });

  router.post(
    '/subscribe',
    limiters.perIp,
    web.csrf.cookies,
    web.csrf.protect,
    limiters.perAddress,
    async (req, res) => {
      const form = readForm(req.body);
      const rawEmail = form?.email ?? '';
      const name = cleanName(form?.name);
      const topics = topicList(form?.topics);
      const errors: FieldError[] = [];
      const email = parseEmail(rawEmail);
      if (!form) errors.push({ field: 'email', message: 'The form could not be read. Fill it in again.' });
      else if (rawEmail.trim() === '') errors.push({ field: 'email', message: 'Enter your email address.' });
      else if (!email) errors.push({ field: 'email', message: 'Enter an email address in the form name@example.org.' });
      if (name.length > MAX_NAME_LENGTH) {
        errors.push({ field: 'name', message: `Your name can be at most ${MAX_NAME_LENGTH} characters long.` });
      }
      const resolved = await resolveTopicSlugs(web.services.db, topics);
      if (resolved.unknown.length > 0) {
        errors.push({ field: 'topics', message: 'Choose topics from the list below.' });
      }
      if (errors.length > 0 || !email) {
        await renderSignupForm(web, req, res, 400, {
          email: rawEmail.slice(0, 320),
          name: name.slice(0, MAX_NAME_LENGTH * 2),
          topics,
          errors,
        });
        return;
      }
      const known = topics.filter((t) => !resolved.unknown.includes(t));
      await registerSignup(web, consentContext(req, 'form'), {
        email,
        name,
        topicIds: resolved.ids,
        topicSlugs: known,
      });
      res.set('Cache-Control', 'no-store');
      await renderPage(web, res, 200, 'subscribe-sent', {
        title: 'Check your inbox',
        confirmDays: SIGNUP_CONFIRM_DAYS,
      });
    },
  );

  router.get('/confirm', web.csrf.cookies, (req, res) => showConfirmation(web, req, res));
  router.post('/confirm', web.csrf.cookies, web.csrf.protect, (req, res) => confirmNow(web, req, res));

  return router;
}
