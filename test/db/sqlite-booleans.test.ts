import SQLite from 'better-sqlite3';
import { Kysely, sql, SqliteDialect } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteBooleansPlugin } from '../../src/db/sqlite-booleans.js';

interface Flags {
  flags: { id: number; done: boolean; count: number };
}

describe('SqliteBooleansPlugin', () => {
  let db: Kysely<Flags>;
  beforeEach(async () => {
    db = new Kysely<Flags>({
      dialect: new SqliteDialect({ database: new SQLite(':memory:') }),
      plugins: [new SqliteBooleansPlugin(['done'])],
    });
    await sql`create table flags (id integer primary key, done boolean not null, count integer not null)`.execute(db);
  });
  afterEach(() => db.destroy());

  it('binds true and false as 1 and 0, in values, comparisons, lists and raw SQL alike', async () => {
    await db
      .insertInto('flags')
      .values([
        { id: 1, done: true, count: 1 },
        { id: 2, done: false, count: 0 },
      ])
      .execute();
    await sql`insert into flags (id, done, count) values (3, ${true}, 1)`.execute(db);
    expect(await db.selectFrom('flags').select('id').where('done', '=', true).orderBy('id').execute()).toEqual([
      { id: 1 },
      { id: 3 },
    ]);
    expect(await db.selectFrom('flags').select('id').where('done', 'in', [false]).execute()).toEqual([{ id: 2 }]);
  });

  it('reads the named boolean columns as true/false and leaves other 0/1 columns numbers', async () => {
    await db.insertInto('flags').values({ id: 1, done: true, count: 1 }).execute();
    await db.updateTable('flags').set({ done: false }).where('id', '=', 1).execute();
    expect(await db.selectFrom('flags').selectAll().execute()).toEqual([{ id: 1, done: false, count: 1 }]);
  });
});
