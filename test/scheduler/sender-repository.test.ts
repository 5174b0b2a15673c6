import { afterEach, describe, expect, it } from 'vitest';
import { nowIso } from '../../src/db/database.js';
import { planIssueDeliveries, requireIssue, SqlDeliveryStore } from '../../scheduler/delivery-repository.js';
import { readDbNowMs } from '../../scheduler/db-clock.js';
import {
  claimLeaderLock,
  listSenders,
  registerSender,
  renewSender,
  takeOverExpiredClaims,
  takeSendTokens,
} from '../../scheduler/sender-repository.js';
import { demoSend } from './demo-send.js';

// The shared state of senders on a real SQLite file: leases by the database's clock, claims that
// guard every result, takeover after a margin, the shared rate bucket and the leader lock.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function planned(readers = 6) {
  const { services, slug } = await demoSend(readers, {}, cleanups);
  const issue = await requireIssue(services.db, slug);
  await planIssueDeliveries(services.db, issue.id, nowIso());
  return { db: services.db, issueId: issue.id };
}

/** Moves a sender's lease end by `ms` (as if that much time passed for it without a renewal). */
async function ageLease(db: Awaited<ReturnType<typeof planned>>['db'], id: string, ms: number): Promise<void> {
  const row = await db.selectFrom('senders').select('lease_until_ms').where('id', '=', id).executeTakeFirstOrThrow();
  await db
    .updateTable('senders')
    .set({ lease_until_ms: Number(row.lease_until_ms) - ms })
    .where('id', '=', id)
    .execute();
}

describe('senders, leases and claims', () => {
  it('writes a result only where the sender still holds the claim', async () => {
    const { db, issueId } = await planned();
    await registerSender(db, 'a', 10_000, nowIso());
    await registerSender(db, 'b', 10_000, nowIso());
    const a = new SqlDeliveryStore(db, issueId, 'a');
    const b = new SqlDeliveryStore(db, issueId, 'b');
    const [first] = await a.claim(1);
    if (!first) throw new Error('nothing claimed');
    // a stalls: its lease runs out by more than the margin, and b takes its claim over.
    await ageLease(db, 'a', 30_000);
    expect(await takeOverExpiredClaims(db, issueId, 5_000)).toBe(1);
    const retaken = await b.claim(10);
    expect(retaken.map((d) => d.id)).toContain(first.id);
    // a wakes up with its result: not written; b's is.
    expect(await a.markSent(first.id, 1, new Date())).toBe(false);
    expect(await b.markSent(first.id, 1, new Date())).toBe(true);
    expect(await a.markFailed(first.id, 1, 'late')).toBe(false);
  });

  it('takes claims over only once the lease ran out by the margin', async () => {
    const { db, issueId } = await planned();
    await registerSender(db, 'slow', 10_000, nowIso());
    await new SqlDeliveryStore(db, issueId, 'slow').claim(3);
    await ageLease(db, 'slow', 12_000); // expired 2 s ago
    expect(await takeOverExpiredClaims(db, issueId, 5_000)).toBe(0);
    await ageLease(db, 'slow', 4_000); // expired 6 s ago
    expect(await takeOverExpiredClaims(db, issueId, 5_000)).toBe(3);
  });

  it('renews only a lease that has not run out, and an expired sender claims nothing', async () => {
    const { db, issueId } = await planned();
    await registerSender(db, 'x', 10_000, nowIso());
    expect(await renewSender(db, 'x', 10_000, { sent: 5, rate: 1.5 })).toBe(true);
    await ageLease(db, 'x', 11_000);
    expect(await renewSender(db, 'x', 10_000, { sent: 6, rate: 1.5 })).toBe(false);
    expect(await new SqlDeliveryStore(db, issueId, 'x').claim(5)).toEqual([]);
    const [row] = await listSenders(db, { recentMs: 60_000 });
    expect(row).toMatchObject({ id: 'x', alive: false, sent: 5, claims: 0 });
  });

  it('counts lease times on the database clock', async () => {
    const { db } = await planned(1);
    const before = await readDbNowMs(db);
    await registerSender(db, 'c', 10_000, nowIso());
    const row = await db.selectFrom('senders').select('lease_until_ms').executeTakeFirstOrThrow();
    expect(Number(row.lease_until_ms) - before).toBeGreaterThanOrEqual(10_000);
    expect(Math.abs(before - Date.now())).toBeLessThan(5_000);
  });

  it('hands out rate tokens from one bucket, refilled by the database clock', async () => {
    const { db } = await planned(1);
    // Full at first (capacity 4), then empty until time refills it (one token per 100 s here).
    expect(await takeSendTokens(db, 4, 0.01, 4)).toBe(true);
    expect(await takeSendTokens(db, 1, 0.01, 4)).toBe(false);
    await db
      .updateTable('send_rate')
      .set({ refilled_ms: (await readDbNowMs(db)) - 300_000 })
      .execute();
    expect(await takeSendTokens(db, 3, 0.01, 4)).toBe(true);
    expect(await takeSendTokens(db, 1, 0.01, 4)).toBe(false);
  });

  it('gives the scheduler lock to one holder until its lease runs out', async () => {
    const { db } = await planned(1);
    expect(await claimLeaderLock(db, 'scheduler', 'p1', 10_000)).toBe(true);
    expect(await claimLeaderLock(db, 'scheduler', 'p2', 10_000)).toBe(false);
    expect(await claimLeaderLock(db, 'scheduler', 'p1', 10_000)).toBe(true);
    await db
      .updateTable('leader_locks')
      .set({ lease_until_ms: (await readDbNowMs(db)) - 1 })
      .execute();
    expect(await claimLeaderLock(db, 'scheduler', 'p2', 10_000)).toBe(true);
    expect(await claimLeaderLock(db, 'scheduler', 'p1', 10_000)).toBe(false);
  });
});
