import { sql, type Kysely } from 'kysely';
import type { MigrationKit } from '../migration-kit.js';

// Issue 10: `articles.images_json` was written at every import and save and read by nothing: the
// images of an article are in its Markdown body, where the renderer and the alt-text check find
// them. Dropping it loses no information. `ALTER TABLE … DROP COLUMN` is SQLite (3.35+) and
// PostgreSQL alike.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('articles').dropColumn('images_json').execute();
}

export async function down(db: Kysely<unknown>, kit: MigrationKit): Promise<void> {
  await db.schema
    .alterTable('articles')
    .addColumn('images_json', kit.json, (c) => c.notNull().defaultTo(sql`'[]'`))
    .execute();
}
