import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { DEMO_DIR } from '../../src/content/demo.js';
import { importFolder } from '../../src/content/import.js';
import { addSubscriber } from '../../subscribers/add-subscriber.js';
import {
  createSubscribers,
  findSubscriberByEmail,
  findSubscriberByUid,
  resolveTopicSlugs,
  updateSubscriberProfile,
} from '../../subscribers/subscriber-repository.js';
import { QueryRecorder } from '../helpers/query-recorder.js';
import { signedUpThroughForm } from '../helpers/form-signup.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import {
  addEditor,
  Client as AdminClient,
  EDITOR_PASSWORD,
  signedInEditor,
  startApp,
  type Client,
  type RunningApp,
  type SignedIn,
} from './admin-helpers.js';

describe('subscriber pages over HTTP', () => {
  let editor: SignedIn;
  let services: Services;
  let client: Client;
  let token: string;

  beforeAll(async () => {
    editor = await signedInEditor({
      seed: async (services, env) => {
        await addSubscriber(
          services.db,
          env.config.secretKey,
          { email: 'old@example.org', name: 'Old Reader', topics: ['shared-ledgers'] },
          { source: 'cli' },
        );
      },
    });
    ({ services, client } = editor);
    token = await client.csrfToken('/admin/subscribers');
  });
  afterAll(() => editor?.close());

  it('imports a CSV with the CLI’s rules and shows the per-row report', async () => {
    const csv = [
      'email,name,topics',
      'new@example.org,New <b>One</b>,city-services;shared-ledgers',
      'broken-address,Bad,',
      'new@example.org,Again,',
      'x@example.org,X,no-such-topic',
    ].join('\n');
    const form = new FormData();
    form.set('_csrf', token);
    form.set('csv', new Blob([csv], { type: 'text/csv' }), 'list.csv');
    const res = await client.post('/admin/subscribers/import', form);
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toContain('Added 1, updated 0, unchanged 0, rejected 3.');
    expect(html).toMatch(/<td class="num">3<\/td><td>broken-address<\/td><td>bad address/);
    expect(html).toMatch(/<td class="num">4<\/td><td>new@example.org<\/td><td>duplicate in the file/);
    expect(html).toMatch(/<td class="num">5<\/td><td>x@example.org<\/td><td>[^<]*no-such-topic/);
    const row = await services.db
      .selectFrom('subscribers')
      .select(['name', 'status'])
      .where('email', '=', 'new@example.org')
      .executeTakeFirst();
    expect(row).toEqual({ name: 'New <b>One</b>', status: 'active' });
    // Everything a person typed is escaped.
    const list = await (await client.get('/admin/subscribers?q=new')).text();
    expect(list).toContain('New &lt;b&gt;One&lt;/b&gt;');
  });

  it('lists with filters and counts per status and topic', async () => {
    const html = await (await client.get('/admin/subscribers?topic=shared-ledgers')).text();
    expect(html).toContain('old@example.org');
    expect(html).toContain('new@example.org');
    expect(html).toMatch(/<th scope="row">Shared Ledgers<\/th><td class="num">2<\/td>/);
    expect(html).toMatch(/<a href="\/admin\/subscribers\?status=active">active<\/a><\/th><td class="num">2<\/td>/);
    const pending = await (await client.get('/admin/subscribers?status=pending')).text();
    expect(pending).not.toContain('old@example.org</a>');
  });

  it('exports CSV and shows a subscriber’s consent log', async () => {
    const res = await client.get('/admin/subscribers/export.csv');
    expect(res.headers.get('content-disposition')).toMatch(/attachment; filename="subscribers-/);
    const csv = await res.text();
    expect(csv.split('\n')[0]).toBe('email,name,topics,status,subscribed_at');
    expect(csv).toContain('old@example.org,Old Reader,shared-ledgers,active');
    const uid = (
      await services.db
        .selectFrom('subscribers')
        .select('uid')
        .where('email', '=', 'new@example.org')
        .executeTakeFirstOrThrow()
    ).uid;
    const subscriber = await findSubscriberByUid(services.db, uid);
    if (!subscriber) throw new Error('no subscriber');
    const ledgers = await resolveTopicSlugs(services.db, ['shared-ledgers', 'open-data']);
    await updateSubscriberProfile(services.db, subscriber, { topicIds: ledgers.ids }, 'profile-changed', {
      source: 'cli',
    });
    const detail = await (await client.get(`/admin/subscribers/${uid}`)).text();
    // A readable table: actions, sources and details in words, topics by name, no JSON.
    const rows = [
      ...detail.matchAll(/<tr>\s*<td>[^<]*<\/td>\s*<td>([^<]*)<\/td>\s*<td>([^<]*)<\/td>\s*<td>(.*?)<\/td>/gs),
    ];
    expect(rows.map((r) => [r[1], r[2]])).toEqual([
      ['Subscribed', 'CSV import'],
      ['Details changed', 'command line'],
    ]);
    expect(rows[0]?.[3]).toMatch(/<dt>Note<\/dt><dd>CSV line \d+<\/dd>/);
    expect(rows[1]?.[3]).toContain('<dt>Changed</dt><dd>topics</dd><dt>Topics</dt><dd>Open Data, Shared Ledgers</dd>');
    expect(detail.slice(detail.indexOf('id="consent-log"'))).not.toMatch(/[{}]|&quot;/);
  });
  it('keeps a subscriber’s own choice on import, names the row, and overwrites only when ticked', async () => {
    await signedUpThroughForm(services.db, { email: 'self@example.org', name: 'Self', topics: ['open-data'] });
    const upload = (overwrite: boolean) => {
      const form = new FormData();
      form.set('_csrf', token);
      form.set('csvText', 'email,name,topics\nself@example.org,Self,city-services\n');
      if (overwrite) form.set('overwrite', 'yes');
      return client.post('/admin/subscribers/import', form);
    };
    const kept = await (await upload(false)).text();
    expect(kept).toMatch(
      /<ul id="import-kept"><li>line 2: kept the topics self@example.org chose on \d{4}-\d{2}-\d{2}<\/li><\/ul>/,
    );
    expect((await findSubscriberByEmail(services.db, 'self@example.org'))?.topicSlugs).toEqual(['open-data']);
    const applied = await (await upload(true)).text();
    expect(applied).not.toContain('id="import-kept"');
    expect((await findSubscriberByEmail(services.db, 'self@example.org'))?.topicSlugs).toEqual(['city-services']);
  });

  it('leaves a sign-up not confirmed yet pending, even with “Overwrite”, and says so on the row', async () => {
    await signedUpThroughForm(services.db, {
      email: 'unsure@example.org',
      name: 'Unsure',
      topics: ['open-data'],
      status: 'pending',
    });
    const today = new Date().toISOString().slice(0, 10);
    for (const overwrite of [false, true]) {
      const form = new FormData();
      form.set('_csrf', token);
      form.set('csvText', 'email,name,topics,status\nunsure@example.org,Unsure,open-data,active\n');
      if (overwrite) form.set('overwrite', 'yes');
      const html = await (await client.post('/admin/subscribers/import', form)).text();
      expect(html).toContain('Added 0, updated 0, unchanged 1, rejected 0.');
      expect(html).toContain(
        `<ul id="import-kept"><li>line 2: kept unsure@example.org pending confirmation (signed up on ${today}, not confirmed)</li></ul>`,
      );
      expect(html).toContain(
        'an import confirms it only when the row has a consent cell saying where and how they agreed',
      );
      expect(html).not.toContain('tick “Overwrite”');
      expect((await findSubscriberByEmail(services.db, 'unsure@example.org'))?.status).toBe('pending');
    }
  });
});

describe('the subscriber list of a long list (issue 9 item 21)', () => {
  const LIST_SIZE = 20_000;
  let temp: TempEnv;
  let services: Services;
  let app: RunningApp;
  let client: AdminClient;
  const counter = new QueryRecorder();

  beforeAll(async () => {
    temp = makeTempEnv();
    services = await temp.open();
    await importFolder(services.db, DEMO_DIR);
    await services.db.transaction().execute((trx) =>
      createSubscribers(
        trx,
        Array.from({ length: LIST_SIZE }, (_, i) => ({
          email: `reader${String(i).padStart(5, '0')}@example.org`,
          name: `Reader ${i}`,
          status: 'active' as const,
          topicIds: [],
          action: 'subscribe',
          context: { source: 'cli' as const },
        })),
      ),
    );
    await addEditor(services, 'ed@example.org', EDITOR_PASSWORD);
    // The real app over the same database, its queries counted.
    app = await startApp({ ...services, db: services.db.withPlugin(counter) });
    client = new AdminClient(app.url);
    await client.login('ed@example.org', EDITOR_PASSWORD);
  });
  afterAll(async () => {
    await app?.close();
    await services?.close();
    temp?.cleanup();
  });

  const shown = (html: string) =>
    [...html.matchAll(/<a href="\/admin\/subscribers\/[^"]+">([^<]+)<\/a>/g)].map((m) => m[1]);
  const nextLink = (html: string) =>
    /<a href="\/admin\/subscribers(\?[^"]+)" rel="next">/
      .exec(html)?.[1]
      ?.replaceAll('&#x3D;', '=')
      .replaceAll('&amp;', '&');

  it('reads one page of rows from the database per view, not the whole list, and pages through it', async () => {
    counter.reset();
    const res = await client.get('/admin/subscribers');
    expect(res.status).toBe(200);
    const html = await res.text();
    // One page, its neighbours' cursors and the counts: a few hundred rows at most, of 20,000.
    expect(counter.rows).toBeLessThan(500);
    expect(shown(html)).toHaveLength(100);
    expect(shown(html)[0]).toBe('reader19999@example.org');
    expect(html).toContain('20,000 matches');
    expect(html).toMatch(/<th scope="row">No topic chosen \(everything\)<\/th><td class="num">20,000<\/td>/);

    const second = nextLink(html);
    expect(second).toBeDefined();
    counter.reset();
    const page2 = await (await client.get(`/admin/subscribers${second}`)).text();
    expect(counter.rows).toBeLessThan(500);
    expect(shown(page2)[0]).toBe('reader19899@example.org');
    expect(page2).toMatch(/rel="prev">Previous page<\/a>/);
  });

  it('filters in SQL and counts matches up to a cap', async () => {
    counter.reset();
    const html = await (await client.get('/admin/subscribers?q=reader1999')).text();
    expect(counter.rows).toBeLessThan(500);
    expect(shown(html)).toEqual(Array.from({ length: 10 }, (_, i) => `reader1999${9 - i}@example.org`));
    expect(html).toContain('10 matches');
    expect(nextLink(html)).toBeUndefined();
    expect(await (await client.get('/admin/subscribers?q=reader')).text()).toContain('More than 10,000 matches');
  });
});
