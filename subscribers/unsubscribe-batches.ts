import type { Db } from '../src/db/database.js';
import { unsubscribeByUid, type UnsubscribeOutcome, type UnsubscribeRequest } from './subscriber-repository.js';

// One-click unsubscribes that arrive together are applied together, in one transaction. Each
// transaction waits for the write lock, and while an import runs in another process SQLite leaves
// the lock free only between the import's batches (about 15 ms at a time): with one unsubscribe per
// transaction, a hundred people unsubscribing at once waited in line for gap after gap (p99 2.9 s
// on a loaded machine). The requests are taken once the lock is held, so every request that
// arrived while the transaction waited for it comes along.

type Applied = Exclude<UnsubscribeOutcome, 'gone'>;

interface Waiting {
  request: UnsubscribeRequest;
  resolve: (outcome: Applied) => void;
  reject: (error: unknown) => void;
}

/** At most this many unsubscribes per transaction: a transaction stays a few milliseconds long. */
const MAX_PER_TRANSACTION = 100;

export class UnsubscribeBatches {
  private readonly waiting: Waiting[] = [];
  private running = false;

  constructor(private readonly db: Db) {}

  /** Applies the unsubscribe with the others waiting now; the outcome once their transaction commits. */
  apply(request: UnsubscribeRequest): Promise<Applied> {
    const applied = new Promise<Applied>((resolve, reject) => this.waiting.push({ request, resolve, reject }));
    if (!this.running) void this.run();
    return applied;
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.waiting.length > 0) await this.applyNext();
    } finally {
      this.running = false;
    }
  }

  private async applyNext(): Promise<void> {
    let taken: Waiting[] = [];
    try {
      const outcomes = await this.db.transaction().execute(async (trx) => {
        taken = this.waiting.splice(0, MAX_PER_TRANSACTION);
        const applied: Applied[] = [];
        for (const { request } of taken) applied.push(await unsubscribeByUid(trx, request));
        return applied;
      });
      taken.forEach((w, i) => w.resolve(outcomes[i] as Applied));
    } catch (error) {
      // The transaction never began (the lock stayed held too long) or rolled back: each caller
      // records its request for the retry instead (unsubscribe.ts).
      if (taken.length === 0) taken = this.waiting.splice(0, MAX_PER_TRANSACTION);
      for (const w of taken) w.reject(error);
    }
  }
}
