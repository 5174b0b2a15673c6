import { sql, type Kysely } from 'kysely';
import type { MigrationKit } from '../migration-kit.js';

// Issue 13: senders that share a send. Each sender process has a row with a lease it renews
// (times in epoch milliseconds from the database's clock, so no sender's own clock decides);
// each delivery in flight records the sender holding it. The per-issue lease of 002 goes: any
// number of senders work on one issue. `send_rate` is the token bucket of SEND_RATE_LIMIT across
// all senders; `leader_locks` elects the process that runs the scheduler's tick (on SQLite; on
// PostgreSQL an advisory lock does it).
export async function up(db: Kysely<unknown>, kit: MigrationKit): Promise<void> {
  await db.schema
    .createTable('senders')
    .addColumn('id', kit.text, (c) => c.primaryKey())
    .addColumn('host', kit.text, (c) => c.notNull())
    .addColumn('pid', 'integer', (c) => c.notNull())
    .addColumn('started_at', kit.time, (c) => c.notNull())
    .addColumn('lease_until_ms', 'bigint', (c) => c.notNull())
    .addColumn('last_seen_ms', 'bigint', (c) => c.notNull())
    .addColumn('sent', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('rate', kit.float, (c) => c.notNull().defaultTo(0))
    .addColumn('stopped_at', kit.time)
    .execute();
  await db.schema.alterTable('deliveries').addColumn('claimed_by', kit.text).execute();
  // Only rows in flight carry a claim: the index stays as small as the sends in progress.
  await db.schema
    .createIndex('deliveries_in_flight')
    .on('deliveries')
    .columns(['issue_id', 'claimed_by'])
    .where(sql.ref('status'), '=', 'sending')
    .execute();
  await db.schema
    .createTable('send_rate')
    .addColumn('id', kit.text, (c) => c.primaryKey())
    .addColumn('tokens', kit.float, (c) => c.notNull())
    .addColumn('refilled_ms', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('leader_locks')
    .addColumn('name', kit.text, (c) => c.primaryKey())
    .addColumn('holder', kit.text, (c) => c.notNull())
    .addColumn('lease_until_ms', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.dropTable('send_leases').ifExists().execute();
}

export async function down(db: Kysely<unknown>, kit: MigrationKit): Promise<void> {
  await db.schema
    .createTable('send_leases')
    .ifNotExists()
    .addColumn('issue_id', 'integer', (c) => c.primaryKey().references('issues.id').onDelete('cascade'))
    .addColumn('owner', kit.text, (c) => c.notNull())
    .addColumn('heartbeat_at', kit.text, (c) => c.notNull())
    .execute();
  await db.schema.dropTable('leader_locks').ifExists().execute();
  await db.schema.dropTable('send_rate').ifExists().execute();
  await db.schema.dropIndex('deliveries_in_flight').ifExists().execute();
  await db.schema.alterTable('deliveries').dropColumn('claimed_by').execute();
  await db.schema.dropTable('senders').ifExists().execute();
}
