import cron from 'node-cron';
import type { Services } from '../src/app/services.js';
import { nowIso } from '../src/db/database.js';
import { listDueIssues, listIssuesWithStatus } from './delivery-repository.js';
import { registryFor, startSend, stopAllSends } from './send-control.js';
import type { SendTuning } from './send-manager.js';

export interface RunningScheduler {
  /** Stops the cron tick and drains in-flight sends. */
  stop(): Promise<void>;
  /** Starts what is due now (what the cron tick runs every minute); for tests and the admin app. */
  tick(): Promise<string[]>;
}

export interface SchedulerOptions {
  /** Cron expression of the tick; every minute by default. */
  cronExpression?: string;
  /** Engine tuning for sends started by this scheduler (tests use short retry delays). */
  tuning?: Partial<SendTuning>;
}

/**
 * `newsletter serve`'s scheduler. At start it reconciles, because node-cron 4 does not run ticks
 * missed while the process was down: an issue whose time passed meanwhile starts now, and an
 * interrupted send (status `sending`, nobody holding its lease) resumes. Then a tick every
 * minute does the same; node-cron's `noOverlap` keeps ticks from piling up. Sends run in the
 * background of this process; a paused issue waits for an editor.
 */
export async function startScheduler(services: Services, options: SchedulerOptions = {}): Promise<RunningScheduler> {
  const registry = registryFor(services);
  registry.schedulerRunning = true;
  registry.tuning = options.tuning ?? {};
  const logger = services.logger.child({ component: 'scheduler' });

  const tick = async (): Promise<string[]> => {
    const started: string[] = [];
    const due = await listDueIssues(services.db, nowIso());
    const interrupted = await listIssuesWithStatus(services.db, 'sending');
    for (const issue of [...due, ...interrupted]) {
      if (registry.active.has(issue.id)) continue;
      try {
        const status = await startSend(services, issue.slug, { resumePaused: false });
        if (status.sender?.thisProcess) {
          started.push(issue.slug);
          logger.info(
            { issue: issue.slug, sendAt: issue.send_at, resumed: issue.status === 'sending' },
            'send started by the scheduler',
          );
        }
      } catch (error) {
        logger.error(
          { issue: issue.slug, err: error instanceof Error ? error.message : String(error) },
          'could not start a send',
        );
      }
    }
    return started;
  };

  await tick().catch((error: unknown) => {
    logger.error({ err: error instanceof Error ? error.message : String(error) }, 'reconcile at start failed');
  });
  const task = cron.schedule(
    options.cronExpression ?? '* * * * *',
    async () => {
      await tick();
    },
    { name: 'newsletter-send-tick', noOverlap: true },
  );
  task.on('execution:failed', (context) => {
    logger.error({ err: context.execution?.error?.message }, 'scheduler tick failed');
  });
  logger.info({ zone: services.config.scheduleTz }, 'scheduler started');

  return {
    tick,
    async stop() {
      await task.destroy();
      registry.schedulerRunning = false;
      await stopAllSends(services);
      logger.info('scheduler stopped');
    },
  };
}
