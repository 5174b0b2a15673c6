import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { loadIssueDocument } from '../../src/content/content-repository.js';
import { signedInEditor, type Client, type SignedIn } from './admin-helpers.js';
import { LONG_ISSUE } from '../fixtures/long-issue.js';

describe('issue composer over HTTP', () => {
  let editor: SignedIn;
  let services: Services;
  let client: Client;
  let token: string;

  beforeAll(async () => {
    editor = await signedInEditor();
    ({ services, client } = editor);
    token = await client.csrfToken('/admin/issues/new');
  });
  afterAll(() => editor?.close());

  async function ids(): Promise<Map<string, number>> {
    const rows = await services.db.selectFrom('articles').select(['id', 'slug']).execute();
    return new Map(rows.map((r) => [r.slug.slice(0, 2), r.id]));
  }

  it('creates an issue, adds articles, reorders, orders sections, removes, and the Index follows', async () => {
    const bad = await client.post('/admin/issues', { _csrf: token, title: '', period: '', slug: 'Bad Slug' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('id="title-error"');

    const created = await client.post('/admin/issues', {
      _csrf: token,
      title: 'Riverside Open Standards Digest',
      edition: 'Volume 8',
      period: 'December 2020',
      note: 'Hello **readers**',
    });
    expect(created.status).toBe(303);
    expect(created.headers.get('location')).toBe('/admin/issues/december-2020?notice=created');
    // An issue with no article yet previews as an empty edition rather than failing.
    const emptyPreview = await client.get('/admin/issues/december-2020/preview');
    expect(emptyPreview.status).toBe(200);
    expect(await emptyPreview.text()).toContain('This edition holds no article');

    const a = await ids();
    // 08 and 09 are Privacy & Security, 01 Office News, 17 Shared Ledgers.
    const add = new URLSearchParams({ _csrf: token });
    for (const n of ['08', '17', '09', '01']) add.append('add', String(a.get(n)));
    expect((await client.post('/admin/issues/december-2020/add', add)).status).toBe(303);
    let doc = await loadIssueDocument(services.db, 'december-2020');
    expect(doc.sections.map((s) => s.slug)).toEqual(['privacy-security', 'shared-ledgers', 'office-news']);
    expect(doc.articles.map((x) => x.slug.slice(0, 2))).toEqual(['08', '09', '17', '01']);

    // Keyboard/no-JS path: one form, the pressed button names the change.
    expect(
      (await client.post('/admin/issues/december-2020/arrange', { _csrf: token, op: `up:${a.get('09')}` })).status,
    ).toBe(303);
    expect(
      (
        await client.post('/admin/issues/december-2020/arrange', {
          _csrf: token,
          op: `section-up:${doc.sections[2]?.id}`,
        })
      ).status,
    ).toBe(303);
    doc = await loadIssueDocument(services.db, 'december-2020');
    expect(doc.sections.map((s) => s.slug)).toEqual(['privacy-security', 'office-news', 'shared-ledgers']);
    expect(doc.articles.map((x) => x.slug.slice(0, 2))).toEqual(['09', '08', '01', '17']);

    // Drag-and-drop path (JSON from reorder.js).
    const dnd = await client.post(
      '/admin/issues/december-2020/order',
      JSON.stringify({ order: [a.get('08'), a.get('09'), a.get('01'), a.get('17')] }),
      {
        'content-type': 'application/json',
        'x-csrf-token': token,
      },
    );
    expect(dnd.status).toBe(200);
    doc = await loadIssueDocument(services.db, 'december-2020');
    expect(doc.articles.map((x) => x.slug.slice(0, 2))).toEqual(['08', '09', '01', '17']);

    // Remove the only Shared Ledgers article: its section goes with it.
    await client.post('/admin/issues/december-2020/arrange', { _csrf: token, op: `remove:${a.get('17')}` });
    doc = await loadIssueDocument(services.db, 'december-2020');
    expect(doc.sections.map((s) => s.slug)).toEqual(['privacy-security', 'office-news']);

    // Mark a takeaway from the composer.
    await client.post('/admin/issues/december-2020/arrange', {
      _csrf: token,
      op: `takeaway:${a.get('08')}`,
      [`takeaway_${a.get('08')}`]: 'Watch the video.',
    });
    const page = await (await client.get('/admin/issues/december-2020')).text();
    const index = page.slice(page.indexOf('id="index-heading"'));
    expect(index.indexOf('Privacy &amp; Security')).toBeGreaterThan(0);
    expect(index.indexOf('Privacy &amp; Security')).toBeLessThan(index.indexOf('Office News'));
    expect(index).toContain('<strong>readers</strong>');
    expect(index).toMatch(/<strong>1\. A Short Video Explains the Password Guidance<\/strong>: Watch the video\./);
  });

  it('renders the change at once: the renderer cache is invalidated', async () => {
    const before = await services.renderer.edition('december-2020', null);
    await client.post('/admin/issues/december-2020/details', {
      _csrf: token,
      title: 'Renamed Newsletter',
      edition: 'Volume 8',
      period: 'December 2020',
      note: '',
    });
    const after = await services.renderer.edition('december-2020', null);
    expect(after.subject).toContain('Renamed Newsletter');
    expect(before.subject).not.toContain('Renamed Newsletter');
  });

  it('refuses changes to a sent issue', async () => {
    const res = await client.post(`/admin/issues/${LONG_ISSUE.slug}/arrange`, { _csrf: token, op: 'remove:1' });
    // The long issue is a draft after import; mark it sent to check the lock.
    expect(res.status).toBe(303);
    await services.db.updateTable('issues').set({ status: 'sent' }).where('slug', '=', LONG_ISSUE.slug).execute();
    const locked = await client.post(`/admin/issues/${LONG_ISSUE.slug}/arrange`, { _csrf: token, op: 'remove:2' });
    expect(locked.status).toBe(409);
  });
});
