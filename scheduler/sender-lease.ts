import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Db } from '../src/db/database.js';
import { nowIso } from '../src/db/database.js';
import { expireSender, listSenders, registerSender, renewSender, retireSender } from './sender-repository.js';

export interface SenderLeaseOptions {
  db: Db;
  /** How long a renewal holds (SEND_LEASE_SECONDS). */
  leaseMs: number;
  logger?: { warn(fields: object, message: string): void };
}

/**
 * One sender's lease (issue 9 item 6, issue 13). The database holds its end, by the database's
 * clock; the sender renews it every third of its length, and only while it has not run out. The
 * sender itself trusts it only while its own monotonic clock says less than two thirds of a lease
 * passed since the last renewal it *sent* that succeeded: a process paused for a minute (SIGSTOP,
 * a VM pause, a swap storm) wakes up knowing its lease is stale and checks before its next
 * message, instead of sending on a lease another sender may have taken over meanwhile.
 * A lost lease is never renewed: the sender stops and comes back, if at all, under a new id, so a
 * late write of its old claims can never pass for a new one.
 */
export class SenderLease {
  readonly id = `${os.hostname()}:${process.pid}:${randomBytes(6).toString('hex')}`;
  /** Messages this sender had accepted by the server (its own count, for operators). */
  sent = 0;
  private confirmedAt = Number.NEGATIVE_INFINITY;
  private lost = false;
  private renewing: Promise<boolean> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastRenew = { at: performance.now(), sent: 0 };
  private readonly lostListeners = new Set<() => void>();

  constructor(private readonly options: SenderLeaseOptions) {}

  get leaseMs(): number {
    return this.options.leaseMs;
  }

  async start(): Promise<void> {
    const sentAt = performance.now();
    await registerSender(this.options.db, this.id, this.options.leaseMs, nowIso());
    this.confirmedAt = sentAt;
    this.timer = setInterval(() => void this.renew(), Math.max(50, Math.floor(this.options.leaseMs / 3)));
    this.timer.unref();
  }

  get isLost(): boolean {
    return this.lost;
  }

  onLost(listener: () => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /** Renews now (one renewal at a time); false once the lease is lost. */
  renew(): Promise<boolean> {
    if (this.lost) return Promise.resolve(false);
    this.renewing ??= this.doRenew().finally(() => {
      this.renewing = null;
    });
    return this.renewing;
  }

  /** True when the lease is surely held right now; renews first when it might not be. */
  async ensure(): Promise<boolean> {
    if (this.lost) return false;
    if (performance.now() - this.confirmedAt < (this.options.leaseMs * 2) / 3) return true;
    return this.renew();
  }

  /** Leaves on purpose: the lease ends and whatever this sender still held goes back to pending. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!this.lost) await retireSender(this.options.db, this.id, nowIso(), this.sent);
    this.lost = true;
  }

  private async doRenew(): Promise<boolean> {
    const sentAt = performance.now();
    const seconds = (sentAt - this.lastRenew.at) / 1000;
    const rate = seconds > 0 ? (this.sent - this.lastRenew.sent) / seconds : 0;
    let held: boolean;
    try {
      held = await renewSender(this.options.db, this.id, this.options.leaseMs, { sent: this.sent, rate });
    } catch (error) {
      // The database is away: the lease simply ages; ensure() stops sending once it is stale.
      this.options.logger?.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'lease renewal failed',
      );
      return performance.now() - this.confirmedAt < (this.options.leaseMs * 2) / 3;
    }
    if (held) {
      this.confirmedAt = sentAt;
      this.lastRenew = { at: sentAt, sent: this.sent };
      return true;
    }
    this.lost = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.options.logger?.warn({ sender: this.id }, 'this sender lost its lease (it was stalled too long); stopping');
    for (const listener of this.lostListeners) listener();
    return false;
  }
}

/**
 * Ends at once the leases of senders on this host whose process is gone (kill -9, a crash): the
 * process table says so for certain, so their claims need not wait for the lease to run out. A
 * process that is only stopped (SIGSTOP) is still there and keeps its lease until it expires.
 */
export async function expireDeadLocalSenders(db: Db): Promise<void> {
  const senders = await listSenders(db, { recentMs: 24 * 3600_000 });
  for (const sender of senders) {
    if (!sender.alive || sender.host !== os.hostname() || sender.pid === process.pid) continue;
    if (processIsGone(sender.pid)) await expireSender(db, sender.id);
  }
}

function processIsGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
