import { sql, type Kysely } from 'kysely';
import type { MigrationKit } from '../migration-kit.js';

// Issue 15 §4: engagement analytics with privacy as the default (README: Engagement analytics).
// - `tracking_settings` (one row, id 1): the publication's tracking level, `aggregate` unless an
//   admin chose otherwise, and whether opens are counted (a pixel), off unless an admin turned it on.
// - `tracked_links`: every link (kind `link`) and open pixel (kind `open`) of every edition that was
//   sent with tracking, numbered in the edition (`position`), with the article it belongs to when
//   it belongs to one; the click tokens name these rows. The counts live on the row: `clicks` by
//   people, `machine_clicks` by scanners, prefetchers and image proxies. No person is in this table.
// - `subscribers.tracking_opt_in`: the reader agreed, on their preferences page, to individual
//   tracking (only used at the `individual` level; each change is in the consent log).
// - `click_events`: one row per counted click or open of an opted-in reader at the `individual`
//   level. It is the only personal record of engagement: erasure deletes it, the counts stay.
export async function up(db: Kysely<unknown>, kit: MigrationKit): Promise<void> {
  await db.schema
    .createTable('tracking_settings')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('level', kit.text, (c) => c.notNull())
    .addColumn('track_opens', kit.boolean, (c) => c.notNull())
    .addColumn('updated_at', kit.time)
    .$call(kit.oneOf('tracking_settings', 'level', ['off', 'aggregate', 'individual']))
    .execute();
  await sql`insert into tracking_settings (id, level, track_opens) values (1, 'aggregate', ${sql.lit(false)})`.execute(
    db,
  );
  await db.schema
    .alterTable('subscribers')
    .addColumn('tracking_opt_in', kit.boolean, (c) => c.notNull().defaultTo(false))
    .execute();
  await db.schema
    .createTable('tracked_links')
    .addColumn('id', 'integer', kit.id)
    .addColumn('issue_id', 'integer', (c) => c.notNull().references('issues.id').onDelete('cascade'))
    .addColumn('edition_key', kit.text, (c) => c.notNull())
    .addColumn('kind', kit.text, (c) => c.notNull())
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('url', kit.text, (c) => c.notNull())
    .addColumn('article_id', 'integer')
    .addColumn('clicks', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('machine_clicks', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', kit.time, (c) => c.notNull())
    .$call(kit.oneOf('tracked_links', 'kind', ['link', 'open']))
    .addUniqueConstraint('tracked_links_place', ['issue_id', 'edition_key', 'kind', 'position'])
    .execute();
  await db.schema
    .createTable('click_events')
    .addColumn('id', 'integer', kit.id)
    .addColumn('subscriber_id', 'integer', (c) => c.notNull().references('subscribers.id').onDelete('cascade'))
    .addColumn('link_id', 'integer', (c) => c.notNull().references('tracked_links.id').onDelete('cascade'))
    .addColumn('at', kit.time, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('click_events_subscriber').on('click_events').columns(['subscriber_id', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('click_events').ifExists().execute();
  await db.schema.dropTable('tracked_links').ifExists().execute();
  await db.schema.alterTable('subscribers').dropColumn('tracking_opt_in').execute();
  await db.schema.dropTable('tracking_settings').ifExists().execute();
}
