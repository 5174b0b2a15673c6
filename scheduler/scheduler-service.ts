import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Services } from '../src/app/services.js';
import { readDbNowMs } from './db-clock.js';
import { listDueIssues } from './delivery-repository.js';
import { schedulerLeadership } from './leader.js';
import { registryFor, startSend } from './send-control.js';
import type { SendTuning } from './send-manager.js';
import { SendWorker } from './send-worker.js';

export interface RunningScheduler {
  /** Stops the tick and this process's sender (after its messages in flight). */
  stop(): Promise<void>;
  /** Starts what is due now, if this process leads (what the tick runs); for tests and the admin app. */
  tick(): Promise<string[]>;
}

export interface SchedulerOptions {
  /** Milliseconds between ticks; SCHEDULER_TICK_SECONDS by default (a minute). */
  tickMs?: number;
  /** Run a sender in this process too; SEND_WORKER by default. */
  worker?: boolean;
  /** Engine tuning for this process's sender (tests use short retry delays). */
  tuning?: Partial<SendTuning>;
}

/**
 * `newsletter serve`'s scheduler and sender. The tick that starts due issues runs on one process of
 * the cluster at a time: the one holding the scheduler's lock (PostgreSQL: an advisory lock that
 * dies with its session; SQLite: a lease in `leader_locks`). It runs at start too, so an issue whose
 * time passed while every process was down starts at once. Starting an issue only plans it and makes
 * it `sending`; the senders of every process (this one's included, unless SEND_WORKER=false) send it.
 */
export function startScheduler(services: Services, options: SchedulerOptions = {}): Promise<RunningScheduler> {
  const logger = services.logger.child({ component: 'scheduler' });
  const tickMs = options.tickMs ?? services.config.schedulerTickMs;
  const holder = `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  // The lead lasts a tick and is renewed three times per tick, whatever a tick's own work takes.
  const leadership = schedulerLeadership(services.db, holder, tickMs);
  let leading = false;

  // Asked at each tick and renewed three times per tick, which is also when a leader finds out it lost
  // the lead (its lease taken over, or its PostgreSQL session ended under it).
  const lead = async (): Promise<boolean> => {
    const leads = await leadership.acquire();
    if (leads !== leading) logger.info({ holder }, leads ? 'this process now runs the scheduler' : 'lost the lead');
    leading = leads;
    return leads;
  };

  const tick = async (): Promise<string[]> => {
    if (!(await lead())) return [];
    const started: string[] = [];
    // Due by the database's clock: a leader whose own clock runs ahead starts nothing early.
    const now = new Date(await readDbNowMs(services.db)).toISOString();
    for (const issue of await listDueIssues(services.db, now)) {
      try {
        await startSend(services, issue.slug, { resumePaused: false });
        started.push(issue.slug);
        logger.info({ issue: issue.slug, sendAt: issue.send_at }, 'send started by the scheduler');
      } catch (error) {
        logger.error(
          { issue: issue.slug, err: error instanceof Error ? error.message : String(error) },
          'could not start a send',
        );
      }
    }
    return started;
  };

  const registry = registryFor(services);
  let worker: SendWorker | null = null;
  let workerDone: Promise<void> = Promise.resolve();
  if (options.worker ?? services.config.sendWorker) {
    worker = new SendWorker(services, { tuning: options.tuning });
    registry.workers.add(worker);
    workerDone = worker.run().catch((error: unknown) => {
      logger.error({ err: error instanceof Error ? error.stack : String(error) }, 'the sender stopped on an error');
    });
  }

  let ticking: Promise<unknown> = tick().catch((error: unknown) => {
    logger.error({ err: error instanceof Error ? error.message : String(error) }, 'scheduler tick failed');
  });
  const runTick = () => {
    // Ticks never overlap: a slow one (planning a long list) delays the next.
    ticking = ticking.then(() =>
      tick().catch((error: unknown) => {
        logger.error({ err: error instanceof Error ? error.message : String(error) }, 'scheduler tick failed');
      }),
    );
  };
  const timer = setInterval(runTick, tickMs);
  const renew = setInterval(
    () => {
      if (leading) void lead().catch(() => {});
    },
    Math.max(50, Math.floor(tickMs / 3)),
  );
  logger.info({ zone: services.config.scheduleTz, tickMs, sender: worker !== null }, 'scheduler started');

  return Promise.resolve({
    tick,
    async stop() {
      clearInterval(timer);
      clearInterval(renew);
      await ticking;
      await leadership.release();
      worker?.stop();
      await workerDone;
      if (worker) registry.workers.delete(worker);
      logger.info('scheduler stopped');
    },
  });
}
