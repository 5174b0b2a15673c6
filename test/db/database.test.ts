import SQLite from 'better-sqlite3';
import { Kysely, sql, SqliteDialect } from 'kysely';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { databaseDialect, migrate, openDatabase, truncateWal } from '../../src/db/database.js';
import { migrationKit } from '../../src/db/migration-kit.js';
import * as initial from '../../src/db/migrations/001-initial.js';
import * as sending from '../../src/db/migrations/002-sending.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { testDialect } from '../helpers/test-database.js';

const RELEASED_SCHEMA = readFileSync(path.join(import.meta.dirname, 'fixtures', 'sqlite-schema-002.sql'), 'utf8');

describe('databaseDialect', () => {
  it('reads postgres:// and postgresql:// as PostgreSQL, anything else as a SQLite path', () => {
    expect(databaseDialect('postgres://u:p@localhost/news')).toBe('postgres');
    expect(databaseDialect('postgresql://localhost/news')).toBe('postgres');
    expect(databaseDialect('/var/lib/newsletter/newsletter.db')).toBe('sqlite');
    expect(databaseDialect('data/postgres.db')).toBe('sqlite');
  });
});

describe('SQLite databases made before the migration kit', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'newsletter-db-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('001 and 002 through the kit make exactly the tables and indexes they made before it', async () => {
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new SQLite(path.join(dir, 'new.db')) }) });
    const kit = migrationKit('sqlite');
    await initial.up(db, kit);
    await sending.up(db, kit);
    const objects = await sql<{ sql: string }>`
      select sql from sqlite_master where sql is not null and name <> 'sqlite_sequence' order by rowid`.execute(db);
    await db.destroy();
    const released = RELEASED_SCHEMA.split('\n').filter((l) => l.startsWith('CREATE') && !l.includes('"kysely_'));
    expect(objects.rows.map((o) => `${o.sql};`)).toEqual(released);
  });

  it('an existing database keeps its rows and takes the migrations that came after 002', async () => {
    const file = path.join(dir, 'old.db');
    const old = new SQLite(file);
    old.exec(RELEASED_SCHEMA);
    old.exec(`
      insert into topics (slug, name, position) values ('ai', 'Artificial intelligence', 0);
      insert into issues (slug, title, status, created_at, updated_at)
        values ('jan', 'January', 'sent', '2026-01-05T09:00:00.000Z', '2026-01-05T09:00:00.000Z');
      insert into subscribers (uid, email, status, created_at, updated_at)
        values ('u1', 'ada@example.org', 'active', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');`);
    old.close();

    const db = openDatabase(file);
    const applied = await migrate(db);
    expect(applied).not.toContain('001-initial');
    expect(applied).not.toContain('002-sending');
    const issues = await db.selectFrom('issues').select(['slug', 'status', 'created_at']).execute();
    expect(issues).toEqual([{ slug: 'jan', status: 'sent', created_at: '2026-01-05T09:00:00.000Z' }]);
    const subscribers = await db.selectFrom('subscribers').select('email').execute();
    expect(subscribers).toEqual([{ email: 'ada@example.org' }]);
    expect(await migrate(db)).toEqual([]);
    await db.destroy();
  });
});

describe(`the service on its test database (${testDialect()})`, () => {
  const envs: TempEnv[] = [];
  afterEach(() => {
    for (const env of envs.splice(0)) env.cleanup();
  });

  it('opens the database the test project names, one per environment, each with its own rows', async () => {
    const [a, b] = [makeTempEnv(), makeTempEnv()];
    envs.push(a, b);
    const first = await a.open();
    const second = await b.open();
    try {
      expect(first.dialect).toBe(testDialect());
      await first.db
        .insertInto('topics')
        .values({ slug: 'ai', name: 'Artificial intelligence', description: '', position: 0 })
        .execute();
      expect(await first.db.selectFrom('topics').select('slug').execute()).toEqual([{ slug: 'ai' }]);
      expect(await second.db.selectFrom('topics').select('slug').execute()).toEqual([]);
      if (testDialect() === 'postgres') {
        const schema = new URL(a.env.DATABASE_URL ?? '').searchParams.get('schema');
        const current = await sql<{ s: string }>`select current_schema() as s`.execute(first.db);
        expect(current.rows[0]?.s).toBe(schema);
        // pg_stat_activity names the process holding each connection (and so each lock).
        const me = await sql<{ name: string }>`select application_name as name from pg_stat_activity
          where pid = pg_backend_pid()`.execute(first.db);
        expect(me.rows[0]?.name).toBe(`newsletter ${os.hostname()}:${process.pid}`.slice(0, 63));
      }
    } finally {
      await first.close();
      await second.close();
    }
  });
});

// Issue 9 item 7: the database and SQLite's files beside it are the service user's alone, and the
// write-ahead log can be emptied after an erasure. A real SQLite file.

const modeOf = (file: string) => statSync(file).mode & 0o777;

describe('SQLite database files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'newsletter-db-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('narrows a database, WAL and shared-memory file an older version left readable by others to 0600', async () => {
    const file = path.join(dir, 'newsletter.db');
    const first = openDatabase(file);
    await migrate(first);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) chmodSync(f, 0o644);
    const second = openDatabase(file);
    try {
      for (const f of [file, `${file}-wal`, `${file}-shm`]) expect(modeOf(f), f).toBe(0o600);
    } finally {
      await second.destroy();
      await first.destroy();
    }
  });

  it('truncateWal empties the write-ahead log, and says when another reader keeps it from finishing', async () => {
    const file = path.join(dir, 'newsletter.db');
    const db = openDatabase(file);
    const reader = openDatabase(file);
    try {
      await migrate(db);
      expect(statSync(`${file}-wal`).size).toBeGreaterThan(0);
      expect(await truncateWal(db)).toBe(true);
      expect(statSync(`${file}-wal`).size).toBe(0);

      await db.insertInto('erased_addresses').values({ email_hash: 'h', erased_at: 'now' }).execute();
      // A transaction open in another connection pins the log.
      await reader.transaction().execute(async (trx) => {
        await trx.selectFrom('erased_addresses').selectAll().execute();
        expect(await truncateWal(db, 100)).toBe(false);
      });
      expect(await truncateWal(db)).toBe(true);
      expect(statSync(`${file}-wal`).size).toBe(0);
    } finally {
      await reader.destroy();
      await db.destroy();
    }
  });
});
