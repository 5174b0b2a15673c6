import { createHmac } from 'node:crypto';
import { sql } from 'kysely';
import type { ClientRateLimitInfo, IncrementResponse, Options, Store } from 'express-rate-limit';
import type { Db } from '../db/database.js';

export interface SqlRateLimitStoreOptions {
  db: Db;
  /** Keys are stored as an HMAC under this secret: no address or IP sits in the table. */
  secret: string;
  /** Names the limiter, so two limiters counting the same client keep two counts. */
  prefix: string;
  /** Epoch milliseconds; tests pass their own. */
  now?: () => number;
}

/** Every this many increments, a process deletes the windows that have ended. */
const SWEEP_EVERY = 500;

/**
 * express-rate-limit's counts in the database (table `rate_limits`, migration 004), so every web
 * process sharing the database shares them: two servers behind one address allow as many sign-ups
 * or failed sign-ins as one does. One statement per hit (an upsert that starts a new window when
 * the old one ended), atomic on SQLite and PostgreSQL alike.
 */
export class SqlRateLimitStore implements Store {
  readonly localKeys = false;
  readonly prefix: string;
  private windowMs = 60_000;
  private increments = 0;
  private readonly now: () => number;

  constructor(private readonly options: SqlRateLimitStoreOptions) {
    this.prefix = options.prefix;
    this.now = options.now ?? Date.now;
  }

  init(options: Options): void {
    this.windowMs = options.windowMs;
  }

  private keyOf(key: string): string {
    return createHmac('sha256', this.options.secret).update(`${this.prefix}:${key}`).digest('base64url');
  }

  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    const row = await this.options.db
      .selectFrom('rate_limits')
      .select(['hits', 'reset_ms'])
      .where('key', '=', this.keyOf(key))
      .where('reset_ms', '>', this.now())
      .executeTakeFirst();
    return row ? { totalHits: row.hits, resetTime: new Date(row.reset_ms) } : undefined;
  }

  async increment(key: string): Promise<IncrementResponse> {
    const now = this.now();
    const resetMs = now + this.windowMs;
    const ended = sql<boolean>`${sql.ref('rate_limits.reset_ms')} <= ${now}`;
    const row = await this.options.db
      .insertInto('rate_limits')
      .values({ key: this.keyOf(key), hits: 1, reset_ms: resetMs })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet({
          hits: sql<number>`case when ${ended} then 1 else ${sql.ref('rate_limits.hits')} + 1 end`,
          reset_ms: sql<number>`case when ${ended} then ${resetMs} else ${sql.ref('rate_limits.reset_ms')} end`,
        }),
      )
      .returning(['hits', 'reset_ms'])
      .executeTakeFirstOrThrow();
    if (++this.increments % SWEEP_EVERY === 0) {
      await this.options.db.deleteFrom('rate_limits').where('reset_ms', '<=', now).execute();
    }
    return { totalHits: row.hits, resetTime: new Date(row.reset_ms) };
  }

  async decrement(key: string): Promise<void> {
    try {
      await this.options.db
        .updateTable('rate_limits')
        .set({ hits: sql<number>`case when hits > 0 then hits - 1 else 0 end` })
        .where('key', '=', this.keyOf(key))
        .where('reset_ms', '>', this.now())
        .execute();
    } catch {
      // express-rate-limit decrements after the response has gone (a sign-in that succeeded), where
      // nobody awaits it: a failure there would be an unhandled rejection that ends the process.
      // The hit then stays counted, which errs on the limiting side.
    }
  }

  async resetKey(key: string): Promise<void> {
    await this.options.db.deleteFrom('rate_limits').where('key', '=', this.keyOf(key)).execute();
  }
}
