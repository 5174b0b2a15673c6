import SQLite from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate, openDatabase, type Db } from '../../src/db/database.js';
import { DatabaseBusyError, LockWaitingSqliteDialect } from '../../src/db/lock-waiting-sqlite.js';
import type { Database } from '../../src/db/schema.js';

// Two real connections to one SQLite file: `other` stands for another process (a CLI import)
// holding the write lock; `db` is the service's connection, which must wait without stopping
// its event loop.

let dir: string;
let file: string;
let db: Db;
let other: SQLite.Database;

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'newsletter-lock-'));
  file = path.join(dir, 'newsletter.db');
  db = openDatabase(file);
  await migrate(db);
  other = new SQLite(file, { timeout: 0 });
});
afterEach(async () => {
  if (other.inTransaction) other.exec('rollback');
  other.close();
  await db.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/** The longest pause between ticks of a 5 ms interval while `work` runs: how long the event loop stood still. */
async function longestStall<T>(work: Promise<T>): Promise<{ result: T; stallMs: number }> {
  let last = performance.now();
  let stallMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last);
    last = now;
  }, 5);
  try {
    const result = await work;
    return { result, stallMs };
  } finally {
    clearInterval(timer);
  }
}

const erased = (hash: string) => ({ email_hash: hash, erased_at: new Date().toISOString() });

describe('waiting for another connection’s write lock', () => {
  it('a statement waits on timers, keeps the event loop running, and goes through once the lock is released', async () => {
    other.exec('begin immediate');
    other.prepare('insert into erased_addresses (email_hash, erased_at) values (?, ?)').run('held', 'now');
    let released = false;
    // The lock holder lets go after 1 s, in a timer: a blocking busy wait would stop it from ever firing.
    setTimeout(() => {
      other.exec('commit');
      released = true;
    }, 1000);
    const { stallMs } = await longestStall(db.insertInto('erased_addresses').values(erased('waited')).execute());
    expect(released).toBe(true);
    const rows = await db.selectFrom('erased_addresses').select('email_hash').orderBy('email_hash').execute();
    expect(rows.map((r) => r.email_hash)).toEqual(['held', 'waited']);
    // A blocking wait stalls for the whole second (or throws); the bound leaves room for a loaded machine.
    expect(stallMs).toBeLessThan(500);
  });

  it('a transaction takes the write lock at BEGIN, so it never fails half-way because another writer got in', async () => {
    other.exec('begin immediate');
    setTimeout(() => other.exec('commit'), 1000);
    const { stallMs } = await longestStall(
      db.transaction().execute(async (trx) => {
        const before = await trx.selectFrom('erased_addresses').select('email_hash').execute();
        // While this transaction is open, the other connection cannot write (it does not wait).
        expect(() =>
          other.prepare('insert into erased_addresses (email_hash, erased_at) values (?, ?)').run('late', 'now'),
        ).toThrow(/database is locked/);
        await trx
          .insertInto('erased_addresses')
          .values(erased(`after-${before.length}`))
          .execute();
      }),
    );
    expect(stallMs).toBeLessThan(500);
    expect(await db.selectFrom('erased_addresses').select('email_hash').execute()).toEqual([{ email_hash: 'after-0' }]);
  });

  it('while a write waits for the lock, the same process’s reads and other transactions’ turns go on', async () => {
    other.exec('begin immediate');
    other.prepare('insert into erased_addresses (email_hash, erased_at) values (?, ?)').run('held', 'now');
    const waiting = db
      .transaction()
      .execute((trx) => trx.insertInto('erased_addresses').values(erased('waited')).execute());
    const waitingAlone = db.insertInto('erased_addresses').values(erased('alone')).execute();
    let writesDone = false;
    void Promise.all([waiting, waitingAlone]).then(() => (writesDone = true));
    // Reads are served from the last commit while both writes wait (before, they queued behind them).
    for (let i = 0; i < 20; i++) {
      expect(await db.selectFrom('erased_addresses').select('email_hash').execute()).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(writesDone).toBe(false);
    other.exec('commit');
    await Promise.all([waiting, waitingAlone]);
    const rows = await db.selectFrom('erased_addresses').select('email_hash').orderBy('email_hash').execute();
    expect(rows.map((r) => r.email_hash)).toEqual(['alone', 'held', 'waited']);
  });

  it('callers of the one connection never overlap: a transaction sees only its own writes until it commits', async () => {
    const order: string[] = [];
    await Promise.all(
      ['a', 'b', 'c'].map((name) =>
        db.transaction().execute(async (trx) => {
          order.push(`${name} begins`);
          await trx.insertInto('erased_addresses').values(erased(name)).execute();
          await new Promise((resolve) => setTimeout(resolve, 10));
          const seen = await trx.selectFrom('erased_addresses').select('email_hash').execute();
          order.push(`${name} sees ${seen.length}`);
        }),
      ),
    );
    expect(order).toEqual(['a begins', 'a sees 1', 'b begins', 'b sees 2', 'c begins', 'c sees 3']);
  });

  it('gives up with a clear error after its longest wait, and nothing is written', async () => {
    const sqlite = new SQLite(file, { timeout: 0 });
    const impatient = new Kysely<Database>({ dialect: new LockWaitingSqliteDialect(sqlite, { maxWaitMs: 150 }) });
    try {
      other.exec('begin immediate');
      const attempt = impatient.insertInto('erased_addresses').values(erased('never')).execute();
      await expect(attempt).rejects.toBeInstanceOf(DatabaseBusyError);
      await expect(attempt).rejects.toThrow(/stayed locked by another process for 0 s .*nothing was written/);
      other.exec('rollback');
      expect(await impatient.selectFrom('erased_addresses').select('email_hash').execute()).toEqual([]);
    } finally {
      await impatient.destroy();
    }
  });
});
