import type { Server } from 'node:http';
import type { Services } from '../app/services.js';
import { seedDemoIfEmpty } from '../content/demo.js';
import { ensureFirstAdmin } from '../../editors/bootstrap.js';
import { startScheduler } from '../../scheduler/scheduler-service.js';
import { startAndAnnounce } from '../../scheduler/bounces/bounce-intake.js';
import { UnsubscribeRetry } from '../../subscribers/unsubscribe-retry.js';
import { createWebApp } from './server.js';
import { startWebhookRelay } from '../../api/webhooks/webhook-relay.js';

export interface ServeOptions {
  stdout: NodeJS.WritableStream;
  /** Resolves when the caller wants the server stopped; defaults to SIGINT/SIGTERM. */
  until?: Promise<void>;
}

function signalled(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

/** `newsletter serve` / `npm start`: demo content on an empty database, web server and scheduler. */
export async function serve(services: Services, options: ServeOptions): Promise<void> {
  const { config, logger } = services;
  // Listened for before anything starts: a SIGTERM during start-up (a process manager stopping a
  // service that is still starting) is then a clean stop once start-up is done, not a kill.
  const stopRequested = options.until ?? signalled();
  const seeded = config.demo ? await seedDemoIfEmpty(services) : null;
  if (seeded) options.stdout.write(`Loaded the demo issue "${seeded}" into an empty database\n`);
  await ensureFirstAdmin(services, options.stdout);

  const app = createWebApp(services);
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(config.port, config.host, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  options.stdout.write(`Serving on http://${config.host === '127.0.0.1' ? 'localhost' : config.host}:${port}\n`);
  if (seeded) options.stdout.write(`Demo issue: http://localhost:${port}/issues/${seeded}\n`);
  const scheduler = await startScheduler(services);
  const bounces = await startAndAnnounce(services, options.stdout);
  // One-click unsubscribes that were recorded but not applied are applied now and every 5 s.
  const unsubscribes = new UnsubscribeRetry({ db: services.db, logger });
  unsubscribes.start();
  const webhooks = startWebhookRelay(services);
  logger.info({ port, host: config.host, mail: services.config.smtpUrl ? 'smtp' : 'outbox' }, 'started');

  await stopRequested;
  logger.info('stopping');
  await webhooks.stop();
  await bounces.stop();
  await scheduler.stop();
  await unsubscribes.stop();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  // Every click the server answered is written before the process ends (a graceful stop loses none).
  await services.clicks.stop();
}
