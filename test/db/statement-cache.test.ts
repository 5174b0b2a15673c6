import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StatementCache } from '../../src/db/statement-cache.js';

// kysely's SQLite dialect on a real in-memory database, handed the cache as its database: a query
// text is compiled once and its statement reused; a statement still being iterated is never handed
// out again meanwhile; long texts are not kept; a kept statement sees schema changes.

interface Tables {
  notes: { id: number; body: string };
}

let cache: StatementCache;
let db: Kysely<Tables>;

beforeEach(async () => {
  cache = new StatementCache(new SQLite(':memory:'));
  db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: cache }) });
  await sql`create table notes (id integer primary key, body text not null)`.execute(db);
});
afterEach(async () => {
  await db.destroy();
});

const bodyOf = (id: number) => db.selectFrom('notes').select('body').where('id', '=', id).executeTakeFirst();

describe('statement cache', () => {
  it('compiles a query text once and runs it with each call’s parameters', async () => {
    await db.insertInto('notes').values({ id: 1, body: 'one' }).execute();
    await db.insertInto('notes').values({ id: 2, body: 'two' }).execute();
    const before = cache.stats().compiled;
    expect(await bodyOf(1)).toEqual({ body: 'one' });
    expect(await bodyOf(2)).toEqual({ body: 'two' });
    expect(await bodyOf(3)).toBeUndefined();
    expect(cache.stats().compiled).toBe(before + 1);
    // Writes report their changes and row ids from a reused statement too.
    const inserted = await db.insertInto('notes').values({ id: 3, body: 'three' }).executeTakeFirstOrThrow();
    expect(inserted.insertId).toBe(3n);
    const updated = await db.updateTable('notes').set({ body: 'THREE' }).where('id', '=', 3).executeTakeFirstOrThrow();
    const again = await db.updateTable('notes').set({ body: 'Three' }).where('id', '=', 9).executeTakeFirstOrThrow();
    expect([updated.numUpdatedRows, again.numUpdatedRows]).toEqual([1n, 0n]);
  });

  it('hands out a fresh statement for a text whose kept one is still being iterated', async () => {
    await db
      .insertInto('notes')
      .values([1, 2, 3].map((id) => ({ id, body: `note ${id}` })))
      .execute();
    const text = 'select id from notes order by id';
    const reading = cache.prepare(text);
    const rows = reading.iterate([]);
    expect(rows.next().value).toEqual({ id: 1 });
    // The kept statement is busy: reusing it would fail ("This statement is busy executing a query").
    const meanwhile = cache.prepare(text);
    expect(meanwhile).not.toBe(reading);
    expect(meanwhile.all([])).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
    expect([...rows]).toEqual([{ id: 2 }, { id: 3 }]);
    // Once the iteration ended, the kept one is handed out again.
    expect(cache.prepare(text)).toBe(reading);
  });

  it('keeps short texts only; a kept statement follows a change of the table', async () => {
    await db.insertInto('notes').values({ id: 1, body: 'one' }).execute();
    const long = db
      .selectFrom('notes')
      .select('body')
      .where(
        'id',
        'in',
        Array.from({ length: 600 }, (_, i) => i + 1),
      );
    expect(await long.execute()).toEqual([{ body: 'one' }]);
    expect(await long.execute()).toEqual([{ body: 'one' }]);
    const kept = cache.stats().kept;
    const everything = () => db.selectFrom('notes').selectAll().execute() as Promise<Record<string, unknown>[]>;
    expect(await everything()).toEqual([{ id: 1, body: 'one' }]);
    expect(cache.stats().kept).toBe(kept + 1);
    await sql`alter table notes add column tag text not null default 'plain'`.execute(db);
    expect(await everything()).toEqual([{ id: 1, body: 'one', tag: 'plain' }]);
  });
});
