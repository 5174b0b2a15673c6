import { sql, type Kysely } from 'kysely';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import { migrationKit, withSqliteCheck, type MigrationKit } from '../../src/db/migration-kit.js';
import { testDatabaseUrl, testDialect } from '../helpers/test-database.js';

describe('withSqliteCheck', () => {
  const create = 'CREATE TABLE "t" ("id" integer primary key, "status" text not null)';

  it('adds a named CHECK before the closing parenthesis', () => {
    expect(withSqliteCheck(create, 't', 'status', ['a', 'b'])).toBe(
      'CREATE TABLE "t" ("id" integer primary key, "status" text not null, constraint "t_status_check" check ("status" in (\'a\', \'b\')))',
    );
  });

  it('replaces the same constraint, even with parentheses and quotes in its values', () => {
    const once = withSqliteCheck(create, 't', 'status', ['a)', "it's"]);
    expect(withSqliteCheck(once, 't', 'status', ['a', 'c'])).toBe(withSqliteCheck(create, 't', 'status', ['a', 'c']));
  });
});

/** A database of the project's test dialect with nothing in it, and the kit for it. */
function emptyDatabase(): { db: Kysely<unknown>; kit: MigrationKit; cleanup: () => Promise<void> } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'newsletter-kit-'));
  const db = openDatabase(testDatabaseUrl() ?? path.join(dir, 'kit.db')) as unknown as Kysely<unknown>;
  return {
    db,
    kit: migrationKit(testDialect()),
    cleanup: async () => {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe(`the migration kit on ${testDialect()}`, () => {
  let db: Kysely<unknown>;
  let kit: MigrationKit;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    ({ db, kit, cleanup } = emptyDatabase());
    if (kit.dialect === 'postgres') {
      // The schema named in the test URL (the service's migrator creates it; here, the test does).
      const schema = (await sql<{ s: string }>`select current_setting('search_path') as s`.execute(db)).rows[0]?.s;
      await sql`create schema if not exists ${sql.id(schema ?? 'public')}`.execute(db);
    }
    await db.schema
      .createTable('parents')
      .addColumn('id', 'integer', kit.id)
      .addColumn('name', kit.text, (c) => c.notNull().unique())
      .addColumn('status', kit.text, (c) => c.notNull())
      .addColumn('seen_at', kit.time)
      .addColumn('tags_json', kit.json, (c) => c.notNull().defaultTo('[]'))
      .addColumn('active', kit.boolean, (c) => c.notNull().defaultTo(false))
      .addColumn('rate', kit.float, (c) => c.notNull().defaultTo(0))
      .$call(kit.oneOf('parents', 'status', ['new', 'old']))
      .execute();
    await db.schema.createIndex('parents_status').on('parents').column('status').execute();
    await db.schema
      .createTable('children')
      .addColumn('id', 'integer', kit.id)
      .addColumn('parent_id', 'integer', (c) => c.notNull().references('parents.id').onDelete('cascade'))
      .execute();
  });
  afterEach(() => cleanup());

  it('numbers ids, keeps ISO times and JSON text as written, and counts as numbers', async () => {
    const seenAt = '2026-03-29T01:30:00.123Z';
    const inserted = await sql<{ id: number }>`
      insert into parents (name, status, seen_at, tags_json) values
        ('b', 'new', ${seenAt}, ${'{"b":1,"a":[2]}'}), ('a', 'old', null, ${'[]'}) returning id`.execute(db);
    expect(inserted.rows.map((r) => r.id)).toEqual([1, 2]);
    const row = (
      await sql<{ seen_at: string; tags_json: string }>`select seen_at, tags_json from parents where id = 1`.execute(db)
    ).rows[0];
    expect(row).toEqual({ seen_at: seenAt, tags_json: '{"b":1,"a":[2]}' });
    const later = await sql<{
      n: number;
    }>`select count(*) as n from parents where seen_at > ${'2026-03-29T01:30:00.122Z'}`.execute(db);
    expect(later.rows[0]?.n).toBe(1);
  });

  it('orders and compares text byte by byte, and lower() changes ASCII only, on both databases', async () => {
    for (const name of ['b', 'B', 'a', 'É', 'é', 'Z']) {
      await sql`insert into parents (name, status) values (${name}, 'new')`.execute(db);
    }
    const ordered = await sql<{ name: string }>`select name from parents order by name`.execute(db);
    expect(ordered.rows.map((r) => r.name)).toEqual(['B', 'Z', 'a', 'b', 'É', 'é']);
    const lowered = await sql<{ l: string }>`select lower(name) as l from parents where name = 'É'`.execute(db);
    expect(lowered.rows[0]?.l).toBe('É');
    const below = await sql<{ n: number }>`select count(*) as n from parents where name < 'a'`.execute(db);
    expect(below.rows[0]?.n).toBe(2);
  });

  it('refuses a value outside a CHECK list, and setOneOf widens it keeping rows, indexes and children', async () => {
    await sql`insert into parents (name, status) values ('p', 'new')`.execute(db);
    await sql`insert into children (parent_id) values (1)`.execute(db);
    await expect(sql`insert into parents (name, status) values ('q', 'gone')`.execute(db)).rejects.toThrow(/check/i);

    await kit.setOneOf(db, 'parents', 'status', ['new', 'old', 'gone']);
    await sql`insert into parents (name, status) values ('q', 'gone')`.execute(db);
    const children = await sql<{ n: number }>`select count(*) as n from children`.execute(db);
    expect(children.rows[0]?.n).toBe(1);
    await expect(sql`insert into parents (name, status) values ('r', 'lost')`.execute(db)).rejects.toThrow(/check/i);
    // The indexes survived the rebuild: names are still unique, and the status index is there.
    await expect(sql`insert into parents (name, status) values ('p', 'old')`.execute(db)).rejects.toThrow(/unique/i);
    if (kit.dialect === 'sqlite') {
      const index = await sql<{
        n: number;
      }>`select count(*) as n from sqlite_master where name = 'parents_status'`.execute(db);
      expect(index.rows[0]?.n).toBe(1);
      const fk = await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(db);
      expect(fk.rows[0]?.foreign_keys).toBe(1);
    } else {
      const index = await sql<{
        n: number;
      }>`select count(*) as n from pg_indexes where indexname = 'parents_status' and schemaname = current_schema()`.execute(
        db,
      );
      expect(index.rows[0]?.n).toBe(1);
    }
  });

  it('setOneOf names the rows a narrower list would reject, and changes nothing', async () => {
    await sql`insert into parents (name, status) values ('p', 'old'), ('q', 'old'), ('r', 'new')`.execute(db);
    await expect(kit.setOneOf(db, 'parents', 'status', ['new'])).rejects.toThrow(
      "parents.status holds values outside 'new': 'old' (2 rows). Correct those rows, then run the migration again.",
    );
    await sql`insert into parents (name, status) values ('s', 'old')`.execute(db);
  });

  it('stores booleans the database understands: true and false in, a default of false', async () => {
    await sql`insert into parents (name, status, active) values ('p', 'new', ${sql.lit(true)})`.execute(db);
    await sql`insert into parents (name, status) values ('q', 'new')`.execute(db);
    const rows = await sql<{ name: string; active: unknown }>`select name, active from parents order by name`.execute(
      db,
    );
    // PostgreSQL's driver reads booleans as true/false; SQLite keeps 1/0.
    const expected = kit.dialect === 'postgres' ? [true, false] : [1, 0];
    expect(rows.rows.map((r) => r.active)).toEqual(expected);
  });

  it('keeps a float to 15 digits on both: a rate or a token count does not drift', async () => {
    await sql`insert into parents (name, status, rate) values ('r', 'new', ${123456.789012345})`.execute(db);
    const rows = await sql<{ rate: number }>`select rate + 0.000000001 as rate from parents`.execute(db);
    expect(rows.rows[0]?.rate).toBeCloseTo(123456.789012346, 9);
  });
});
