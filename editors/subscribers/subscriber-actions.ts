import { Router, type Request, type Response } from 'express';
import { getPublication, listTopics } from '../../src/content/content-repository.js';
import { eraseEverywhere } from '../../subscribers/erasure.js';
import { cleanName, MAX_NAME_LENGTH } from '../../subscribers/form-input.js';
import { SubscriberMail } from '../../subscribers/subscriber-mail.js';
import {
  findSubscriberByUid,
  resolveTopicSlugs,
  updateSubscriberProfile,
  withdrawSubscriber,
  WITHDRAWN_STATUSES,
  type ConsentContext,
  type Subscriber,
} from '../../subscribers/subscriber-repository.js';
import { CONFIRM_TOKEN_TTL_MS, confirmUrl } from '../../subscribers/tokens.js';
import {
  adminState,
  type AdminContext,
  field,
  fieldList,
  handle,
  HttpError,
  notFound,
  redirectSeeOther,
} from '../context.js';
import { renderAdminPage } from '../page.js';

// What an editor can do on a subscriber's page: change their name and topics, unsubscribe them,
// erase them (after a confirmation page), and send a pending subscriber a fresh confirmation mail.
// Each change is the editor's, so the consent log records it with source `admin` and the editor.

async function subscriberOf(ctx: AdminContext, req: Request): Promise<Subscriber> {
  const uid = req.params.uid;
  const subscriber = typeof uid === 'string' ? await findSubscriberByUid(ctx.services.db, uid) : undefined;
  if (!subscriber) throw notFound('This subscriber');
  return subscriber;
}

/** The consent log names the editor in its detail; the source says it was an editor in the app. */
const EDITOR_CONTEXT: ConsentContext = { source: 'admin' };

function byEditor(req: Request): string {
  return JSON.stringify({ by: adminState(req).session.editor.email });
}

function pagePath(subscriber: Subscriber): string {
  return `/admin/subscribers/${subscriber.uid}`;
}

async function changeProfile(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const subscriber = await subscriberOf(ctx, req);
  if (WITHDRAWN_STATUSES.includes(subscriber.status)) {
    throw new HttpError(409, `${subscriber.email} is ${subscriber.status}: only they can subscribe again.`);
  }
  const name = cleanName(field(req.body, 'name'));
  if (name.length > MAX_NAME_LENGTH) {
    throw new HttpError(400, `A name can be at most ${MAX_NAME_LENGTH} characters long; go back and shorten it.`);
  }
  const resolved = await resolveTopicSlugs(ctx.services.db, fieldList(req.body, 'topics'));
  if (resolved.unknown.length > 0) throw new HttpError(400, 'Choose topics from the list; reload the page.');
  const changed = await updateSubscriberProfile(
    ctx.services.db,
    subscriber,
    { name, topicIds: resolved.ids },
    'editor-changed',
    EDITOR_CONTEXT,
  );
  ctx.services.logger.info({ by: adminState(req).session.editor.id, subscriber: subscriber.id }, 'subscriber edited');
  redirectSeeOther(res, `${pagePath(subscriber)}?notice=${changed ? 'saved' : 'unchanged'}`);
}

async function unsubscribe(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const subscriber = await subscriberOf(ctx, req);
  await withdrawSubscriber(
    ctx.services.db,
    subscriber.id,
    'unsubscribed',
    'unsubscribe',
    EDITOR_CONTEXT,
    byEditor(req),
  );
  ctx.services.logger.info(
    { by: adminState(req).session.editor.id, subscriber: subscriber.id },
    'subscriber unsubscribed by an editor',
  );
  redirectSeeOther(res, `${pagePath(subscriber)}?notice=unsubscribed-by-editor`);
}

async function showEraseConfirmation(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const subscriber = await subscriberOf(ctx, req);
  await renderAdminPage(
    ctx,
    req,
    res,
    'subscribers/erase',
    { subscriber },
    { title: `Erase ${subscriber.email}`, section: 'subscribers' },
  );
}

async function erase(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const subscriber = await subscriberOf(ctx, req);
  if (field(req.body, 'confirm') !== subscriber.email) {
    throw new HttpError(400, 'Type the address to confirm the erasure; nothing was erased.');
  }
  const { db, config, logger } = ctx.services;
  // Everywhere on disk: rows, the SQLite write-ahead log, the outbox's copies (issue 9 item 7).
  await eraseEverywhere({ db, secretKey: config.secretKey, outboxDir: config.outboxDir, logger }, subscriber);
  // The log keeps who erased whom by row id only: the address is what was erased.
  logger.info({ by: adminState(req).session.editor.id, subscriber: subscriber.id }, 'subscriber erased by an editor');
  redirectSeeOther(res, '/admin/subscribers?notice=erased');
}

async function resendConfirmation(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const subscriber = await subscriberOf(ctx, req);
  if (subscriber.status !== 'pending') {
    throw new HttpError(409, `${subscriber.email} is ${subscriber.status}, not waiting for a confirmation.`);
  }
  const { services } = ctx;
  const mail = new SubscriberMail({
    templatesDir: services.config.templatesDir,
    mjml: services.mjml,
    send: (message) => services.messenger.send(message),
  });
  await mail.sendConfirmation(subscriber.email, await getPublication(services.db), {
    confirmUrl: confirmUrl(services.config, subscriber.uid),
    returning: false,
    expiresDays: Math.round(CONFIRM_TOKEN_TTL_MS / 86_400_000),
  });
  services.logger.info(
    { by: adminState(req).session.editor.id, subscriber: subscriber.id },
    'confirmation mail sent again by an editor',
  );
  redirectSeeOther(res, `${pagePath(subscriber)}?notice=confirmation-sent`);
}

/** The topics form of a subscriber's page: every topic, ticked as the subscriber has them. */
export async function topicChoicesFor(ctx: AdminContext, subscriber: Subscriber) {
  const topics = await listTopics(ctx.services.db);
  return topics.map((t) => ({ slug: t.slug, name: t.name, checked: subscriber.topicSlugs.includes(t.slug) }));
}

export function createSubscriberActionsRouter(ctx: AdminContext): Router {
  const router = Router();
  router.post('/subscribers/:uid/profile', handle(ctx, changeProfile));
  router.post('/subscribers/:uid/unsubscribe', handle(ctx, unsubscribe));
  router.get('/subscribers/:uid/erase', handle(ctx, showEraseConfirmation));
  router.post('/subscribers/:uid/erase', handle(ctx, erase));
  router.post('/subscribers/:uid/resend-confirmation', handle(ctx, resendConfirmation));
  return router;
}
