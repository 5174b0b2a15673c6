import path from 'node:path';
import { PROJECT_ROOT } from '../config/config.js';
import type { Db } from '../db/database.js';
import { nowIso } from '../db/database.js';
import { freezeIssueContent } from './content-repository.js';
import { importFolder } from './import.js';

export const DEMO_DIR = path.join(PROJECT_ROOT, 'demo');

/**
 * README, "Quick start": on an empty database, load the project's own demo issue, marked as sent so the
 * archive and its web version show it. Returns the slug when it loaded it.
 */
/** What seeding needs: the database, and the renderer's cache to drop the seeded issue from. */
export interface DemoSeedDeps {
  db: Db;
  renderer: { invalidate(slug: string): void };
}

export async function seedDemoIfEmpty(services: DemoSeedDeps): Promise<string | null> {
  const any = await services.db.selectFrom('issues').select('id').limit(1).executeTakeFirst();
  if (any) return null;
  const { slug } = await importFolder(services.db, DEMO_DIR);
  const now = nowIso();
  await services.db.transaction().execute(async (trx) => {
    const { id } = await trx
      .updateTable('issues')
      .set({ status: 'sent', sent_at: now, started_at: now, updated_at: now })
      .where('slug', '=', slug)
      .returning('id')
      .executeTakeFirstOrThrow();
    await freezeIssueContent(trx, id, now);
  });
  services.renderer.invalidate(slug);
  return slug;
}
