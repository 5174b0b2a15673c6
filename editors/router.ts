import { Router, type ErrorRequestHandler, type Request, type Response } from 'express';
import cookieParser from 'cookie-parser';
import type { Services } from '../src/app/services.js';
import { SessionStore } from './auth/session-store.js';
import { createLoginRouter } from './auth/login-routes.js';
import { parseMultipart, requireCsrf, requireRole, requireSession } from './auth/guards.js';
import { parseFormBody, PUBLIC_FORM_BYTES } from '../src/http/form-body.js';
import { largeFormLimit } from './form-limits.js';
import { handle, HttpError, type AdminContext } from './context.js';
import { renderAdminPage } from './page.js';
import { createAccountRouter } from './account-routes.js';
import { showOverview } from './overview.js';
import { SubscriberCounts } from '../subscribers/subscriber-counts.js';
import { createArticleRouter } from './articles/article-routes.js';
import { createComposerRouter } from './issues/composer-routes.js';
import { createRecordRouter } from './issues/record-routes.js';
import { createPreviewRouter } from './issues/preview-routes.js';
import { createSendingRouter } from './issues/sending-routes.js';
import { createFeedbackRouter } from './issues/feedback-routes.js';
import { createSubscriberAdminRouter } from './subscribers/subscriber-routes.js';
import { createOutboxRouter } from './outbox/outbox-routes.js';
import { createSettingsRouter } from './settings/settings-routes.js';

/**
 * Pages that modules above the editors' app add to it (the web root passes them in): mounted
 * behind sign-in, CSRF and, for paths under /settings, the admin role, like the app's own pages.
 */
export type AdminExtension = (ctx: AdminContext) => Router;

/** The editors' app, mounted at /admin: sign-in first, then content, issues, sending, subscribers, settings. */
export function createAdminRouter(services: Services, extensions: readonly AdminExtension[] = []): Router {
  const ctx: AdminContext = {
    services,
    sessions: new SessionStore(services),
    subscriberCounts: new SubscriberCounts({ db: services.db }),
  };
  const router = Router();
  router.use(cookieParser());
  router.use(createLoginRouter(ctx));

  router.use(requireSession(ctx));
  // Only the large forms reach here unparsed (see src/web/server.ts), and only once signed in.
  router.use(parseFormBody((req) => largeFormLimit(req.path) ?? PUBLIC_FORM_BYTES));
  router.use(parseMultipart());
  router.use(requireCsrf(ctx));

  router.get('/', handle(ctx, showOverview));
  router.use(createAccountRouter(ctx));
  router.use(createArticleRouter(ctx));
  router.use(createComposerRouter(ctx));
  router.use(createRecordRouter(ctx));
  router.use(createPreviewRouter(ctx));
  router.use(createSendingRouter(ctx));
  router.use(createFeedbackRouter(ctx));
  router.use(createSubscriberAdminRouter(ctx));
  router.use(createOutboxRouter(ctx));

  router.use('/settings', requireRole('admin'));
  router.use(createSettingsRouter(ctx));
  for (const extension of extensions) router.use(extension(ctx));

  router.use(async (req: Request, res: Response) => {
    await renderAdminPage(
      ctx,
      req,
      res,
      'message',
      { heading: 'Not found', message: 'There is nothing at this address.' },
      {
        title: 'Not found',
        section: 'home',
        status: 404,
      },
    );
  });
  const onError: ErrorRequestHandler = async (error: unknown, req, res, next) => {
    if (!(error instanceof HttpError) || res.headersSent) return next(error);
    try {
      await renderAdminPage(
        ctx,
        req,
        res,
        'message',
        { heading: error.status === 403 ? 'Not allowed' : 'Cannot do that', message: error.message },
        {
          title: 'Problem',
          section: 'home',
          status: error.status,
        },
      );
    } catch {
      // No session state (e.g. a refusal before sign-in): plain text is enough.
      res.status(error.status).type('text/plain').send(error.message);
    }
  };
  router.use(onError);
  return router;
}
