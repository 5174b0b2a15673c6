import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_DIR } from '../../src/content/demo.js';
import { importFolder } from '../../src/content/import.js';
import { copyDatabase, redactUrl, type TableCount } from '../../src/db/copy.js';
import { openDatabase, type Db } from '../../src/db/database.js';
import { runCli } from '../helpers/cli.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { testDatabaseUrl, testDialect } from '../helpers/test-database.js';
import { insertDemoReaders } from '../scheduler/demo-send.js';

const RELEASED_SCHEMA = readFileSync(path.join(import.meta.dirname, 'fixtures', 'sqlite-schema-002.sql'), 'utf8');

/** The target of the test's dialect: a fresh PostgreSQL schema, or another SQLite file. */
function freshTarget(dir: string, name: string): string {
  return testDatabaseUrl() ?? path.join(dir, `${name}.db`);
}

async function rowsOf(db: Db, table: string, orderBy: string): Promise<unknown[]> {
  return (await sql`select * from ${sql.table(table)} order by ${sql.ref(orderBy)}`.execute(db)).rows;
}

describe(`newsletter db copy (SQLite to ${testDialect()})`, () => {
  let dir: string;
  let source: TempEnv;
  let slug: string;
  let sourceFile: string;

  // A publication that has lived a little: an issue, readers, an editor, a finished send.
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'newsletter-copy-'));
    sourceFile = path.join(dir, 'source.db');
    source = makeTempEnv({ DATABASE_URL: sourceFile });
    const services = await source.open();
    try {
      slug = (await importFolder(services.db, DEMO_DIR)).slug;
      await insertDemoReaders(services, 40);
    } finally {
      await services.close();
    }
    const add = await runCli(['subscribers', 'add', 'ada@example.org', '--name', 'Ada'], source.env);
    expect(add.code, add.stderr).toBe(0);
    const editor = await runCli(
      ['editors', 'add', 'ed@example.org', '--role', 'admin'],
      source.env,
      'a-long-passw0rd\n',
    );
    expect(editor.code, editor.stderr).toBe(0);
    const send = await runCli(['send', slug], source.env);
    expect(send.code, send.stderr).toBe(0);
  });
  afterAll(() => {
    source.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies every table, row for row, verified by counts; the copy then runs the service', async () => {
    const to = freshTarget(dir, 'copy');
    const told: string[] = [];
    const counts = await copyDatabase({ from: sourceFile, to, progress: (table) => told.push(table) });
    const byTable = new Map(counts.map((c: TableCount) => [c.table, c.rows]));
    expect(byTable.get('subscribers')).toBe(41);
    expect(byTable.get('deliveries')).toBe(41);
    expect(byTable.get('consent_log')).toBeGreaterThan(0);
    expect(byTable.get('editors')).toBe(1);
    // Parents before children: a foreign key never points to a table not yet copied.
    expect(told.indexOf('issues')).toBeLessThan(told.indexOf('deliveries'));
    expect(told.indexOf('subscribers')).toBeLessThan(told.indexOf('subscriber_topics'));

    const from = openDatabase(sourceFile);
    const copy = openDatabase(to);
    try {
      for (const [table, key] of [
        ['issues', 'id'],
        ['subscribers', 'id'],
        ['deliveries', 'id'],
        ['consent_log', 'id'],
        ['articles', 'id'],
      ] as const) {
        // The same values, times as the same ISO text, whatever each database stores.
        expect(await rowsOf(copy, table, key), table).toEqual(await rowsOf(from, table, key));
      }
    } finally {
      await from.destroy();
      await copy.destroy();
    }

    const moved = makeTempEnv({ DATABASE_URL: to });
    const services = await moved.open();
    try {
      expect(services.dialect).toBe(testDialect());
      const web = await services.renderer.renderWeb(slug, null);
      expect(web).toContain('</html>');
      // New rows continue after the copied ids.
      const added = await runCli(['subscribers', 'add', 'grace@example.org'], moved.env);
      expect(added.code, added.stderr).toBe(0);
      const grace = await services.db
        .selectFrom('subscribers')
        .select('id')
        .where('email', '=', 'grace@example.org')
        .executeTakeFirstOrThrow();
      expect(grace.id).toBe(42);
    } finally {
      await services.close();
      moved.cleanup();
    }
  });

  it('refuses a target that holds rows, and with --replace empties it first', async () => {
    const to = freshTarget(dir, 'twice');
    await copyDatabase({ from: sourceFile, to });
    await expect(copyDatabase({ from: sourceFile, to })).rejects.toThrow(
      /the target already holds rows \(.*subscribers: 41.*\); copy into an empty database, or pass --replace/,
    );
    const again = await copyDatabase({ from: sourceFile, to, replace: true });
    expect(again.find((c) => c.table === 'subscribers')?.rows).toBe(41);
  });

  it('reads a snapshot of the source without its write lock: a writer beside it goes on, unseen by the copy', async () => {
    const live = path.join(dir, 'running.db');
    const original = new SQLite(sourceFile);
    await original.backup(live);
    original.close();
    // A second process's connection, as the running service would hold, that never waits for a lock.
    const writer = new SQLite(live);
    writer.pragma('busy_timeout = 0');
    let written = 0;
    try {
      const counts = await copyDatabase({
        from: live,
        to: freshTarget(dir, 'live'),
        progress: (table) => {
          if (table !== 'subscribers') return;
          // Mid-copy: this throws SQLITE_BUSY if the copy held the source's write lock.
          writer
            .prepare('insert into glossary (abbreviation, english, chinese, position) values (?, ?, ?, ?)')
            .run('WAL', 'write-ahead log', '预写日志', 99);
          written += 1;
        },
      });
      expect(written).toBe(1);
      const glossary = writer.prepare('select count(*) as n from glossary').get() as { n: number };
      expect(counts.find((c) => c.table === 'glossary')?.rows).toBe(glossary.n - 1);
    } finally {
      writer.close();
    }
  });

  it('refuses a source the migrations have not all reached, naming the command that fixes it', async () => {
    const old = path.join(dir, 'old.db');
    const db = new SQLite(old);
    db.exec(RELEASED_SCHEMA);
    db.close();
    await expect(copyDatabase({ from: old, to: freshTarget(dir, 'from-old') })).rejects.toThrow(
      `${old} lacks migrations 003-check-lists`,
    );
  });

  it.runIf(testDialect() === 'postgres')('names the row PostgreSQL refuses and commits nothing', async () => {
    const bad = path.join(dir, 'bad.db');
    const env = makeTempEnv({ DATABASE_URL: bad });
    const services = await env.open();
    await importFolder(services.db, DEMO_DIR);
    await sql`update issues set created_at = 'the day before yesterday'`.execute(services.db);
    await services.close();
    env.cleanup();
    const to = freshTarget(dir, 'refused');
    await expect(copyDatabase({ from: bad, to })).rejects.toThrow(
      /^issues: the target refused the row id = 1: invalid input syntax for type timestamp with time zone: "the day before yesterday"\. Correct that row/,
    );
    const target = openDatabase(to);
    try {
      const topics = await target.selectFrom('topics').select('id').execute();
      expect(topics).toEqual([]);
    } finally {
      await target.destroy();
    }
  });

  it('runs as `newsletter db copy`, printing each table and its rows, and no password', async () => {
    const to = freshTarget(dir, 'cli');
    const run = await runCli(['db', 'copy', '--from', sourceFile, '--to', to], source.env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^subscribers +41$/m);
    expect(run.stderr).toContain(`to ${redactUrl(to)} in`);
    const password = testDialect() === 'postgres' ? new URL(to).password : '';
    if (password) expect(run.stderr).not.toContain(`:${password}@`);
    const refused = await runCli(['db', 'copy', '--from', sourceFile, '--to', to], source.env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^Error: db copy: the target already holds rows/);
  });
});

describe('redactUrl', () => {
  it('hides a PostgreSQL password and leaves a file path alone', () => {
    expect(redactUrl('postgres://news:s3cret@db:5432/news?schema=a')).toBe('postgres://news:***@db:5432/news?schema=a');
    expect(redactUrl('/var/lib/newsletter/newsletter.db')).toBe('/var/lib/newsletter/newsletter.db');
  });
});
