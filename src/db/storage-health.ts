import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from './database.js';

// Whether the database can be written, for /healthz. `select 1` answered ok on a full disk while
// every write failed. The check writes a row (at most once a second, so a busy health checker
// costs nothing), and any storage error a query met in the last minute counts too: on a full disk a
// one-row write may still fit where an import does not.
//
// The probe row needs the write lock like any writer, and an import in another process holds it for
// a batch at a time: /healthz waited for the batch (p99 up to 885 ms during an import). A failing
// disk answers a write at once, so the check waits for its probe only PROBE_WAIT_MS; a probe still
// waiting for the lock then leaves the answer to the last probe, if that one is at most LAST_PROBE_MS old.

/**
 * Errors of the storage under the database, not of a query: a full disk, a read-only file, I/O.
 * PostgreSQL's are SQLSTATEs: 53100 disk_full, 58030 io_error, 25006 read_only_sql_transaction (a
 * standby, or default_transaction_read_only).
 */
const STORAGE_ERROR =
  /^(SQLITE_(FULL|IOERR|READONLY|CANTOPEN|CORRUPT|NOTADB)|ENOSPC|EROFS|EIO|EDQUOT|53100$|58030$|25006$)/;
const RECENT_MS = 60_000;
const PROBE_EVERY_MS = 1_000;
const PROBE_WAIT_MS = 20;
const LAST_PROBE_MS = 10_000;

export type StorageState = { writable: true } | { writable: false; reason: string };

export class StorageHealth {
  private lastError: { message: string; at: number } | null = null;
  private probe: { at: number; state: Promise<StorageState> } | null = null;
  private lastProbe: { at: number; state: StorageState } | null = null;

  constructor(private readonly now: () => number = Date.now) {}

  /** Called with every failed query's error; keeps those that say the storage is failing. */
  record(error: unknown): void {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && STORAGE_ERROR.test(code)) {
      this.lastError = { message: `${code}: ${error instanceof Error ? error.message : ''}`, at: this.now() };
    }
  }

  /** Writes the probe row (or reuses the last second's answer) and weighs recent storage errors. */
  async check(db: Db): Promise<StorageState> {
    const at = this.now();
    if (!this.probe || at - this.probe.at >= PROBE_EVERY_MS) {
      const state = this.write(db).then((written) => {
        this.lastProbe = { at: this.now(), state: written };
        return written;
      });
      this.probe = { at, state };
    }
    const last = this.lastProbe;
    const probed =
      last && at - last.at < LAST_PROBE_MS
        ? await Promise.race([this.probe.state, sleep(PROBE_WAIT_MS, last.state, { ref: false })])
        : await this.probe.state;
    if (!probed.writable) return probed;
    if (this.lastError && at - this.lastError.at < RECENT_MS) {
      return {
        writable: false,
        reason: `a write failed ${Math.round((at - this.lastError.at) / 1000)} s ago: ${this.lastError.message}`,
      };
    }
    return probed;
  }

  private async write(db: Db): Promise<StorageState> {
    try {
      await db
        .updateTable('health_probe')
        .set({ checked_at: new Date(this.now()).toISOString() })
        .where('id', '=', 1)
        .execute();
      return { writable: true };
    } catch (error) {
      this.record(error);
      const code = (error as { code?: unknown }).code;
      return {
        writable: false,
        reason: `${typeof code === 'string' ? `${code}: ` : ''}${error instanceof Error ? error.message : String(error)}`,
      };
    }
  }
}
