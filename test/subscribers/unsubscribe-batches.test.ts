import SQLite from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { openDatabase } from '../../src/db/database.js';
import { DatabaseBusyError } from '../../src/db/lock-waiting-sqlite.js';
import { createSubscribers, listConsentLog } from '../../subscribers/subscriber-repository.js';
import { UnsubscribeBatches } from '../../subscribers/unsubscribe-batches.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { testDialect } from '../helpers/test-database.js';

// Issue 9 item 3: one-click unsubscribes arriving together are applied in one transaction, so a
// hundred of them need one gap between an import's batches, not a hundred. A real database; on
// SQLite another real connection holds the write lock as an import in another process does.

let temp: TempEnv;
let services: Services;

beforeEach(async () => {
  temp = makeTempEnv();
  services = await temp.open();
});
afterEach(async () => {
  await services.close();
  temp.cleanup();
});

async function subscribers(count: number): Promise<{ id: number; uid: string }[]> {
  const emails = Array.from({ length: count }, (_, i) => `leaver-${i}@example.org`);
  await services.db.transaction().execute((trx) =>
    createSubscribers(
      trx,
      emails.map((email) => ({
        email,
        name: '',
        status: 'active' as const,
        topicIds: [],
        action: 'subscribe',
        context: { source: 'cli' as const },
      })),
    ),
  );
  return services.db
    .selectFrom('subscribers')
    .select(['id', 'uid'])
    .where('email', 'in', emails)
    .orderBy('id')
    .execute();
}

const requestFor = (uid: string) => ({
  uid,
  context: { source: 'one-click' as const, ip: '192.0.2.7', userAgent: 'Mail provider' },
  detail: 'RFC 8058 List-Unsubscribe=One-Click',
});

async function unsubscribedCount(): Promise<number> {
  const row = await services.db
    .selectFrom('subscribers')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('status', '=', 'unsubscribed')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('unsubscribes applied together', () => {
  it('each gets its own outcome and consent entry; a second one for the same person changes nothing', async () => {
    const [ann, bob] = await subscribers(2);
    const batches = new UnsubscribeBatches(services.db);
    const outcomes = await Promise.all([
      batches.apply(requestFor(ann!.uid)),
      batches.apply(requestFor(bob!.uid)),
      batches.apply(requestFor(ann!.uid)),
      batches.apply(requestFor('no-such-uid')),
    ]);
    expect(outcomes).toEqual(['unsubscribed', 'unsubscribed', 'already-withdrawn', 'no-subscriber']);
    for (const s of [ann!, bob!]) {
      const log = await listConsentLog(services.db, s.id);
      expect(log.filter((e) => e.action === 'unsubscribe')).toHaveLength(1);
    }
  });

  it.skipIf(testDialect() === 'postgres')(
    'those that arrive while the write lock is held by another process commit together once it is free',
    async () => {
      const leavers = await subscribers(40);
      const batches = new UnsubscribeBatches(services.db);
      const other = new SQLite(temp.config.databaseUrl, { timeout: 0 });
      try {
        other.exec('begin immediate');
        const applied = Promise.all(leavers.map((s) => batches.apply(requestFor(s.uid))));
        // Another reader watches every committed state: one commit shows 0, then 40, nothing between.
        const seen = new Set<number>();
        let watching = true;
        const watcher = (async () => {
          while (watching) {
            seen.add(await unsubscribedCount());
            await new Promise((resolve) => setImmediate(resolve));
          }
        })();
        await new Promise((resolve) => setTimeout(resolve, 50));
        other.exec('commit');
        expect(await applied).toEqual(leavers.map(() => 'unsubscribed'));
        watching = false;
        await watcher;
        seen.add(await unsubscribedCount());
        expect([...seen].sort((a, b) => a - b)).toEqual([0, 40]);
      } finally {
        if (other.inTransaction) other.exec('rollback');
        other.close();
      }
    },
  );

  it.skipIf(testDialect() === 'postgres')(
    'when the lock stays held past the wait, every waiting request fails (to be recorded) and nothing hangs',
    async () => {
      const leavers = await subscribers(3);
      const impatient = openDatabase(temp.config.databaseUrl, { lockWaitMs: 100 });
      const other = new SQLite(temp.config.databaseUrl, { timeout: 0 });
      try {
        other.exec('begin immediate');
        const batches = new UnsubscribeBatches(impatient);
        const results = await Promise.allSettled(leavers.map((s) => batches.apply(requestFor(s.uid))));
        expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
        expect((results[0] as PromiseRejectedResult).reason).toBeInstanceOf(DatabaseBusyError);
        other.exec('rollback');
        // The queue is empty and works again.
        expect(await batches.apply(requestFor(leavers[0]!.uid))).toBe('unsubscribed');
      } finally {
        if (other.inTransaction) other.exec('rollback');
        other.close();
        await impatient.destroy();
      }
    },
  );
});
