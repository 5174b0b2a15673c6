import { sql, type Kysely } from 'kysely';
import type { MigrationKit } from '../migration-kit.js';

// Issue 12: per issue, how editions are fitted under the email size budget (`auto`, `full` or
// `teasers`) and the editor's preheader (empty: made from the edition's takeaways or titles).
export async function up(db: Kysely<unknown>, kit: MigrationKit): Promise<void> {
  await db.schema
    .alterTable('issues')
    .addColumn('email_fit', kit.text, (c) => c.notNull().defaultTo('auto'))
    .execute();
  await kit.setOneOf(db, 'issues', 'email_fit', ['auto', 'full', 'teasers']);
  await db.schema
    .alterTable('issues')
    .addColumn('preheader', kit.text, (c) => c.notNull().defaultTo(sql`''`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('issues').dropColumn('preheader').execute();
  await db.schema.alterTable('issues').dropColumn('email_fit').execute();
}
