import type { Kysely } from 'kysely';
import type { MigrationKit } from '../migration-kit.js';

// Issue 15: the event outbox. A change that other systems hear about (a subscriber created,
// confirmed, changed, unsubscribed, bounced or erased; an issue sent) writes its event here in the
// same transaction as the change itself, so a crash can never keep the change and lose the event.
// Outgoing webhooks (api/webhooks/) read it. Rows naming a subscriber go when that subscriber is
// erased; the rest are purged once delivered.
export async function up(db: Kysely<unknown>, kit: MigrationKit): Promise<void> {
  await db.schema
    .createTable('outbox_events')
    .addColumn('id', 'integer', kit.id)
    .addColumn('type', kit.text, (c) => c.notNull())
    .addColumn('subject', kit.text, (c) => c.notNull())
    .addColumn('data', kit.json, (c) => c.notNull())
    .addColumn('created_at', kit.time, (c) => c.notNull())
    .$call(
      kit.oneOf('outbox_events', 'type', [
        'subscriber.created',
        'subscriber.confirmed',
        'subscriber.updated',
        'subscriber.unsubscribed',
        'subscriber.bounced',
        'subscriber.erased',
        'issue.sent',
      ]),
    )
    .execute();
  await db.schema.createIndex('outbox_events_subject').on('outbox_events').column('subject').execute();
  await db.schema.createIndex('outbox_events_created').on('outbox_events').column('created_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('outbox_events').ifExists().execute();
}
