import type { Kysely } from 'kysely';
import type { MigrationKit } from '../migration-kit.js';

// Issue 9 item 3: a one-click unsubscribe that could not be applied at once (a database locked for
// too long, a row lock on PostgreSQL, a bug) is written here in one short insert and answered once
// that row is committed; `newsletter serve` applies it from here until it holds
// (subscribers/unsubscribe-retry.ts). The id is random text, so the table needs no identity.
export async function up(db: Kysely<unknown>, kit: MigrationKit): Promise<void> {
  await db.schema
    .createTable('unsubscribe_requests')
    .addColumn('id', kit.text, (c) => c.primaryKey())
    .addColumn('subscriber_uid', kit.text, (c) => c.notNull())
    .addColumn('source', kit.text, (c) => c.notNull())
    .addColumn('detail', kit.text)
    .addColumn('ip', kit.text)
    .addColumn('user_agent', kit.text)
    .addColumn('requested_at', kit.time, (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', kit.text)
    .$call(kit.oneOf('unsubscribe_requests', 'source', ['one-click', 'unsubscribe-page']))
    .execute();
  await db.schema
    .createIndex('unsubscribe_requests_requested_at')
    .on('unsubscribe_requests')
    .column('requested_at')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('unsubscribe_requests').ifExists().execute();
}
