import type { Kysely } from 'kysely';
import type { MigrationKit } from '../migration-kit.js';

// The kit's column types and identity are what SQLite databases got from this migration before the
// kit existed (text, integer primary key autoincrement), so existing databases stay as they are.
export async function up(db: Kysely<unknown>, kit: MigrationKit): Promise<void> {
  const id = kit.id;

  await db.schema
    .createTable('publication')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('name', kit.text, (c) => c.notNull())
    .addColumn('publisher', kit.text, (c) => c.notNull().defaultTo(''))
    .addColumn('cadence', kit.text, (c) => c.notNull().defaultTo(''))
    .addColumn('contact', kit.text, (c) => c.notNull().defaultTo(''))
    .addColumn('about_markdown', kit.text, (c) => c.notNull().defaultTo(''))
    .execute();

  await db.schema
    .createTable('glossary')
    .addColumn('id', 'integer', id)
    .addColumn('abbreviation', kit.text, (c) => c.notNull().unique())
    .addColumn('english', kit.text, (c) => c.notNull())
    .addColumn('chinese', kit.text, (c) => c.notNull().defaultTo(''))
    .addColumn('position', 'integer', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('topics')
    .addColumn('id', 'integer', id)
    .addColumn('slug', kit.text, (c) => c.notNull().unique())
    .addColumn('name', kit.text, (c) => c.notNull())
    .addColumn('description', kit.text, (c) => c.notNull().defaultTo(''))
    .addColumn('position', 'integer', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('articles')
    .addColumn('id', 'integer', id)
    .addColumn('slug', kit.text, (c) => c.notNull().unique())
    .addColumn('title', kit.text, (c) => c.notNull())
    .addColumn('section_topic_id', 'integer', (c) => c.notNull().references('topics.id'))
    .addColumn('body_markdown', kit.text, (c) => c.notNull())
    .addColumn('tags_json', kit.json, (c) => c.notNull().defaultTo('[]'))
    .addColumn('takeaway', kit.text)
    .addColumn('sources_json', kit.json, (c) => c.notNull().defaultTo('[]'))
    .addColumn('images_json', kit.json, (c) => c.notNull().defaultTo('[]'))
    .addColumn('created_at', kit.time, (c) => c.notNull())
    .addColumn('updated_at', kit.time, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('article_topics')
    .addColumn('article_id', 'integer', (c) => c.notNull().references('articles.id').onDelete('cascade'))
    .addColumn('topic_id', 'integer', (c) => c.notNull().references('topics.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('article_topics_pk', ['article_id', 'topic_id'])
    .execute();

  await db.schema
    .createTable('issues')
    .addColumn('id', 'integer', id)
    .addColumn('slug', kit.text, (c) => c.notNull().unique())
    .addColumn('title', kit.text, (c) => c.notNull())
    .addColumn('edition', kit.text, (c) => c.notNull().defaultTo(''))
    .addColumn('period', kit.text, (c) => c.notNull().defaultTo(''))
    .addColumn('editor_note_markdown', kit.text, (c) => c.notNull().defaultTo(''))
    .addColumn('status', kit.text, (c) => c.notNull().defaultTo('draft'))
    .addColumn('send_at', kit.time)
    .addColumn('started_at', kit.time)
    .addColumn('sent_at', kit.time)
    .addColumn('pause_reason', kit.text)
    .addColumn('created_at', kit.time, (c) => c.notNull())
    .addColumn('updated_at', kit.time, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('issues_status_send_at').on('issues').columns(['status', 'send_at']).execute();

  await db.schema
    .createTable('issue_sections')
    .addColumn('issue_id', 'integer', (c) => c.notNull().references('issues.id').onDelete('cascade'))
    .addColumn('topic_id', 'integer', (c) => c.notNull().references('topics.id'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('issue_sections_pk', ['issue_id', 'topic_id'])
    .execute();

  await db.schema
    .createTable('issue_articles')
    .addColumn('issue_id', 'integer', (c) => c.notNull().references('issues.id').onDelete('cascade'))
    .addColumn('article_id', 'integer', (c) => c.notNull().references('articles.id'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('issue_articles_pk', ['issue_id', 'article_id'])
    .execute();

  await db.schema
    .createTable('subscribers')
    .addColumn('id', 'integer', id)
    .addColumn('uid', kit.text, (c) => c.notNull().unique())
    .addColumn('email', kit.text, (c) => c.notNull().unique())
    .addColumn('name', kit.text, (c) => c.notNull().defaultTo(''))
    .addColumn('status', kit.text, (c) => c.notNull())
    .addColumn('created_at', kit.time, (c) => c.notNull())
    .addColumn('confirmed_at', kit.time)
    .addColumn('unsubscribed_at', kit.time)
    .addColumn('updated_at', kit.time, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('subscribers_status').on('subscribers').column('status').execute();

  await db.schema
    .createTable('subscriber_topics')
    .addColumn('subscriber_id', 'integer', (c) => c.notNull().references('subscribers.id').onDelete('cascade'))
    .addColumn('topic_id', 'integer', (c) => c.notNull().references('topics.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('subscriber_topics_pk', ['subscriber_id', 'topic_id'])
    .execute();

  await db.schema
    .createTable('consent_log')
    .addColumn('id', 'integer', id)
    .addColumn('subscriber_id', 'integer', (c) => c.notNull().references('subscribers.id').onDelete('cascade'))
    .addColumn('action', kit.text, (c) => c.notNull())
    .addColumn('source', kit.text, (c) => c.notNull())
    .addColumn('detail', kit.text)
    .addColumn('ip', kit.text)
    .addColumn('user_agent', kit.text)
    .addColumn('created_at', kit.time, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('consent_log_subscriber').on('consent_log').column('subscriber_id').execute();

  await db.schema
    .createTable('erased_addresses')
    .addColumn('email_hash', kit.text, (c) => c.primaryKey())
    .addColumn('erased_at', kit.time, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('deliveries')
    .addColumn('id', 'integer', id)
    .addColumn('issue_id', 'integer', (c) => c.notNull().references('issues.id').onDelete('cascade'))
    .addColumn('subscriber_id', 'integer', (c) => c.notNull().references('subscribers.id').onDelete('cascade'))
    .addColumn('edition_key', kit.text, (c) => c.notNull())
    .addColumn('status', kit.text, (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', kit.time)
    .addColumn('claimed_at', kit.time)
    .addColumn('sent_at', kit.time)
    .addColumn('last_error', kit.text)
    .addColumn('created_at', kit.time, (c) => c.notNull())
    .addUniqueConstraint('deliveries_issue_subscriber', ['issue_id', 'subscriber_id'])
    .execute();
  await db.schema
    .createIndex('deliveries_claim')
    .on('deliveries')
    .columns(['issue_id', 'status', 'next_attempt_at', 'id'])
    .execute();

  await db.schema
    .createTable('editors')
    .addColumn('id', 'integer', id)
    .addColumn('email', kit.text, (c) => c.notNull().unique())
    .addColumn('password_hash', kit.text, (c) => c.notNull())
    .addColumn('role', kit.text, (c) => c.notNull())
    .addColumn('created_at', kit.time, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id_hash', kit.text, (c) => c.primaryKey())
    .addColumn('editor_id', 'integer', (c) => c.notNull().references('editors.id').onDelete('cascade'))
    .addColumn('csrf_secret', kit.text, (c) => c.notNull())
    .addColumn('created_at', kit.time, (c) => c.notNull())
    .addColumn('expires_at', kit.time, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('media')
    .addColumn('id', 'integer', id)
    .addColumn('filename', kit.text, (c) => c.notNull().unique())
    .addColumn('original_name', kit.text, (c) => c.notNull())
    .addColumn('mime', kit.text, (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('alt', kit.text, (c) => c.notNull())
    .addColumn('created_at', kit.time, (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'media',
    'sessions',
    'editors',
    'deliveries',
    'erased_addresses',
    'consent_log',
    'subscriber_topics',
    'subscribers',
    'issue_articles',
    'issue_sections',
    'issues',
    'article_topics',
    'articles',
    'topics',
    'glossary',
    'publication',
  ]) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
