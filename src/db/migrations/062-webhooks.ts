import { sql, type Kysely } from 'kysely';
import type { MigrationKit } from '../migration-kit.js';

// Issue 15: outgoing webhooks. `webhook_endpoints` are the URLs admins registered, each with the
// events it wants and its own signing secret (kept as text: signing needs it). One
// `webhook_deliveries` row per event and endpoint is the persisted queue: attempts, when the next
// is due, and the last answer, shown in the app. Deliveries go with their event (an erasure
// deletes the events about the person, and with them every delivery of their data).
// `webhook_relay` holds the last outbox event handed to the endpoints.
export async function up(db: Kysely<unknown>, kit: MigrationKit): Promise<void> {
  await db.schema
    .createTable('webhook_endpoints')
    .addColumn('id', 'integer', kit.id)
    .addColumn('url', kit.text, (c) => c.notNull())
    .addColumn('description', kit.text, (c) => c.notNull())
    .addColumn('events', kit.text, (c) => c.notNull())
    .addColumn('secret', kit.text, (c) => c.notNull())
    .addColumn('after_event_id', 'integer', (c) => c.notNull())
    .addColumn('created_by', kit.text, (c) => c.notNull())
    .addColumn('created_at', kit.time, (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('id', 'integer', kit.id)
    .addColumn('endpoint_id', 'integer', (c) => c.notNull().references('webhook_endpoints.id').onDelete('cascade'))
    .addColumn('event_id', 'integer', (c) => c.notNull().references('outbox_events.id').onDelete('cascade'))
    .addColumn('status', kit.text, (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('next_attempt_at', kit.time)
    .addColumn('last_attempt_at', kit.time)
    .addColumn('last_status', 'integer')
    .addColumn('last_response', kit.text)
    .addColumn('last_error', kit.text)
    .addColumn('delivered_at', kit.time)
    .addColumn('created_at', kit.time, (c) => c.notNull())
    .$call(kit.oneOf('webhook_deliveries', 'status', ['pending', 'delivered', 'failed']))
    .addUniqueConstraint('webhook_deliveries_event_endpoint', ['event_id', 'endpoint_id'])
    .execute();
  await db.schema
    .createIndex('webhook_deliveries_due')
    .on('webhook_deliveries')
    .columns(['status', 'next_attempt_at'])
    .execute();
  await db.schema
    .createIndex('webhook_deliveries_endpoint')
    .on('webhook_deliveries')
    .columns(['endpoint_id', 'id'])
    .execute();
  await db.schema
    .createTable('webhook_relay')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('last_event_id', 'integer', (c) => c.notNull())
    .execute();
  await sql`insert into webhook_relay (id, last_event_id) values (1, 0)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('webhook_relay').ifExists().execute();
  await db.schema.dropTable('webhook_deliveries').ifExists().execute();
  await db.schema.dropTable('webhook_endpoints').ifExists().execute();
}
