import type { TrackedKind } from './click-token.js';
import type { MachineReason } from './machine-clicks.js';
import type { CountBatch } from './tracking-repository.js';

// Clicks are recorded off the request path: the redirect puts the click in memory and answers;
// every `flushMs` (or once `maxPending` wait) the waiting clicks are written in one transaction as
// counts per link (tracking-repository.ts `addCounts`). `stop()` writes everything still waiting, so
// a graceful stop (SIGTERM) loses no click; a crash loses at most the last second's.
//
// A click waits at least `burstWindowMs` before it is written, because one rule needs the clicks
// that follow it: a message whose links are followed several at once (`burstLinks` different links
// within `burstWindowMs` from one address) is a scanner's, so all of those clicks count as machine.
// The address is held only in memory, for those few seconds, never stored.

export interface RecordedClick {
  linkId: number;
  kind: TrackedKind;
  at: number;
  /** The rules of machine-clicks.ts that need only this request; null: looks like a reader. */
  machine: MachineReason | null;
  /** Only at `individual` for a reader who opted in (the tag names them); checked again at write. */
  subscriberId: number | null;
  /** One message from one address: the message's tag and the client's address. */
  messageKey: string;
}

export interface CountWriter {
  addCounts(batch: CountBatch): Promise<void>;
}

export interface ClickRecorderOptions {
  flushMs?: number;
  maxPending?: number;
  burstWindowMs?: number;
  burstLinks?: number;
  now?: () => number;
  onError?: (error: unknown) => void;
}

export class ClickRecorder {
  private pending: RecordedClick[] = [];
  /** Recent clicks by message (pending or written), for the burst rule; pruned by age. */
  private readonly recent = new Map<string, RecordedClick[]>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly flushMs: number;
  private readonly maxPending: number;
  private readonly burstWindowMs: number;
  private readonly burstLinks: number;
  private readonly now: () => number;

  constructor(
    private readonly writer: CountWriter,
    private readonly options: ClickRecorderOptions = {},
  ) {
    this.flushMs = options.flushMs ?? 1000;
    this.maxPending = options.maxPending ?? 5000;
    this.burstWindowMs = options.burstWindowMs ?? 1000;
    this.burstLinks = options.burstLinks ?? 3;
    this.now = options.now ?? Date.now;
  }

  /** Clicks waiting to be written (for tests and diagnostics). */
  get waiting(): number {
    return this.pending.length;
  }

  record(click: RecordedClick): void {
    this.pending.push(click);
    const list = this.recent.get(click.messageKey);
    if (list) list.push(click);
    else this.recent.set(click.messageKey, [click]);
    if (this.stopped) return;
    if (this.pending.length >= this.maxPending) void this.flush();
    this.timer ??= setInterval(() => void this.flush(), this.flushMs).unref();
  }

  /** Writes the clicks old enough to be judged (`all`: every waiting click, as at a stop). */
  flush(all = false): Promise<void> {
    this.flushing = this.flushing.then(() => this.write(all));
    return this.flushing;
  }

  /** Stops the timer and writes everything still waiting; later clicks are written by another flush(true). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush(true);
  }

  private async write(all: boolean): Promise<void> {
    const now = this.now();
    const ready = all
      ? this.pending
      : this.pending.filter((c) => c.at <= now - this.burstWindowMs || this.pending.length >= this.maxPending);
    if (ready.length === 0) return this.prune(now);
    const readySet = new Set(ready);
    this.pending = this.pending.filter((c) => !readySet.has(c));
    const batch: CountBatch = { counts: new Map(), personal: [] };
    for (const click of ready) {
      const machine = click.machine ?? (this.isBurst(click) ? 'many-links-at-once' : null);
      const n = batch.counts.get(click.linkId) ?? { human: 0, machine: 0 };
      if (machine === null) n.human++;
      else n.machine++;
      batch.counts.set(click.linkId, n);
      if (machine === null && click.subscriberId !== null) {
        batch.personal.push({
          subscriberId: click.subscriberId,
          linkId: click.linkId,
          at: new Date(click.at).toISOString(),
        });
      }
    }
    try {
      await this.writer.addCounts(batch);
    } catch (error) {
      // Kept for the next flush rather than lost (a locked or briefly unavailable database).
      this.pending = ready.concat(this.pending);
      this.options.onError?.(error);
    }
    this.prune(now);
  }

  private isBurst(click: RecordedClick): boolean {
    if (click.kind !== 'link') return false;
    const links = new Set<number>();
    for (const other of this.recent.get(click.messageKey) ?? []) {
      if (other.kind === 'link' && Math.abs(other.at - click.at) <= this.burstWindowMs) links.add(other.linkId);
    }
    return links.size >= this.burstLinks;
  }

  private prune(now: number): void {
    const oldest = now - 3 * this.burstWindowMs;
    const waiting = new Set(this.pending);
    for (const [key, list] of this.recent) {
      const kept = list.filter((c) => c.at >= oldest || waiting.has(c));
      if (kept.length === 0) this.recent.delete(key);
      else if (kept.length !== list.length) this.recent.set(key, kept);
    }
  }
}
