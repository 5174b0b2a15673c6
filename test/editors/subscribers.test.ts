import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { addSubscriber } from '../../subscribers/add-subscriber.js';
import { signedInEditor, type Client, type SignedIn } from './admin-helpers.js';

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
    const detail = await (await client.get(`/admin/subscribers/${uid}`)).text();
    expect(detail).toMatch(/<table class="list" id="consent-log">[\s\S]*<td>import<\/td>/);
  });
});
