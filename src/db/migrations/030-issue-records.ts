import type { Kysely } from 'kysely';
import type { MigrationKit } from '../migration-kit.js';

// Issue 11: a sent issue is a record. `issue_snapshots` holds what a send sent (taken when the send
// starts), `issue_corrections` each correction published afterwards with the content it replaced,
// and two columns on `issues` let a sent issue be withdrawn from the archive with a note.
// Issues sent before this migration get their snapshot the first time they are read
// (content-repository.ts), from the content they hold then.
export async function up(db: Kysely<unknown>, kit: MigrationKit): Promise<void> {
  await db.schema
    .createTable('issue_snapshots')
    .addColumn('issue_id', 'integer', (c) => c.primaryKey().references('issues.id').onDelete('cascade'))
    .addColumn('content_json', kit.json, (c) => c.notNull())
    .addColumn('taken_at', kit.time, (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('issue_corrections')
    .addColumn('id', 'integer', kit.id)
    .addColumn('issue_id', 'integer', (c) => c.notNull().references('issues.id').onDelete('cascade'))
    .addColumn('note', kit.text, (c) => c.notNull())
    .addColumn('corrected_at', kit.time, (c) => c.notNull())
    .addColumn('corrected_by', kit.text, (c) => c.notNull())
    .addColumn('replaced_json', kit.json, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('issue_corrections_issue').on('issue_corrections').column('issue_id').execute();
  await db.schema.alterTable('issues').addColumn('withdrawn_at', kit.time).execute();
  await db.schema.alterTable('issues').addColumn('withdrawal_note', kit.text).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('issues').dropColumn('withdrawal_note').execute();
  await db.schema.alterTable('issues').dropColumn('withdrawn_at').execute();
  await db.schema.dropTable('issue_corrections').ifExists().execute();
  await db.schema.dropTable('issue_snapshots').ifExists().execute();
}
