import type { Db } from '../src/db/database.js';
import { takeSendTokens } from './sender-repository.js';

/**
 * SEND_RATE_LIMIT for the whole cluster (issue 13): one token bucket in the database that every
 * sender draws from, a few tokens at a time (a tenth of a second's worth at most), so the rate
 * holds across any number of senders while the bucket's row is written a handful of times per
 * second, not once per message. The bucket holds at most half a second's worth: a burst after a
 * pause stays small, and a sender that comes back a little late (a loaded machine, two round trips
 * to PostgreSQL) finds the tokens that accrued meanwhile instead of losing them to a full bucket.
 */
export class ClusterRateLimiter {
  private tokens = 0;
  private fetching: Promise<void> | null = null;
  private readonly chunk: number;
  private readonly capacity: number;

  constructor(
    private readonly db: Db,
    private readonly perSecond: number,
  ) {
    this.chunk = Math.max(1, Math.min(20, Math.floor(perSecond / 10)));
    this.capacity = Math.max(this.chunk, Math.ceil(perSecond / 2));
  }

  /** Resolves when this sender may send one more message. */
  async acquire(): Promise<void> {
    while (this.tokens === 0) {
      this.fetching ??= this.fetch().finally(() => {
        this.fetching = null;
      });
      await this.fetching;
    }
    this.tokens--;
  }

  private async fetch(): Promise<void> {
    for (;;) {
      if (await takeSendTokens(this.db, this.chunk, this.perSecond, this.capacity)) {
        this.tokens += this.chunk;
        return;
      }
      // Empty: wait about as long as the bucket takes to refill one chunk, then ask again.
      await new Promise((resolve) => setTimeout(resolve, Math.max(5, (this.chunk * 1000) / this.perSecond / 2)));
    }
  }
}
