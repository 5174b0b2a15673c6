import { describe, expect, it } from 'vitest';
import { ClickRecorder, type RecordedClick } from '../../src/tracking/click-recorder.js';
import type { CountBatch } from '../../src/tracking/tracking-repository.js';

// The recorder's logic with an in-memory writer (the SQL side is tested against real databases in
// click-tracking.test.ts): batching, the burst rule, nothing lost at stop or on a failed write.

class MemoryCounts {
  batches: CountBatch[] = [];
  failNext = false;
  addCounts(batch: CountBatch): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(new Error('database is locked'));
    }
    this.batches.push(batch);
    return Promise.resolve();
  }
  total(): { human: number; machine: number } {
    let human = 0;
    let machine = 0;
    for (const b of this.batches) {
      for (const n of b.counts.values()) {
        human += n.human;
        machine += n.machine;
      }
    }
    return { human, machine };
  }
}

const click = (linkId: number, at: number, more: Partial<RecordedClick> = {}): RecordedClick => ({
  linkId,
  kind: 'link',
  at,
  machine: null,
  subscriberId: null,
  messageKey: 'tag|198.51.100.7',
  ...more,
});

describe('ClickRecorder', () => {
  it('writes a click only once the burst window has passed, and everything at stop', async () => {
    let now = 10_000;
    const counts = new MemoryCounts();
    const recorder = new ClickRecorder(counts, { now: () => now, flushMs: 60_000 });
    recorder.record(click(1, now));
    await recorder.flush();
    expect(counts.batches).toEqual([]);
    now += 1_500;
    await recorder.flush();
    expect(counts.total()).toEqual({ human: 1, machine: 0 });
    recorder.record(click(2, now, { subscriberId: 9 }));
    await recorder.stop();
    expect(counts.total()).toEqual({ human: 2, machine: 0 });
    expect(counts.batches.at(-1)?.personal).toEqual([{ subscriberId: 9, linkId: 2, at: new Date(now).toISOString() }]);
    expect(recorder.waiting).toBe(0);
  });

  it('counts every click of a message whose links are followed three at once as a machine’s', async () => {
    const now = 50_000;
    const counts = new MemoryCounts();
    const recorder = new ClickRecorder(counts, { now: () => now, flushMs: 60_000 });
    recorder.record(click(1, now, { subscriberId: 4 }));
    recorder.record(click(2, now + 300, { subscriberId: 4 }));
    recorder.record(click(3, now + 600, { subscriberId: 4 }));
    // Another message (another tag), and the same message a minute later: readers.
    recorder.record(click(1, now + 100, { messageKey: 'other|198.51.100.7' }));
    recorder.record(click(1, now + 60_000));
    await recorder.stop();
    expect(counts.total()).toEqual({ human: 2, machine: 3 });
    expect(counts.batches.flatMap((b) => b.personal)).toEqual([]);
  });

  it('keeps a batch whose write failed for the next flush', async () => {
    const counts = new MemoryCounts();
    const errors: unknown[] = [];
    const recorder = new ClickRecorder(counts, { onError: (e) => errors.push(e), flushMs: 60_000 });
    recorder.record(click(1, Date.now() - 5_000, { machine: 'head-request' }));
    counts.failNext = true;
    await recorder.flush();
    expect(errors).toHaveLength(1);
    expect(recorder.waiting).toBe(1);
    await recorder.stop();
    expect(counts.total()).toEqual({ human: 0, machine: 1 });
  });
});
