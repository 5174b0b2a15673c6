import { Router } from 'express';
import type { Services } from '../src/app/services.js';
import { createCsrf } from '../src/http/csrf.js';
import { createManageLinkRouter } from './manage-link.js';
import { createDataRequestRouter } from './data-requests.js';
import { createPreferencesRouter } from './preferences.js';
import { createEmbedRouter } from './embed.js';
import { createSignupRouter, signupLimiters } from './signup.js';
import { subscriberMailFor } from './subscriber-mail.js';
import { createTokens } from './tokens.js';
import { createUnsubscribeRouter } from './unsubscribe.js';
import { renderMessage, type SubscriberWeb } from './web-context.js';

/** The subscriber's pages: /subscribe, /confirm, /preferences (and its export and erase links), /unsubscribe, /manage (README, "Subscribers"). */
export function createSubscriberRouter(services: Services): Router {
  const { config, logger } = services;
  const web: SubscriberWeb = {
    services,
    tokens: createTokens(config.secretKey),
    mail: subscriberMailFor(services),
    csrf: createCsrf({
      secretKey: config.secretKey,
      secure: config.baseUrl.startsWith('https://'),
      onRefused: (_req, res) => {
        renderMessage(web, res, 403, {
          title: 'Form expired',
          heading: 'This form could not be accepted',
          message:
            'The form was not sent from this site, or it was open too long. Nothing has been changed. Go back, reload the page and send it again.',
        }).catch((error: unknown) => logger.error({ err: error }, 'rendering the CSRF refusal failed'));
      },
    }),
    sendInBackground(what, work) {
      work().catch((error: unknown) => logger.error({ err: error }, `sending the ${what} failed`));
    },
  };

  const router = Router();
  const limiters = signupLimiters(web);
  router.use(createSignupRouter(web, limiters));
  router.use(createEmbedRouter(web, limiters));
  router.use(createPreferencesRouter(web));
  router.use(createManageLinkRouter(web));
  router.use(createDataRequestRouter(web));
  router.use(createUnsubscribeRouter(web));
  return router;
}
