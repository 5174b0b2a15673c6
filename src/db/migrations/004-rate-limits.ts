import type { Kysely } from 'kysely';
import type { MigrationKit } from '../migration-kit.js';

// Issue 13 item 4: the sign-up and sign-in rate limits count in the database, so two web processes
// (or two machines) behind one address share one count. One row per limited key (a keyed hash, never
// the address or IP itself) and window; `reset_ms` is when its window ends, in epoch milliseconds.
export async function up(db: Kysely<unknown>, kit: MigrationKit): Promise<void> {
  await db.schema
    .createTable('rate_limits')
    .addColumn('key', kit.text, (c) => c.primaryKey())
    .addColumn('hits', 'integer', (c) => c.notNull())
    .addColumn('reset_ms', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('rate_limits_reset').on('rate_limits').column('reset_ms').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('rate_limits').ifExists().execute();
}
