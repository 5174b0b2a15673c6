import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TempEnv } from '../helpers/temp-env.js';
import type { Services } from '../../src/app/services.js';
import { listTopics, loadArticles } from '../../src/content/content-repository.js';
import { signedInEditor, type Client, type RunningApp, type SignedIn } from './admin-helpers.js';
import { makePng } from '../fixtures/png.js';
import { LONG_ISSUE } from '../fixtures/long-issue.js';

describe('article library over HTTP', () => {
  let editor: SignedIn;
  let env: TempEnv;
  let services: Services;
  let app: RunningApp;
  let client: Client;
  let token: string;

  beforeAll(async () => {
    editor = await signedInEditor();
    ({ env, services, app, client } = editor);
    token = await client.csrfToken('/admin/articles/new');
  });
  afterAll(() => editor?.close());

  function articleForm(fields: Record<string, string>, file?: { name: string; type: string; data: Buffer }): FormData {
    const form = new FormData();
    form.set('_csrf', token);
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    if (file) form.set('image', new Blob([new Uint8Array(file.data)], { type: file.type }), file.name);
    return form;
  }

  it('lists and filters the library by search, topic, tag and use', async () => {
    const all = await (await client.get('/admin/articles')).text();
    expect(all).toContain(`${LONG_ISSUE.articles.length} articles`);
    const search = await (await client.get('/admin/articles?q=ledger')).text();
    expect(search).toContain('Two Ledger Standards Enter Public Review');
    expect(search).not.toContain('The Exchange Office Opens a Reading Room');
    const topics = await listTopics(services.db);
    const cityServices = topics.find((t) => t.slug === 'city-services');
    const byTopic = await (await client.get(`/admin/articles?topic=${cityServices?.id}`)).text();
    // The section's own article, and the Open Data article that carries the topic too.
    expect(byTopic).toMatch(/\b2 articles\b/);
    const unused = await (await client.get('/admin/articles?used=no')).text();
    expect(unused).toContain('0 articles');
  });

  it('saves an article with an uploaded image stored under /media and served there', async () => {
    const topics = await listTopics(services.db);
    const section = topics.find((t) => t.slug === 'open-data');
    const extra = topics.find((t) => t.slug === 'connected-devices');
    const png = makePng();
    const form = articleForm(
      {
        title: 'Data <exchange> pilots',
        sectionTopicId: String(section?.id),
        extraTopicIds: String(extra?.id),
        tags: 'Data, Pilots, data',
        takeaway: 'Pilots start in **three** cities.',
        sources: 'https://example.org/report The report',
        body: '### Background\n\nSome text.',
        imageAlt: 'A map of the pilot cities',
        intent: 'save',
      },
      { name: 'map.png', type: 'image/png', data: png },
    );
    const res = await client.post('/admin/articles', form);
    expect(res.status).toBe(303);
    const id = Number(/\/admin\/articles\/(\d+)/.exec(res.headers.get('location') ?? '')?.[1]);
    const [article] = await loadArticles(services.db, [id]);
    expect(article?.title).toBe('Data <exchange> pilots');
    expect(article?.topics.map((t) => t.slug)).toEqual(['open-data', 'connected-devices']);
    expect(article?.tags).toEqual(['Data', 'Pilots']);
    expect(article?.sources).toEqual([{ url: 'https://example.org/report', label: 'The report' }]);
    // The uploaded image is in the body, with its alt text, as the renderer reads it.
    const image = /!\[([^\]]*)\]\((\/media\/[\w-]+\.png)\)/.exec(article?.bodyMarkdown ?? '');
    const src = image?.[2] ?? '';
    expect(src).toMatch(/^\/media\/[\w-]+\.png$/);
    expect(image?.[1]).toBe('A map of the pilot cities');
    expect(readFileSync(path.join(env.config.mediaDir, path.basename(src)))).toEqual(png);
    const served = await fetch(app.url + src);
    expect(served.status).toBe(200);
    expect(Buffer.from(await served.arrayBuffer())).toEqual(png);
    // The edit page escapes what was typed.
    const edit = await (await client.get(`/admin/articles/${id}`)).text();
    expect(edit).toContain('Data &lt;exchange&gt; pilots');
  });

  it('refuses an upload that is not an image, keeping everything typed, and stores nothing', async () => {
    const before = readdirSync(env.config.mediaDir, { withFileTypes: true }).length;
    const form = articleForm(
      {
        title: 'Kept title',
        sectionTopicId: '',
        newSection: 'Quantum',
        tags: 'kept-tag',
        body: 'Kept **body**',
        imageAlt: 'x',
        intent: 'save',
      },
      { name: 'evil.png', type: 'image/png', data: Buffer.from('<script>alert(1)</script> not a png') },
    );
    const res = await client.post('/admin/articles', form);
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('is not a PNG, JPEG, GIF or WebP image');
    expect(html).toContain('id="image-error"');
    expect(html).toContain('value="Kept title"');
    expect(html).toContain('value="kept-tag"');
    expect(html).toContain('Kept **body**');
    expect(readdirSync(env.config.mediaDir, { withFileTypes: true }).length).toBe(before);
    expect(
      await services.db.selectFrom('articles').select('id').where('title', '=', 'Kept title').executeTakeFirst(),
    ).toBeUndefined();
  });

  it('gives an article over the 1 MB text limit its form back with the text kept and the limit stated', async () => {
    const topics = await listTopics(services.db);
    // 1.2 MB of text, paragraphs of mixed scripts (a CJK character is 3 bytes).
    const paragraph = 'A long report on river standards, 河流标准报告。 '.repeat(40);
    const body = Array.from({ length: Math.ceil((1.2 * 1024 * 1024) / Buffer.byteLength(paragraph)) }, (_, i) =>
      i === 0 ? `First paragraph ${paragraph}` : paragraph,
    ).join('\n\n');
    const form = articleForm({
      title: 'A very long report',
      sectionTopicId: String(topics[0]?.id),
      body,
      intent: 'save',
    });
    const res = await client.post('/admin/articles', form);
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toMatch(/id="body-error"[^>]*>[^<]*The text is 1\.2 MB; an article holds at most 1 MB of text\./);
    expect(html).toContain('value="A very long report"');
    const kept = /<textarea id="body"[^>]*>([\s\S]*?)<\/textarea>/.exec(html)?.[1] ?? '';
    // All of it (a multipart form sends line ends as CRLF).
    expect(kept.replace(/\r\n/g, '\n') === body).toBe(true);
    expect(
      await services.db
        .selectFrom('articles')
        .select('id')
        .where('title', '=', 'A very long report')
        .executeTakeFirst(),
    ).toBeUndefined();

    // Past what a form field may carry at all (4 MB), the page says so in the app's frame.
    const huge = await client.post(
      '/admin/articles',
      articleForm({ title: 'Huge', body: 'x'.repeat(5 * 1024 * 1024) }),
    );
    expect(huge.status).toBe(413);
    const hugePage = await huge.text();
    expect(hugePage).toContain('A field of this form is larger than 4 MB, so nothing was saved.');
    expect(hugePage).toContain('<h1 id="message-heading">Cannot do that</h1>');
  });

  it('shows each error beside its field and requires alt text for images', async () => {
    const res = await client.post(
      '/admin/articles',
      articleForm({
        title: '',
        sectionTopicId: '',
        body: 'Text ![](/media/x.png)',
        sources: 'not a url',
        intent: 'save',
      }),
    );
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('id="title-error"');
    expect(html).toContain('id="sectionTopicId-error"');
    expect(html).toContain('id="sources-error"');
    expect(html).toMatch(/id="body-error">Every image needs alt text/);
  });

  it('refuses a body or takeaway whose HTML nests too deep, beside the field, keeping what was typed', async () => {
    const topics = await listTopics(services.db);
    const before = (await (await client.get('/admin/articles')).text()).match(/(\d+) articles/)?.[1];
    const deepBody = `Deep ${'<b>'.repeat(2400)}text${'</b>'.repeat(2400)}`;
    const res = await client.post(
      '/admin/articles',
      articleForm({
        title: 'Nested too deep',
        sectionTopicId: String(topics[0]?.id),
        takeaway: `${'<i>'.repeat(150)}quote`,
        body: deepBody,
        intent: 'save',
      }),
    );
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toMatch(
      /id="body-error">The text cannot be saved: its HTML nests 2401 elements deep, more than the 100/,
    );
    expect(html).toMatch(
      /id="takeaway-error">The takeaway cannot be saved: its HTML nests \d+ elements deep, more than the 100 allowed/,
    );
    expect(html).toContain('value="Nested too deep"');
    expect(html).toContain(`Deep ${'&lt;b&gt;'.repeat(2400)}text`);
    expect((await (await client.get('/admin/articles')).text()).match(/(\d+) articles/)?.[1]).toBe(before);
  });

  it('previews Markdown through the sanitising renderer', async () => {
    const res = await client.post(
      '/admin/articles/preview',
      new URLSearchParams({
        markdown:
          '### Heading\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) <a href="javascript:alert(2)" onclick="x()">y</a> **bold**',
      }),
      { 'x-csrf-token': token },
    );
    expect(res.status).toBe(200);
    const { html } = (await res.json()) as { html: string };
    expect(html).toContain('<h4>Heading</h4>');
    expect(html).toContain('<strong>bold</strong>');
    expect(html).not.toContain('<script');
    expect(html).not.toMatch(/href="javascript:|onclick/);
  });
});
