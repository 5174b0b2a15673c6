import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Handlebars from 'handlebars';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { DEMO_DIR } from '../../src/content/demo.js';
import { importFolder } from '../../src/content/import.js';
import { IssueRenderer } from '../../src/render/issue-renderer.js';
import { topicSlug } from '../../src/content/slug.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { articlesFor, importLongIssue, LONG_ISSUE, UNBROKEN_CHINESE_PARAGRAPH } from '../fixtures/long-issue.js';
import { ACTIVE_PATTERNS, hostileFolder } from '../helpers/hostile.js';

const esc = (s: string) => Handlebars.escapeExpression(s);
const decode = (s: string) =>
  s
    .replace(/&amp;/g, '&')
    .replace(/&#x3D;/g, '=')
    .replace(/&#x27;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>');

function expectInOrder(haystack: string, needles: string[]) {
  let from = 0;
  for (const needle of needles) {
    const at = haystack.indexOf(needle, from);
    expect(at, `"${needle}" should appear after position ${from}`).toBeGreaterThanOrEqual(0);
    from = at + needle.length;
  }
}

/** The Index's entries: links to the articles' anchors in the edition's web version. */
const indexAnchors = (html: string) => [...html.matchAll(/<li><a href="[^"]*#(article-[^"]+)"/g)].map((m) => m[1]);

let env: TempEnv;
let services: Services;
beforeAll(async () => {
  env = makeTempEnv();
  services = await env.open();
});
afterAll(async () => {
  await services.close();
  env.cleanup();
});

describe("rendering the project's long issue", () => {
  const { slug, articles } = LONG_ISSUE;
  const anchorOf = (a: { file: string }) => `article-${a.file.replace(/\.md$/, '')}`;
  beforeAll(async () => {
    await importLongIssue(services);
  });

  it('the full email and text hold every title in order, and the index links to each', async () => {
    const edition = await services.renderer.edition(slug, null);
    const { html, text } = edition.fill(services.renderer.previewFields(slug, null));
    expect(edition.articleCount).toBe(articles.length);
    const titles = articles.map((a) => a.title);
    expectInOrder(
      html,
      titles.map((t, i) => `${i + 1}. ${esc(t)}`),
    );
    // The text part wraps long titles: compare with its line breaks read as spaces.
    expectInOrder(
      text.replace(/\s+/g, ' '),
      titles.map((t, i) => `${i + 1}. ${t}`),
    );
    expect(indexAnchors(html)).toEqual(articles.map(anchorOf));
    const web = await services.renderer.renderWeb(slug, null);
    for (const anchor of indexAnchors(html)) expect(web).toContain(`id="${anchor}"`);
    expect(html).toContain('#Reading Room');
    expect(html).toMatch(/<h4[^>]*>Background<\/h4>/);
    expect(edition.subject).toBe(`${LONG_ISSUE.title} · ${LONG_ISSUE.edition} · ${LONG_ISSUE.period}`);
  });

  it('keeps the unbroken Chinese paragraph whole, and shows the tables and the images (absolute in email)', async () => {
    const { html, text } = (await services.renderer.edition(slug, null)).fill(
      services.renderer.previewFields(slug, null),
    );
    const web = await services.renderer.renderWeb(slug, null);
    for (const output of [html, web]) expect(output).toContain(UNBROKEN_CHINESE_PARAGRAPH);
    // The text part wraps it between characters (README: the text part): whole once its breaks go.
    expect(text.replace(/\n/g, '')).toContain(UNBROKEN_CHINESE_PARAGRAPH);
    expect(html).toMatch(/<table[^>]*>[\s\S]*Questions answered[\s\S]*<\/table>/);
    expect(web).toMatch(/<table[^>]*>[\s\S]*Questions answered[\s\S]*<\/table>/);
    expect(html).toContain('src="http://localhost:3999/media/long-issue-harbour-lab.png"');
    expect(web).toContain('src="/media/long-issue-harbour-lab.png"');
    expect(text).toContain('交流办公室发布年度工作计划');
  });

  it('every one-topic edition holds exactly the articles carrying it, and its index lists exactly those', async () => {
    for (const section of LONG_ISSUE.sections) {
      const topic = topicSlug(section);
      const edition = await services.renderer.edition(slug, [topic]);
      const { html, text } = edition.fill(services.renderer.previewFields(slug, [topic]));
      const expected = articlesFor([topic]);
      const others = articles.filter((a) => !expected.includes(a));
      // An edition of one or two articles has no Index.
      expect(indexAnchors(html)).toEqual(expected.length >= 3 ? expected.map(anchorOf) : []);
      expect(html.includes('>Index</h2>')).toBe(expected.length >= 3);
      expectInOrder(
        html,
        expected.map((a, i) => `${i + 1}. ${esc(a.title)}`),
      );
      for (const other of others) {
        expect(html).not.toContain(esc(other.title));
        expect(text).not.toContain(other.title);
      }
      const takeaways = expected.filter((a) => a.takeaway).length;
      expect(html.includes('>Takeaways</h2>')).toBe(takeaways > 0);
    }
  });

  it('a two-topic edition merges both sections in issue order', async () => {
    const topics = ['shared-ledgers', 'office-news'];
    const { html } = (await services.renderer.edition(slug, topics)).fill(
      services.renderer.previewFields(slug, topics),
    );
    const expected = articlesFor(topics);
    expect(indexAnchors(html)).toEqual(expected.map(anchorOf));
    expectInOrder(
      html,
      expected.map((a, i) => `${i + 1}. ${esc(a.title)}`),
    );
  });

  it('the text part carries the same titles and links as the HTML part', async () => {
    for (const topics of [null, ['connected-devices'], ['open-data', 'annex']]) {
      const { html, text } = (await services.renderer.edition(slug, topics)).fill(
        services.renderer.previewFields(slug, topics),
      );
      // Every link but the Index's and the Takeaways' (the text lists those articles by number).
      const navigation = new Set([...html.matchAll(/<(?:li|p class="tk")><a href="([^"]+)"/g)].map((m) => m[1]));
      const links = new Set(
        [...html.matchAll(/href="(https?:[^"]+)"/g)]
          .filter((m) => !navigation.has(m[1]))
          .map((m) => decode(m[1] as string).replace(/#glossary$/, '')),
      );
      expect(links.size).toBeGreaterThan(3);
      for (const link of links) expect(text, link).toContain(link);
      const htmlTitles = [...html.matchAll(/<h3>([^<]+)<\/h3>/g)].map((m) => decode(m[1] as string));
      expect(htmlTitles.length).toBeGreaterThan(0);
      expectInOrder(text.replace(/\s+/g, ' '), htmlTitles);
    }
  });

  it('compiles MJML once for all editions and subscribers, and the fast path equals a direct compile', async () => {
    services.renderer.invalidate();
    const before = services.renderer.compileCount;
    const topicSets = [null, ['shared-ledgers'], ['city-services', 'open-data']];
    for (let i = 0; i < 300; i++) {
      const topics = topicSets[i % 3] ?? null;
      const edition = await services.renderer.edition(slug, topics);
      edition.fill({
        name: `Reader ${i}`,
        email: `r${i}@example.org`,
        webUrl: edition.webUrl,
        manageUrl: 'https://x/m',
        unsubscribeUrl: 'https://x/u',
      });
    }
    expect(services.renderer.compileCount - before).toBe(1);
    expect(await services.renderer.edition(slug, ['shared-ledgers'])).toBe(
      await services.renderer.edition(slug, ['shared-ledgers']),
    );

    // The spliced edition is byte-for-byte what compiling that edition's own MJML produces.
    const fields = {
      name: "Zoë <O'Brien> & co",
      email: 'z@example.org',
      webUrl: 'https://news.example/issues/x?topics=a,b',
      manageUrl: 'https://news.example/preferences?token=a.b',
      unsubscribeUrl: 'https://news.example/unsubscribe?token=c.d',
    };
    for (const topics of topicSets) {
      const fast = (await services.renderer.edition(slug, topics)).fill(fields).html;
      const direct = await services.renderer.compileMjml(await services.renderer.renderMjml(slug, topics, fields));
      expect(fast).toBe(direct);
    }
  });

  it('personal fields are escaped in HTML and verbatim in text', async () => {
    const edition = await services.renderer.edition(slug, ['city-services']);
    const { html, text } = edition.fill({
      name: '<b>"Mallory"</b> & 王',
      email: 'm@example.org',
      webUrl: edition.webUrl,
      manageUrl: 'https://news.example/preferences?token=abc"><script>x</script>',
      unsubscribeUrl: 'https://news.example/unsubscribe?token=def',
    });
    expect(html).toContain('Hello &lt;b&gt;&quot;Mallory&quot;&lt;/b&gt; &amp; 王,');
    expect(html).not.toContain('<b>"Mallory"');
    expect(html).not.toContain('"><script>x</script>');
    expect(text).toContain('Hello <b>"Mallory"</b> & 王,');
    expect(text).toContain('https://news.example/unsubscribe?token=def');
  });

  it('the web version holds the glossary with Chinese names and anchors for every article', async () => {
    const page = await services.renderer.renderWeb(slug, null);
    expect(page).toContain('id="glossary"');
    for (const g of LONG_ISSUE.glossary) expect(page).toContain(`<td lang="zh">${g.chinese}</td>`);
    for (const a of articles) expect(page).toContain(`id="${anchorOf(a)}"`);
    expect(page).toContain('href="/subscribe"');
    const edition = await services.renderer.renderWeb(slug, ['shared-ledgers']);
    expect(edition).toContain('This edition holds the 2 articles on');
    expect(edition).not.toContain(esc(articles[0]?.title ?? ''));
  });
});

describe('hostile article content', () => {
  let dir: string;
  beforeAll(async () => {
    dir = hostileFolder();
    await importFolder(services.db, dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('nothing active reaches the email, the text or the web page; template syntax stays literal', async () => {
    const edition = await services.renderer.edition('welcome', null);
    const { html, text } = edition.fill(services.renderer.previewFields('welcome', null));
    const web = await services.renderer.renderWeb('welcome', null);
    for (const [what, output] of [
      ['email', html],
      ['web', web],
    ] as const) {
      for (const [name, pattern] of ACTIVE_PATTERNS) expect(output, `${what}: ${name}`).not.toMatch(pattern);
      expect(output).toContain('{{fields.unsubscribeUrl}}');
      expect(output).toContain('{{&gt; email-index}}');
      expect(output).toContain('Hostile &lt;script&gt;');
      expect(output).toContain('标准化');
    }
    // The slot token written by an author is inert text, not a place the index gets spliced in.
    expect(html.match(/>Index<\/h2>/g)).toHaveLength(1);
    expect(text).toContain("Hostile <script>alert('title')</script> 标准化 {{publication.name}}");
    expect(edition.subject).toBe('Demo Newsletter · Issue 1 · Autumn 2026');
  });
});

describe("the renderer's caches", () => {
  /** Imports the demo issue `count` times under slugs cache-0, cache-1, … */
  async function importCopies(count: number): Promise<string[]> {
    const slugs: string[] = [];
    for (let i = 0; i < count; i++) {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'renderer-cache-'));
      cpSync(DEMO_DIR, dir, { recursive: true });
      const issueFile = path.join(dir, 'issue.md');
      writeFileSync(issueFile, readFileSync(issueFile, 'utf8').replace('slug: "welcome"', `slug: "cache-${i}"`));
      slugs.push((await importFolder(services.db, dir)).slug);
      rmSync(dir, { recursive: true, force: true });
    }
    return slugs;
  }

  let slugs: string[];
  beforeAll(async () => {
    slugs = await importCopies(20);
  });

  it('keeps a bounded number of issue versions however many issues are read', async () => {
    services.renderer.invalidate();
    const first = slugs[0] as string;
    const firstTitles = (await services.renderer.document(first)).articles.map((a) => a.title);
    for (const slug of slugs) expect((await services.renderer.document(slug)).slug).toBe(slug);
    const { versions } = services.renderer.cacheSizes();
    expect(versions).toBeGreaterThan(0);
    expect(versions).toBeLessThan(slugs.length);
    // An evicted issue comes back as it was.
    expect((await services.renderer.document(first)).articles.map((a) => a.title)).toEqual(firstTitles);
  });

  it('caps the web pages in bytes across all issues, least recently used out first', async () => {
    const deps = { db: services.db, config: services.config, views: services.views, mjml: services.mjml };
    const onePage = (await services.renderer.renderWeb(slugs[0] as string, null)).length * 2;
    const cap = Math.round(onePage * 3.5);
    const renderer = new IssueRenderer(deps, { pageCacheBytes: cap });
    const combinations = [null, ['getting-started'], ['editions'], ['privacy'], ['sending', 'privacy']];
    const first = await renderer.renderWeb(slugs[0] as string, null);
    for (const slug of slugs.slice(0, 6)) {
      for (const topics of combinations) await renderer.renderWeb(slug, topics);
      const { pages, pageBytes } = renderer.cacheSizes();
      expect(pageBytes).toBeLessThanOrEqual(cap);
      expect(pages).toBeLessThanOrEqual(4);
    }
    // The first page was evicted long ago; rendered again it is the same page.
    expect(await renderer.renderWeb(slugs[0] as string, null)).toBe(first);
  });
});
