import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { DEMO_DIR } from '../../src/content/demo.js';
import { importFolder } from '../../src/content/import.js';
import { loadIssueDocument } from '../../src/content/content-repository.js';
import { addSubscriber } from '../../subscribers/add-subscriber.js';
import { findSubscriberByEmail, listConsentLog } from '../../subscribers/subscriber-repository.js';
import { signedInEditor, type Client, type SignedIn } from './admin-helpers.js';

// Settings → Topics: a topic nothing uses can be deleted; a topic in use is merged into another,
// and its subscribers keep their choice (moved, with a consent-log entry).

describe('deleting and merging topics in the editors’ app', () => {
  let editor: SignedIn;
  let services: Services;
  let client: Client;
  let token: string;
  const topicId = async (slug: string) =>
    (await services.db.selectFrom('topics').select('id').where('slug', '=', slug).executeTakeFirstOrThrow()).id;

  beforeAll(async () => {
    editor = await signedInEditor({
      role: 'admin',
      withLongIssue: false,
      seed: async (s, env) => {
        await importFolder(s.db, DEMO_DIR);
        await s.db
          .insertInto('topics')
          .values({ slug: 'unused', name: 'Unused', description: '', position: 50 })
          .execute();
        await addSubscriber(
          s.db,
          env.config.secretKey,
          { email: 'ana@example.org', topics: ['sending'] },
          { source: 'cli' },
        );
      },
    });
    ({ services, client } = editor);
    token = await client.csrfToken('/admin/settings/topics');
  });
  afterAll(() => editor?.close());

  it('deletes an unused topic and refuses to delete one in use', async () => {
    const page = await (await client.get('/admin/settings/topics')).text();
    expect(page).toContain(`value="delete:${await topicId('unused')}"`);
    expect(page).not.toContain(`value="delete:${await topicId('sending')}"`);
    const inUse = await client.post('/admin/settings/topics', {
      _csrf: token,
      op: `delete:${await topicId('sending')}`,
    });
    expect(inUse.status).toBe(409);
    expect(await inUse.text()).toContain('merge it into another topic instead');
    const gone = await client.post('/admin/settings/topics', { _csrf: token, op: `delete:${await topicId('unused')}` });
    expect(gone.status).toBe(303);
    expect(await services.db.selectFrom('topics').select('id').where('slug', '=', 'unused').execute()).toEqual([]);
  });

  it('merges after a confirmation page: articles, the draft and the subscriber’s choice move; the log says so', async () => {
    const [sending, privacy] = [await topicId('sending'), await topicId('privacy')];
    const asked = await client.post('/admin/settings/topics', {
      _csrf: token,
      op: `merge:${sending}`,
      [`into_${sending}`]: String(privacy),
    });
    expect(asked.status).toBe(200);
    const confirmation = await asked.text();
    expect(confirmation).toContain('Merge “Sending” into “Privacy”?');
    expect(confirmation).toMatch(/<strong>1<\/strong> subscriber choice/);
    expect(await services.db.selectFrom('topics').select('id').where('id', '=', sending).execute()).toHaveLength(1);
    const merged = await client.post('/admin/settings/topics/merge', {
      _csrf: token,
      from: String(sending),
      into: String(privacy),
    });
    expect(merged.status).toBe(303);
    const ana = await findSubscriberByEmail(services.db, 'ana@example.org');
    expect(ana?.topicSlugs).toEqual(['privacy']);
    const log = await listConsentLog(services.db, ana?.id ?? 0);
    expect(log.at(-1)).toMatchObject({ action: 'topics-merged', source: 'admin' });
    const doc = await loadIssueDocument(services.db, 'welcome');
    expect(doc.sections.map((t) => t.slug)).toEqual(['getting-started', 'editions', 'privacy']);
    expect(doc.articles.find((a) => a.slug === '04-reliable-sending')?.section.slug).toBe('privacy');
  });
});
