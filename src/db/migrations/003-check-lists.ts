import type { Kysely } from 'kysely';
import type { MigrationKit } from '../migration-kit.js';

// Issue 10: the status, role and source columns hold only the values the code knows, enforced by
// the database as well as by TypeScript (whose types `npm run db:types` reads from these lists).
// A later migration that adds a value calls `kit.setOneOf` with the whole new list.
export async function up(db: Kysely<unknown>, kit: MigrationKit): Promise<void> {
  await kit.setOneOf(db, 'issues', 'status', ['draft', 'scheduled', 'sending', 'paused', 'sent', 'cancelled']);
  await kit.setOneOf(db, 'subscribers', 'status', ['pending', 'active', 'unsubscribed', 'bounced', 'complained']);
  await kit.setOneOf(db, 'consent_log', 'source', [
    'form',
    'import',
    'cli',
    'one-click',
    'unsubscribe-page',
    'preferences',
    'admin',
    'system',
    'complaint',
  ]);
  await kit.setOneOf(db, 'deliveries', 'status', ['pending', 'sending', 'sent', 'skipped', 'failed']);
  await kit.setOneOf(db, 'editors', 'role', ['admin', 'editor']);
}
