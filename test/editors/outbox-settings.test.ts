import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TempEnv } from '../helpers/temp-env.js';
import type { Services } from '../../src/app/services.js';
import { addSubscriber } from '../../subscribers/add-subscriber.js';
import { listEditors } from '../../editors/editor-repository.js';
import { Client, signedInEditor, type RunningApp, type SignedIn } from './admin-helpers.js';
import { LONG_ISSUE } from '../fixtures/long-issue.js';

describe('outbox viewer and settings over HTTP', () => {
  let signedIn: SignedIn;
  let env: TempEnv;
  let services: Services;
  let app: RunningApp;
  let admin: Client;
  let token: string;

  beforeAll(async () => {
    // No SMTP_URL: the embedded outbox.
    signedIn = await signedInEditor({ email: 'boss@example.org', role: 'admin' });
    ({ env, services, app, client: admin } = signedIn);
    token = await admin.csrfToken('/admin/settings');
  });
  afterAll(() => signedIn?.close());

  it('lists outbox messages and shows one with its text part and a sandboxed HTML frame', async () => {
    const empty = await (await admin.get('/admin/outbox')).text();
    expect(empty).toContain('The outbox is empty.');
    const form = new URLSearchParams({ _csrf: token, testEmail: 'boss@example.org' });
    expect((await admin.post(`/admin/issues/${LONG_ISSUE.slug}/send/test`, form)).status).toBe(200);
    const list = await (await admin.get('/admin/outbox')).text();
    const name = /href="\/admin\/outbox\/([^"]+\.eml)"/.exec(list)?.[1] ?? '';
    expect(name).not.toBe('');
    expect(list).toContain('[TEST]');
    const page = await (await admin.get(`/admin/outbox/${name}`)).text();
    expect(page).toContain('<dt>List-Unsubscribe</dt>');
    // The subject holds an en dash, so it is sent as encoded words; the page shows it decoded.
    const raw = await (await admin.get(`/admin/outbox/${name}/raw`)).text();
    expect(raw).toMatch(/^Subject: =\?UTF-8\?[QB]\?/im);
    expect(page).toMatch(/<dt>Subject<\/dt><dd>\[TEST\] [^<]*March – April 2031<\/dd>/);
    expect(list).toContain('March – April 2031');
    expect(page).not.toContain('=?UTF-8?');
    expect(page).toMatch(/<pre class="text-part"[^>]*>[\s\S]*The Exchange Office Opens a Reading Room/);
    expect(page).toMatch(/<iframe class="mail-html" src="\/admin\/outbox\/[^"]+\/html"[^>]*sandbox=/);
    const frame = await admin.get(`/admin/outbox/${name}/html`);
    expect(frame.headers.get('content-security-policy')).toContain('sandbox');
    expect(await frame.text()).toContain('<html');
    expect((await admin.get('/admin/outbox/..%2Fsecret.key')).status).toBe(404);
  });

  it('renames a topic keeping every subscriber’s choice, and reorders topics', async () => {
    await addSubscriber(
      services.db,
      env.config.secretKey,
      { email: 'r@example.org', topics: ['city-services'] },
      { source: 'cli' },
    );
    const topic = await services.db
      .selectFrom('topics')
      .select(['id', 'position'])
      .where('slug', '=', 'city-services')
      .executeTakeFirstOrThrow();
    const res = await admin.post('/admin/settings/topics', {
      _csrf: token,
      op: `save:${topic.id}`,
      [`name_${topic.id}`]: 'Town Services',
      [`description_${topic.id}`]: 'Lamps, bins and benches',
    });
    expect(res.status).toBe(303);
    const renamed = await services.db
      .selectFrom('topics')
      .selectAll()
      .where('id', '=', topic.id)
      .executeTakeFirstOrThrow();
    expect(renamed).toMatchObject({
      name: 'Town Services',
      slug: 'town-services',
      description: 'Lamps, bins and benches',
    });
    const chosen = await services.db
      .selectFrom('subscriber_topics')
      .innerJoin('subscribers', 'subscribers.id', 'subscriber_topics.subscriber_id')
      .select('topic_id')
      .where('email', '=', 'r@example.org')
      .execute();
    expect(chosen).toEqual([{ topic_id: topic.id }]);
    const clash = await admin.post('/admin/settings/topics', {
      _csrf: token,
      op: `save:${topic.id}`,
      [`name_${topic.id}`]: 'Shared Ledgers',
      [`description_${topic.id}`]: '',
    });
    expect(clash.status).toBe(400);
    expect(await clash.text()).toContain('Another topic already has the address');
    await admin.post('/admin/settings/topics', { _csrf: token, op: `up:${topic.id}` });
    const moved = await services.db
      .selectFrom('topics')
      .select('position')
      .where('id', '=', topic.id)
      .executeTakeFirstOrThrow();
    expect(moved.position).toBeLessThan(topic.position);
  });

  it('saves the publication and glossary; the next render uses them', async () => {
    const bad = await admin.post('/admin/settings/publication', {
      _csrf: token,
      name: '',
      publisher: '',
      cadence: '',
      contact: '',
      about: '',
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('id="name-error"');
    expect(
      (
        await admin.post('/admin/settings/publication', {
          _csrf: token,
          name: 'Standards Digest',
          publisher: 'Riverside Exchange Office',
          cadence: 'bimonthly',
          contact: 'news@example.org',
          about: 'About us.',
        })
      ).status,
    ).toBe(303);
    expect(
      (
        await admin.post('/admin/settings/glossary', {
          _csrf: token,
          rows: '2',
          abbreviation_0: 'RTB',
          english_0: 'River Transport Board',
          chinese_0: '河运管理委员会',
        })
      ).status,
    ).toBe(303);
    expect(await services.db.selectFrom('glossary').select(['abbreviation', 'chinese']).execute()).toEqual([
      { abbreviation: 'RTB', chinese: '河运管理委员会' },
    ]);
    const edition = await services.renderer.edition(LONG_ISSUE.slug, null);
    expect(edition.subject).toContain('Standards Digest');
  });

  it('invites an editor with a one-time password, changes a role, and protects the last admin', async () => {
    const res = await admin.post('/admin/settings/editors', { _csrf: token, email: 'new@example.org', role: 'editor' });
    const html = await res.text();
    const password = /<span class="secret">([^<]+)<\/span>/.exec(html)?.[1] ?? '';
    expect(password).toHaveLength(20);
    expect((await new Client(app.url).login('new@example.org', password)).status).toBe(303);
    const editors = await listEditors(services.db);
    const me = editors.find((e) => e.email === 'boss@example.org');
    const other = editors.find((e) => e.email === 'new@example.org');
    const demote = await admin.post(`/admin/settings/editors/${me?.id}`, { _csrf: token, op: 'role', role: 'editor' });
    expect(demote.status).toBe(400);
    expect(await demote.text()).toContain('last admin');
    expect(
      (await admin.post(`/admin/settings/editors/${other?.id}`, { _csrf: token, op: 'role', role: 'admin' })).status,
    ).toBe(303);
    expect((await admin.post(`/admin/settings/editors/${other?.id}`, { _csrf: token, op: 'remove' })).status).toBe(303);
    expect((await listEditors(services.db)).map((e) => e.email)).toEqual(['boss@example.org']);
  });
});
