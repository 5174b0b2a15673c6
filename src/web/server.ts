import express, { type ErrorRequestHandler, type Express } from 'express';
import helmet from 'helmet';
import { sql } from 'kysely';
import path from 'node:path';
import { PROJECT_ROOT } from '../config/config.js';
import type { Services } from '../app/services.js';
import { getPublication } from '../content/content-repository.js';
import { createIssuesRouter } from './issues-routes.js';
import { createSubscriberRouter } from '../../subscribers/routes.js';
import { createAdminRouter } from '../../editors/router.js';
import { createWebhookRouter, type WebhookOptions } from '../../scheduler/bounces/webhooks/webhook-routes.js';
import { largeFormLimit } from '../../editors/form-limits.js';
import { formatBytes, PUBLIC_FORM_BYTES } from '../http/form-body.js';
import { createApiRouter } from '../../api/api-router.js';
import { createApiKeyAdminRouter } from '../../api/admin-routes.js';
import { createWebhookAdminRouter } from '../../api/webhooks/webhook-admin-routes.js';
import { createEmbedAdminRouter } from '../../api/embed-admin-routes.js';
import { createReportRouter } from '../../api/reports/report-routes.js';
import { createRedirectRouter } from '../tracking/redirect-routes.js';

export interface WebAppOptions {
  /** Webhook verification settings only tests change (see scheduler/bounces/webhooks/). */
  webhooks?: WebhookOptions;
}

/** Builds the whole HTTP app: public site, subscriber pages, editors' app, webhooks, media and health. */
export function createWebApp(services: Services, options: WebAppOptions = {}): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  const securityHeaders = helmet({
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        'style-src': ["'self'"],
        'img-src': ["'self'", 'https:', 'data:'],
        'form-action': ["'self'"],
        'frame-ancestors': ["'self'"],
        'upgrade-insecure-requests': null,
      },
    },
    // Email previews are shown in same-origin iframes of the editors' app.
    frameguard: { action: 'sameorigin' },
  });
  // Tracked links and the open pixel first, before the security headers: the busiest routes, they
  // answer a 302 or an image with no body a browser renders (their error page gets the headers).
  app.use(
    createRedirectRouter({
      db: services.db,
      views: services.views,
      secretKey: services.config.secretKey,
      scannerSeconds: services.config.tracking.scannerSeconds,
      recorder: services.clicks,
      pageHeaders: securityHeaders,
    }),
  );
  app.use(securityHeaders);
  // Before the body parsers: webhooks read their bodies raw (signatures cover the exact bytes).
  app.use('/webhooks', createWebhookRouter(services, options.webhooks));
  // The JSON API parses its own bodies (an import is larger than a form) and answers problem+json.
  app.use('/api/v1', createApiRouter(services, { rateLimitPerMinute: services.config.api.rateLimitPerMinute }));
  // The editors' large forms (an about text, a glossary) are parsed by the editors' app after
  // sign-in, with limits that follow from their fields; every other form is held to 64 kB.
  const forms = express.urlencoded({ extended: false, limit: PUBLIC_FORM_BYTES });
  app.use((req, res, next) =>
    req.path.startsWith('/admin/') && largeFormLimit(req.path.slice('/admin'.length)) !== null
      ? next()
      : forms(req, res, next),
  );
  app.use(express.json({ limit: '256kb' }));
  app.use('/assets', express.static(path.join(PROJECT_ROOT, 'public'), { maxAge: '1h' }));
  app.use('/media', express.static(services.config.mediaDir, { maxAge: '7d', fallthrough: true }));

  app.get('/healthz', async (_req, res) => {
    res.set('Cache-Control', 'no-store');
    try {
      await sql`select 1`.execute(services.db);
    } catch {
      res.status(503).type('text/plain').send('database unavailable');
      return;
    }
    const storage = await services.storage.check(services.db);
    if (storage.writable) res.type('text/plain').send('ok');
    else res.status(503).type('text/plain').send(`database cannot be written (${storage.reason})`);
  });
  app.get('/', (_req, res) => res.redirect('/issues'));
  // Browsers and feed readers ask for /favicon.ico whatever the page links; one icon answers both.
  app.get('/favicon.ico', (_req, res) => res.redirect(301, '/assets/favicon.svg'));

  app.use(createIssuesRouter(services));
  app.use(createSubscriberRouter(services));
  app.use(
    '/admin',
    createAdminRouter(services, [
      createApiKeyAdminRouter,
      createWebhookAdminRouter,
      createEmbedAdminRouter,
      createReportRouter,
    ]),
  );

  app.use(async (_req, res) => {
    res.status(404).send(
      services.views.render('message', {
        title: 'Not found',
        heading: 'Page not found',
        message: 'There is nothing at this address.',
        publication: await getPublication(services.db),
      }),
    );
  });
  const onError: ErrorRequestHandler = (error: unknown, _req, res, _next) => {
    const status = (error as { status?: number }).status ?? 500;
    if ((error as { type?: string }).type === 'entity.too.large') {
      const limit = (error as { limit?: number }).limit ?? PUBLIC_FORM_BYTES;
      res
        .status(413)
        .type('text/plain')
        .send(
          `The form was larger than the ${formatBytes(limit)} it may hold; nothing was saved. Go back and shorten it.`,
        );
      return;
    }
    if (status >= 500) services.logger.error({ err: error }, 'request failed');
    res
      .status(status)
      .type('text/plain')
      .send(status >= 500 ? 'Something went wrong; it has been logged.' : (error as Error).message);
  };
  app.use(onError);
  return app;
}
