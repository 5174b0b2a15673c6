import type { Kysely } from 'kysely';

// Bounces, complaints and unclassified replies (issue 14): one row per event received, keyed by
// its source and the provider's event id (or the report's Message-ID), so a replayed webhook or a
// mailbox message seen twice applies once. Rows go with their subscriber (erasure); an issue's
// deletion keeps the subscriber's history.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('feedback_events')
    .addColumn('event_key', 'text', (c) => c.primaryKey())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('subscriber_id', 'integer', (c) => c.references('subscribers.id').onDelete('cascade'))
    .addColumn('issue_id', 'integer', (c) => c.references('issues.id').onDelete('set null'))
    .addColumn('recipient', 'text')
    .addColumn('status_code', 'text')
    .addColumn('diagnostic', 'text')
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('subject', 'text')
    .addColumn('from_address', 'text')
    .addColumn('excerpt', 'text')
    .addColumn('received_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('feedback_events_issue').on('feedback_events').columns(['issue_id', 'kind']).execute();
  await db.schema
    .createIndex('feedback_events_subscriber')
    .on('feedback_events')
    .columns(['subscriber_id', 'issue_id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('feedback_events').ifExists().execute();
}
