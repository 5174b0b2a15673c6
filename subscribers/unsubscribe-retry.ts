import type { Db } from '../src/db/database.js';
import type { Logger } from '../src/log/logger.js';
import { applyUnsubscribeRequest, listUnsubscribeRequests, noteUnsubscribeAttempt } from './subscriber-repository.js';

// The durable half of a one-click unsubscribe (unsubscribe.ts records it, then applies it at
// once). A request whose application failed stays in `unsubscribe_requests`; `newsletter serve`
// tries every such request again at start and every few seconds until it holds. The table, not a
// file or the process's memory, holds them: they survive a restart and work the same on any
// database and with several web servers.

export interface UnsubscribeRetryDeps {
  db: Db;
  logger: Logger;
  /** Time between two passes; 5 s unless given. */
  intervalMs?: number;
}

/** Applies up to `limit` recorded unsubscribes, oldest first; returns how many were applied. */
export async function applyRecordedUnsubscribes(db: Db, logger: Logger, limit = 200): Promise<number> {
  let applied = 0;
  for (const request of await listUnsubscribeRequests(db, limit)) {
    try {
      const outcome = await applyUnsubscribeRequest(db, request.id);
      if (outcome !== 'gone') applied++;
      logger.info({ request: request.id, outcome, attempts: request.attempts + 1 }, 'recorded unsubscribe applied');
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      logger.warn({ request: request.id, err: reason }, 'recorded unsubscribe not applied yet; trying again later');
      await noteUnsubscribeAttempt(db, request.id, reason).catch(() => undefined);
    }
  }
  return applied;
}

export class UnsubscribeRetry {
  private timer: NodeJS.Timeout | null = null;
  private pass: Promise<unknown> | null = null;

  constructor(private readonly deps: UnsubscribeRetryDeps) {}

  /** A pass now, then one every interval (passes never overlap). */
  start(): void {
    this.runPass();
    this.timer = setInterval(() => this.runPass(), this.deps.intervalMs ?? 5000);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.pass;
  }

  private runPass(): void {
    if (this.pass) return;
    const { db, logger } = this.deps;
    this.pass = applyRecordedUnsubscribes(db, logger)
      .catch((error: unknown) =>
        logger.error({ err: error instanceof Error ? error.message : String(error) }, 'unsubscribe retry failed'),
      )
      .finally(() => (this.pass = null));
  }
}
