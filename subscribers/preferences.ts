import { Router, type Request, type Response } from 'express';
import { listTopics } from '../src/content/content-repository.js';
import type { SubscriberStatus } from '../src/db/schema.js';
import { getTrackingSettings } from '../src/tracking/tracking-repository.js';
import { dataRequestLimiter, mailDataLink } from './data-requests.js';
import { cleanName, MAX_NAME_LENGTH, readForm, topicChoices, topicList, type FieldError } from './form-input.js';
import {
  activateSubscriber,
  findSubscriberByUid,
  hasTrackingOptIn,
  resolveTopicSlugs,
  setTrackingOptIn,
  updateSubscriberProfile,
  withdrawSubscriber,
  type Subscriber,
} from './subscriber-repository.js';
import {
  consentContext,
  renderMessage,
  renderPage,
  renderUnknownSubscriber,
  requireToken,
  tokenFromQuery,
  type SubscriberWeb,
} from './web-context.js';

// GET/POST /preferences?token=… : change topics and name, unsubscribe (or come back), and ask for
// the link to download everything held as JSON or to erase everything (mailed to the address
// itself: data-requests.ts).

const STATUS_TEXT: Record<SubscriberStatus, string> = {
  pending: 'Your subscription waits for confirmation: open the link in the confirmation email we sent you.',
  active: 'You receive the newsletter.',
  unsubscribed: 'You are unsubscribed and receive no issues.',
  bounced: 'Mail to this address bounced, so we stopped sending. Sign up again to start receiving it.',
  complained:
    'An issue was reported as spam from this address, so we stopped sending. Sign up again to start receiving it.',
};

interface PageState {
  notice?: string;
  errors?: FieldError[];
  name?: string;
  topics?: string[];
}

async function renderPreferences(
  web: SubscriberWeb,
  req: Request,
  res: Response,
  status: number,
  subscriber: Subscriber,
  state: PageState = {},
): Promise<void> {
  const topics = await listTopics(web.services.db);
  const errors = state.errors ?? [];
  // The choice is offered only when the publication tracks individually (README: Engagement analytics).
  const tracking =
    (await getTrackingSettings(web.services.db)).level === 'individual'
      ? { optedIn: await hasTrackingOptIn(web.services.db, subscriber.id) }
      : null;
  await renderPage(web, res, status, 'preferences', {
    title: errors.length > 0 ? 'Error: Your subscription' : 'Your subscription',
    noindex: true,
    csrfToken: web.csrf.token(req, res),
    formAction: `/preferences?token=${tokenFromQuery(req)}`,
    subscriber: { email: subscriber.email, name: state.name ?? subscriber.name },
    statusText: STATUS_TEXT[subscriber.status],
    isSubscribed: subscriber.status === 'active' || subscriber.status === 'pending',
    canResubscribe: subscriber.status === 'unsubscribed',
    topics: topicChoices(topics, state.topics ?? subscriber.topicSlugs),
    notice: state.notice,
    errors,
    errorFor: Object.fromEntries(errors.map((e) => [e.field, e.message])),
    maxNameLength: MAX_NAME_LENGTH,
    tracking,
  });
}

export function createPreferencesRouter(web: SubscriberWeb): Router {
  const router = Router();
  const { db } = web.services;

  router.get('/preferences', web.csrf.cookies, async (req, res) => {
    const check = await requireToken(web, req, res, 'manage');
    if (!check) return;
    const subscriber = await findSubscriberByUid(db, check.uid);
    if (!subscriber) return renderUnknownSubscriber(web, res);
    await renderPreferences(web, req, res, 200, subscriber);
  });

  router.post('/preferences', web.csrf.cookies, web.csrf.protect, dataRequestLimiter(web), async (req, res) => {
    const check = await requireToken(web, req, res, 'manage');
    if (!check) return;
    const subscriber = await findSubscriberByUid(db, check.uid);
    if (!subscriber) return renderUnknownSubscriber(web, res);
    const form = readForm(req.body);
    const context = consentContext(req, 'preferences');

    switch (form?.action) {
      case 'save': {
        const name = cleanName(form.name);
        const topics = topicList(form.topics);
        const resolved = await resolveTopicSlugs(db, topics);
        const errors: FieldError[] = [];
        if (name.length > MAX_NAME_LENGTH) {
          errors.push({ field: 'name', message: `Your name can be at most ${MAX_NAME_LENGTH} characters long.` });
        }
        if (resolved.unknown.length > 0) errors.push({ field: 'topics', message: 'Choose topics from the list.' });
        if (errors.length > 0) {
          return renderPreferences(web, req, res, 400, subscriber, {
            errors,
            name: name.slice(0, MAX_NAME_LENGTH * 2),
            topics,
          });
        }
        const changed = await updateSubscriberProfile(
          db,
          subscriber,
          { name, topicIds: resolved.ids },
          'preferences-changed',
          context,
        );
        const updated = (await findSubscriberByUid(db, subscriber.uid)) ?? subscriber;
        return renderPreferences(web, req, res, 200, updated, {
          notice: changed ? 'Your choices are saved.' : 'Nothing to save: your choices were already like this.',
        });
      }
      case 'unsubscribe': {
        await withdrawSubscriber(db, subscriber.id, 'unsubscribed', 'unsubscribe', context);
        const updated = (await findSubscriberByUid(db, subscriber.uid)) ?? subscriber;
        return renderPreferences(web, req, res, 200, updated, {
          notice: 'You are unsubscribed. You will receive no more issues.',
        });
      }
      case 'resubscribe': {
        const done = await activateSubscriber(db, subscriber.id, ['unsubscribed'], 'resubscribe', context);
        const updated = (await findSubscriberByUid(db, subscriber.uid)) ?? subscriber;
        return renderPreferences(web, req, res, done ? 200 : 409, updated, {
          notice: done
            ? 'Welcome back: you receive the newsletter again.'
            : 'Only an unsubscribed address can subscribe again here.',
        });
      }
      case 'tracking-on':
      case 'tracking-off': {
        const optIn = form.action === 'tracking-on';
        await setTrackingOptIn(db, subscriber.id, optIn, context);
        return renderPreferences(web, req, res, 200, subscriber, {
          notice: optIn
            ? 'We now record which links you click.'
            : 'We no longer record which links you click; clicks are only counted.',
        });
      }
      case 'export':
      case 'erase': {
        const notice = await mailDataLink(web, subscriber, form.action);
        return renderPreferences(web, req, res, 200, subscriber, { notice });
      }
      default:
        return renderMessage(web, res, 400, {
          title: 'Unknown request',
          heading: 'We did not understand that request',
          message: 'Use the buttons on your preferences page.',
        });
    }
  });

  return router;
}
