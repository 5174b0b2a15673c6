import type { Kysely } from 'kysely';
import type { MigrationKit } from '../migration-kit.js';

// Issue 13: the compiled MJML frame of an issue whose content is frozen (its send started), shared
// by every process through the database, so that of several senders only the first compiles MJML
// (the send's planning does it): the others fill editions into the stored frame and never load
// MJML. `source_hash` names exactly what was compiled (see src/render/compiled-frames.ts). Only a
// cache: a missing row is compiled again.
export async function up(db: Kysely<unknown>, kit: MigrationKit): Promise<void> {
  await db.schema
    .createTable('compiled_frames')
    .addColumn('source_hash', kit.text, (c) => c.primaryKey())
    .addColumn('issue_id', 'integer', (c) => c.notNull().references('issues.id').onDelete('cascade'))
    .addColumn('html', kit.text, (c) => c.notNull())
    .addColumn('created_at', kit.time, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('compiled_frames_issue').on('compiled_frames').column('issue_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('compiled_frames').ifExists().execute();
}
