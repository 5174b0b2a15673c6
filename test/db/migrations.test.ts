import SQLite from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate, openDatabase, type Db } from '../../src/db/database.js';

/** The schema a database made by the released 001 and 002 has (see database.test.ts). */
const RELEASED_SCHEMA = readFileSync(path.join(import.meta.dirname, 'fixtures', 'sqlite-schema-002.sql'), 'utf8');

let dir: string;
let db: Db | undefined;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'migrations-'));
});
afterEach(async () => {
  await db?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('070-drop-article-images', () => {
  it('drops the never-read images_json from a database users have, keeping the articles', async () => {
    const file = path.join(dir, 'old.db');
    const old = new SQLite(file);
    old.exec(RELEASED_SCHEMA);
    old.exec(`
      insert into topics (slug, name, position) values ('city', 'City', 0);
      insert into articles (slug, title, section_topic_id, body_markdown, tags_json, takeaway, sources_json,
          images_json, created_at, updated_at)
        values ('a', 'A title', 1, '![a map](/media/map.png)', '[]', null, '[]',
          '[{"src":"/media/map.png","alt":"a map"}]', '2026-01-05T09:00:00.000Z', '2026-01-05T09:00:00.000Z');`);
    const before = old.prepare('select name from pragma_table_info(?)').all('articles') as { name: string }[];
    expect(before.map((c) => c.name)).toContain('images_json');
    old.close();

    db = openDatabase(file);
    expect(await migrate(db)).toContain('070-drop-article-images');
    const tables = await db.introspection.getTables();
    const columns = tables.find((t) => t.name === 'articles')?.columns.map((c) => c.name) ?? [];
    expect(columns).not.toContain('images_json');
    expect(columns).toContain('body_markdown');
    const article = await db.selectFrom('articles').selectAll().executeTakeFirstOrThrow();
    expect(article).toMatchObject({ slug: 'a', title: 'A title', body_markdown: '![a map](/media/map.png)' });
    expect(await migrate(db)).toEqual([]);
  });
});
