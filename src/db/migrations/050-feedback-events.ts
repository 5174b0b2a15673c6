import type { Kysely } from 'kysely';
import type { MigrationKit } from '../migration-kit.js';

// Bounces, complaints and unclassified replies (issue 14): one row per event received, keyed by
// its source and the provider's event id (or the report's Message-ID), so a replayed webhook or a
// mailbox message seen twice applies once. Rows go with their subscriber (erasure); an issue's
// deletion keeps the subscriber's history.
export async function up(db: Kysely<unknown>, kit: MigrationKit): Promise<void> {
  await db.schema
    .createTable('feedback_events')
    .addColumn('event_key', kit.text, (c) => c.primaryKey())
    .addColumn('source', kit.text, (c) => c.notNull())
    .addColumn('kind', kit.text, (c) => c.notNull())
    .addColumn('subscriber_id', 'integer', (c) => c.references('subscribers.id').onDelete('cascade'))
    .addColumn('issue_id', 'integer', (c) => c.references('issues.id').onDelete('set null'))
    .addColumn('recipient', kit.text)
    .addColumn('status_code', kit.text)
    .addColumn('diagnostic', kit.text)
    .addColumn('outcome', kit.text, (c) => c.notNull())
    .addColumn('subject', kit.text)
    .addColumn('from_address', kit.text)
    .addColumn('excerpt', kit.text)
    .addColumn('received_at', kit.time, (c) => c.notNull())
    .$call(kit.oneOf('feedback_events', 'source', ['smtp', 'imap', 'ses', 'mailgun', 'postmark', 'sendgrid']))
    .$call(kit.oneOf('feedback_events', 'kind', ['hard', 'soft', 'complaint', 'unclassified']))
    .$call(
      kit.oneOf('feedback_events', 'outcome', [
        'bounced',
        'complained',
        'soft-counted',
        'already-withdrawn',
        'kept-for-editor',
        'no-subscriber',
      ]),
    )
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
