import express, { type Request, type Response, type Router } from 'express';
import type { Services } from '../../../src/app/services.js';
import { bounceAddresses, createFeedbackProcessor } from '../bounce-intake.js';
import type { FeedbackProcessor } from '../feedback-processor.js';
import { MailgunWebhook } from './mailgun.js';
import { PostmarkWebhook } from './postmark.js';
import { WebhookRejection, type WebhookProvider } from './provider.js';
import { SendgridWebhook } from './sendgrid.js';
import { SesWebhook } from './ses.js';
import { SnsVerifier, type SnsVerifierOptions } from './sns-verifier.js';

// POST /webhooks/<provider>: each configured provider's events go into the feedback pipeline. A
// request whose signature (or credentials) fails is answered 401 and changes nothing. The body is
// read raw, before any body parser, because SendGrid signs its exact bytes and SNS posts JSON as
// text/plain. An error of ours answers 500, and the provider delivers the event again later.

export interface WebhookOptions {
  /** Only tests set this: a certificate host on loopback and an agent that trusts it. */
  sns?: SnsVerifierOptions;
}

const MAX_BODY = '1mb';

export function configuredProviders(services: Services, options: WebhookOptions): Map<string, WebhookProvider> {
  const { config } = services;
  const addresses = bounceAddresses(config);
  const providers: WebhookProvider[] = [
    new SesWebhook({
      verifier: new SnsVerifier(options.sns),
      addresses,
      topicArns: config.bounces.sesTopicArns,
      logger: services.logger,
    }),
  ];
  if (config.bounces.mailgunSigningKey) {
    providers.push(new MailgunWebhook({ signingKey: config.bounces.mailgunSigningKey, addresses }));
  }
  if (config.bounces.postmarkAuth) providers.push(new PostmarkWebhook({ credentials: config.bounces.postmarkAuth }));
  if (config.bounces.sendgridPublicKey) {
    providers.push(new SendgridWebhook({ publicKey: config.bounces.sendgridPublicKey }));
  }
  return new Map(providers.map((p) => [p.name, p]));
}

export function createWebhookRouter(services: Services, options: WebhookOptions = {}): Router {
  const providers = configuredProviders(services, options);
  const processor = createFeedbackProcessor(services);
  const logger = services.logger.child({ component: 'webhooks' });
  const router = express.Router();
  router.post(
    '/:provider',
    express.raw({ type: () => true, limit: MAX_BODY }),
    (req: Request<{ provider: string }>, res: Response) => receiveWebhook(req, res, { providers, processor, logger }),
  );
  return router;
}

interface WebhookContext {
  providers: Map<string, WebhookProvider>;
  processor: Pick<FeedbackProcessor, 'apply'>;
  logger: Services['logger'];
}

async function receiveWebhook(req: Request<{ provider: string }>, res: Response, ctx: WebhookContext): Promise<void> {
  const provider = ctx.providers.get(req.params.provider);
  if (!provider) {
    res.status(404).type('text/plain').send(`No webhook for "${req.params.provider}" is configured here`);
    return;
  }
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  let reports;
  try {
    reports = await provider.receive({ headers: req.headers, body });
  } catch (error) {
    if (!(error instanceof WebhookRejection)) throw error;
    ctx.logger.warn(
      { provider: provider.name, status: error.status, reason: error.message, ip: req.ip },
      'webhook refused',
    );
    res.status(error.status).type('text/plain').send(error.message);
    return;
  }
  let applied = 0;
  let duplicates = 0;
  for (const report of reports) {
    const result = await ctx.processor.apply(report);
    if (result.applied) applied++;
    else duplicates++;
  }
  res.json({ events: reports.length, applied, duplicates });
}
