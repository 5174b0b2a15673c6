import { DEMO_DIR } from '../../src/content/demo.js';
import { importFolder } from '../../src/content/import.js';
import { startHarness, type WebHarness } from '../subscribers/web-harness.js';

/** A running web harness whose archive holds the project's demo issue `welcome`, sent. */
export async function startDemoArchive(): Promise<WebHarness> {
  const h = await startHarness({ longIssue: false });
  await importFolder(h.services.db, DEMO_DIR);
  await h.services.db.updateTable('issues').set({ status: 'sent', sent_at: '2026-01-15T09:00:00.000Z' }).execute();
  return h;
}
