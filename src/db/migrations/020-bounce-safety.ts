import type { Kysely } from 'kysely';
import type { MigrationKit } from '../migration-kit.js';

// Issue 9 item 2: the bounce safety net. While the first 100 recipients of a send are being
// judged, a bounce is held on its delivery (`bounce_held`) instead of marking the subscriber;
// `issues.bounce_check` records the verdict: null while open, 'passed' (held bounces applied) or
// 'tripped' (more than 20 % bounced: the send paused and nobody was marked).
export async function up(db: Kysely<unknown>, kit: MigrationKit): Promise<void> {
  await db.schema
    .alterTable('deliveries')
    .addColumn('bounce_held', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('issues').addColumn('bounce_check', kit.text).execute();
  await kit.setOneOf(db, 'issues', 'bounce_check', ['passed', 'tripped']);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('issues').dropColumn('bounce_check').execute();
  await db.schema.alterTable('deliveries').dropColumn('bounce_held').execute();
}
