import type { Kysely } from 'kysely';

// The editors' subscriber list (issue 9 item 21): the newest `updated_at` tells in one index lookup
// whether the cached counts per topic still hold (subscribers/subscriber-counts.ts).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('subscribers_updated_at').on('subscribers').column('updated_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('subscribers_updated_at').ifExists().execute();
}
