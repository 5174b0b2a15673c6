import type { Kysely } from 'kysely';
import type { MigrationKit } from '../migration-kit.js';

// Sending (issue 4): a lease so only one process sends an issue at a time, and an index that lets
// a batch claim walk pending deliveries in (edition_key, id) order without sorting the whole list.
export async function up(db: Kysely<unknown>, kit: MigrationKit): Promise<void> {
  await db.schema
    .createTable('send_leases')
    .addColumn('issue_id', 'integer', (c) => c.primaryKey().references('issues.id').onDelete('cascade'))
    .addColumn('owner', kit.text, (c) => c.notNull())
    .addColumn('heartbeat_at', kit.time, (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('deliveries_claim_order')
    .on('deliveries')
    .columns(['issue_id', 'status', 'edition_key', 'id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('deliveries_claim_order').ifExists().execute();
  await db.schema.dropTable('send_leases').ifExists().execute();
}
