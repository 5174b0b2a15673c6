import type { Kysely } from 'kysely';
import type { MigrationKit } from '../migration-kit.js';

// Issue 9 item 15: /healthz proves the database can be written by updating this one row.
export async function up(db: Kysely<unknown>, kit: MigrationKit): Promise<void> {
  await db.schema
    .createTable('health_probe')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('checked_at', kit.time, (c) => c.notNull())
    .execute();
  await (db as Kysely<{ health_probe: { id: number; checked_at: string } }>)
    .insertInto('health_probe')
    .values({ id: 1, checked_at: new Date(0).toISOString() })
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('health_probe').execute();
}
