import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importFolder } from '../../src/content/import.js';
import { DEMO_DIR } from '../../src/content/demo.js';
import type { IssueStatus } from '../../src/db/schema.js';
import { ARTIFACTS_DIR, chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { startHarness, type WebHarness } from '../subscribers/web-harness.js';
import { importLongIssue } from '../fixtures/long-issue.js';
import { testDatabaseUrl } from '../helpers/test-database.js';

let h: WebHarness;
let longSlug: string;
let demoSlug: string;

const HIDDEN: IssueStatus[] = ['draft', 'scheduled', 'sending', 'paused', 'cancelled'];

beforeAll(async () => {
  h = await startHarness({ longIssue: false });
  const db = h.services.db;
  longSlug = await importLongIssue(h.services);
  demoSlug = (await importFolder(db, DEMO_DIR)).slug;
  await db
    .updateTable('issues')
    .set({ status: 'sent', sent_at: '2020-12-01T09:00:00.000Z' })
    .where('slug', '=', longSlug)
    .execute();
  await db
    .updateTable('issues')
    .set({ status: 'sent', sent_at: '2021-01-15T09:00:00.000Z' })
    .where('slug', '=', demoSlug)
    .execute();
  // Issues that are not public, one per status.
  for (const status of HIDDEN) {
    await db
      .insertInto('issues')
      .values({
        slug: `hidden-${status}`,
        title: `Secret ${status} issue`,
        edition: '',
        period: `Period ${status}`,
        editor_note_markdown: '',
        status,
        send_at: status === 'scheduled' ? '2099-01-01T00:00:00.000Z' : null,
        started_at: null,
        sent_at: null,
        pause_reason: null,
        created_at: '2099-01-01T00:00:00.000Z',
        updated_at: '2099-01-01T00:00:00.000Z',
      })
      .execute();
  }
});
afterAll(async () => {
  await h?.close();
});

async function get(p: string): Promise<{ status: number; html: string; res: Response }> {
  const res = await fetch(h.base + p, { redirect: 'manual' });
  return { status: res.status, html: await res.text(), res };
}

/** Titles of the long issue's articles that carry a topic, and of those that do not. */
async function articlesByTopic(topic: string): Promise<{ inside: string[]; outside: string[] }> {
  const db = h.services.db;
  const all = await db
    .selectFrom('issue_articles')
    .innerJoin('issues', 'issues.id', 'issue_articles.issue_id')
    .innerJoin('articles', 'articles.id', 'issue_articles.article_id')
    .select(['articles.id', 'articles.title'])
    .where('issues.slug', '=', longSlug)
    .execute();
  const carrying = await db
    .selectFrom('articles')
    .innerJoin('topics as section', 'section.id', 'articles.section_topic_id')
    .leftJoin('article_topics', 'article_topics.article_id', 'articles.id')
    .leftJoin('topics as extra', 'extra.id', 'article_topics.topic_id')
    .select('articles.id')
    .where((eb) => eb.or([eb('section.slug', '=', topic), eb('extra.slug', '=', topic)]))
    .execute();
  const ids = new Set(carrying.map((c) => c.id));
  const escape = (t: string) =>
    t
      .replaceAll('&', '&amp;')
      .replaceAll('<', '&lt;')
      .replaceAll('>', '&gt;')
      .replaceAll('"', '&quot;')
      .replaceAll("'", '&#x27;');
  return {
    inside: all.filter((a) => ids.has(a.id)).map((a) => escape(a.title)),
    outside: all.filter((a) => !ids.has(a.id)).map((a) => escape(a.title)),
  };
}

describe('public archive', () => {
  it('lists sent issues newest first and nothing else', async () => {
    const { status, html } = await get('/issues');
    expect(status).toBe(200);
    const long = html.indexOf(`href="/issues/${longSlug}"`);
    const demo = html.indexOf(`href="/issues/${demoSlug}"`);
    expect(long).toBeGreaterThan(0);
    expect(demo).toBeGreaterThan(0);
    expect(demo).toBeLessThan(long);
    expect(html).toContain('<time datetime="2020-12-01T09:00:00.000Z">1 December 2020</time>');
    for (const s of HIDDEN) {
      expect(html).not.toContain(`hidden-${s}`);
      expect(html).not.toContain(`Secret ${s}`);
    }
  });

  it('serves the web version of a sent issue and 404s every other status', async () => {
    const page = await get(`/issues/${longSlug}`);
    expect(page.status).toBe(200);
    expect(page.res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.res.headers.get('content-security-policy')).toContain("default-src 'self'");
    const { inside } = await articlesByTopic('open-data');
    expect(page.html).toContain(inside[0]);
    for (const s of HIDDEN) {
      const hidden = await get(`/issues/hidden-${s}`);
      expect(hidden.status, s).toBe(404);
      expect(hidden.html).not.toContain(`Secret ${s}`);
    }
    expect((await get('/issues/no-such-issue')).status).toBe(404);
  });

  it('serves an issue whose send has begun, since its emails link to it', async () => {
    for (const s of ['sending', 'paused', 'cancelled'] as const) {
      await h.services.db
        .updateTable('issues')
        .set({ started_at: '2099-01-02T00:00:00.000Z' })
        .where('slug', '=', `hidden-${s}`)
        .execute();
      const page = await get(`/issues/hidden-${s}`);
      expect(page.status, s).toBe(200);
      expect(page.html).toContain(`Period ${s}`);
    }
  });

  it('serves the cached page compressed when asked, with an ETag that answers 304 when unchanged', async () => {
    const first = await fetch(`${h.base}/issues/${longSlug}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(first.status).toBe(200);
    expect(first.headers.get('content-encoding')).toBe('gzip');
    expect(first.headers.get('vary')).toMatch(/Accept-Encoding/i);
    const html = await first.text(); // fetch decompresses
    const plain = await fetch(`${h.base}/issues/${longSlug}`, { headers: { 'accept-encoding': 'identity' } });
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(await plain.text()).toBe(html);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    // (fetch adds `Cache-Control: no-cache` to conditional requests unless one is given, as browsers revalidating do.)
    const again = await fetch(`${h.base}/issues/${longSlug}`, {
      headers: { 'if-none-match': etag ?? '', 'cache-control': 'max-age=0' },
    });
    expect(again.status).toBe(304);
    // Another edition is another page with another ETag.
    const edition = await fetch(`${h.base}/issues/${longSlug}?topics=open-data`, {
      headers: { 'if-none-match': etag ?? '', 'cache-control': 'max-age=0' },
    });
    expect(edition.status).toBe(200);
    expect(edition.headers.get('etag')).not.toBe(etag);
  });

  it('shows one edition with ?topics= and refuses an unknown topic', async () => {
    const { inside, outside } = await articlesByTopic('open-data');
    expect(inside.length).toBeGreaterThan(0);
    expect(outside.length).toBeGreaterThan(0);
    const edition = await get(`/issues/${longSlug}?topics=open-data`);
    expect(edition.status).toBe(200);
    for (const title of inside) expect(edition.html).toContain(title);
    for (const title of outside) expect(edition.html).not.toContain(title);
    const unknown = await get(`/issues/${longSlug}?topics=open-data,${encodeURIComponent('<nope>')}`);
    expect(unknown.status).toBe(404);
    expect(unknown.html).toContain('&lt;nope&gt;');
    expect(unknown.html).not.toContain('<nope>');
  });

  it('shows an edited issue after the renderer cache is invalidated', async () => {
    const before = await get(`/issues/${demoSlug}`);
    expect(before.status).toBe(200);
    await h.services.db
      .updateTable('issues')
      .set({ period: 'Edited Period 2031', updated_at: new Date().toISOString() })
      .where('slug', '=', demoSlug)
      .execute();
    h.services.renderer.invalidate(demoSlug);
    const after = await get(`/issues/${demoSlug}`);
    expect(after.html).toContain('Edited Period 2031');
    expect(before.html).not.toContain('Edited Period 2031');
  });

  it('publishes an Atom feed of sent issues, newest first, escaped', async () => {
    await h.services.db.updateTable('publication').set({ name: 'Standards & <Things>' }).execute();
    const { status, html: xml, res } = await get('/feed.xml');
    expect(status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/atom\+xml/);
    expect(xml.startsWith('<?xml version="1.0" encoding="utf-8"?>')).toBe(true);
    expect(xml).toContain('<feed xmlns="http://www.w3.org/2005/Atom">');
    expect(xml).toContain('<title>Standards &amp; &lt;Things&gt;</title>');
    expect(xml).not.toContain('<Things>');
    const base = h.services.config.baseUrl;
    const ids = [...xml.matchAll(/<entry>\s*<title[^>]*>[\s\S]*?<\/title>\s*<id>([^<]+)<\/id>/g)].map((m) => m[1]);
    expect(ids).toEqual([`${base}/issues/${demoSlug}`, `${base}/issues/${longSlug}`]);
    expect(xml).toContain(`<link href="${base}/issues/${longSlug}"/>`);
    expect(xml).toContain('<published>2020-12-01T09:00:00.000Z</published>');
    expect(xml).toMatch(
      /<feed[^>]*>\s*<id>[^<]+<\/id>\s*<title>[^<]+<\/title>\s*<updated>2021-01-15T09:00:00.000Z<\/updated>/,
    );
    expect(xml).not.toContain('hidden-');
    expectBalanced(xml);
  });

  it('keeps the feed valid XML when a title holds characters XML cannot carry, or CDATA ends', async () => {
    // As a row written before import stripped them, or typed into the app.
    const db = h.services.db;
    const { period } = await db
      .selectFrom('issues')
      .select('period')
      .where('slug', '=', longSlug)
      .executeTakeFirstOrThrow();
    await db.updateTable('issues').set({ period: 'Spring\u000b 2031 ]]> <b>&' }).where('slug', '=', longSlug).execute();
    const article = await db.selectFrom('articles').select(['id', 'title']).orderBy('id').executeTakeFirstOrThrow();
    // PostgreSQL's text cannot hold NUL at all (it refuses the write), so only SQLite gets one.
    const nul = testDatabaseUrl() ? '' : '\u0000';
    await db
      .updateTable('articles')
      .set({ title: `${article.title}${nul}\u001f\ufffe ]]> ]]>` })
      .where('id', '=', article.id)
      .execute();
    try {
      const xml = (await get('/feed.xml')).html;
      expect(xml).not.toMatch(XML_INVALID);
      expect(xml).not.toMatch(/]]>[^\n]*]]>[^\n]*]]>/);
      expect(xml).toContain('Spring 2031 ]]&gt; &lt;b&gt;&amp;');
      expectBalanced(xml);
    } finally {
      await db.updateTable('issues').set({ period }).where('slug', '=', longSlug).execute();
      await db.updateTable('articles').set({ title: article.title }).where('id', '=', article.id).execute();
    }
  });
});

/** Characters outside XML 1.0's Char production. */
const XML_INVALID = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** Every element opened is closed. */
function expectBalanced(xml: string): void {
  for (const tag of ['feed', 'entry', 'title', 'id', 'summary']) {
    const open = xml.match(new RegExp(`<${tag}[ >]`, 'g'))?.length ?? 0;
    expect(xml.match(new RegExp(`</${tag}>`, 'g'))?.length ?? 0, tag).toBe(open);
  }
}

describe.skipIf(!chromiumAvailable())('the web version in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("serves a feed Chromium's XML parser reads without error", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${h.base}/issues`);
    const xml = await (await fetch(`${h.base}/feed.xml`)).text();
    const parsed = await page.evaluate((text) => {
      const doc = new DOMParser().parseFromString(text, 'application/xml');
      return {
        error: doc.getElementsByTagName('parsererror')[0]?.textContent ?? null,
        entries: doc.getElementsByTagName('entry').length,
        title: doc.querySelector('feed > title')?.textContent,
      };
    }, xml);
    expect(parsed).toEqual({ error: null, entries: 2, title: 'Standards & <Things>' });
    await context.close();
  });

  it('has no sideways scroll at 375 px and breaks no CSP rule', async () => {
    const context = await browser.newContext({ viewport: { width: 375, height: 812 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    for (const url of [`/issues/${longSlug}`, `/issues/${longSlug}?topics=open-data`, '/issues']) {
      const res = await page.goto(h.base + url);
      expect(res?.status()).toBe(200);
      const widths = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        client: document.documentElement.clientWidth,
        stylesheets: document.styleSheets.length,
      }));
      expect(widths.client, url).toBe(375);
      expect(widths.scroll, url).toBeLessThanOrEqual(widths.client);
      expect(widths.stylesheets, url).toBeGreaterThan(0);
    }
    await page.goto(`${h.base}/issues/${longSlug}`);
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'issue-web-375.png'), fullPage: false });
    expect(violations).toEqual([]);
    await context.close();
  });
});
