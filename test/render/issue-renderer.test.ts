import { rmSync } from 'node:fs';
import Handlebars from 'handlebars';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { importFolder } from '../../src/content/import.js';
import { topicSlug } from '../../src/content/slug.js';
import { makeTempEnv, SAMPLE_DIR, type TempEnv } from '../helpers/temp-env.js';
import { readSample, sampleAvailable } from '../helpers/sample.js';
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

const indexAnchors = (html: string) => [...html.matchAll(/<li[^>]*><a href="#(article-[^"]+)"/g)].map((m) => m[1]);

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

describe.runIf(sampleAvailable)('rendering the real sample issue', () => {
  const sample = sampleAvailable ? readSample() : { sections: [], articles: [], glossaryRows: 0 };
  const slug = 'oct-nov-2020';
  beforeAll(async () => {
    await importFolder(services.db, SAMPLE_DIR);
  });

  it('the full email and text hold all 20 titles in order, and the index links to each', async () => {
    const edition = await services.renderer.edition(slug, null);
    const { html, text } = edition.fill(services.renderer.previewFields(slug, null));
    expect(edition.articleCount).toBe(20);
    const titles = sample.articles.map((a) => a.title);
    expectInOrder(
      html,
      titles.map((t, i) => `${i + 1}. ${esc(t)}`),
    );
    expectInOrder(
      text,
      titles.map((t, i) => `${i + 1}. ${t}`),
    );
    expect(indexAnchors(html)).toHaveLength(20);
    for (const anchor of indexAnchors(html)) expect(html).toContain(`id="${anchor}"`);
    expect(html).toContain('#Quantum Technology');
    expect(html).toMatch(/<h4[^>]*>Background<\/h4>/);
    expect(html).toContain('SESEC IV Report: Latest Progress of QIT Standardisation in China');
    expect(edition.subject).toBe('China Standardisation Newsletter · SESEC IV · October – November 2020');
  });

  it('every one-topic edition holds exactly its section, and its index lists exactly those', async () => {
    for (const section of sample.sections) {
      const topic = topicSlug(section);
      const edition = await services.renderer.edition(slug, [topic]);
      const { html, text } = edition.fill(services.renderer.previewFields(slug, [topic]));
      const expected = sample.articles.filter((a) => a.section === section);
      const others = sample.articles.filter((a) => a.section !== section);
      expect(indexAnchors(html)).toEqual(expected.map((a) => `article-${a.file.replace(/\.md$/, '')}`));
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
    const topics = ['blockchain', 'horizontal-issues'];
    const { html } = (await services.renderer.edition(slug, topics)).fill(
      services.renderer.previewFields(slug, topics),
    );
    const expected = sample.articles.filter((a) => a.section === 'Blockchain' || a.section === 'Horizontal Issues');
    expect(indexAnchors(html)).toEqual(expected.map((a) => `article-${a.file.replace(/\.md$/, '')}`));
    expectInOrder(
      html,
      expected.map((a, i) => `${i + 1}. ${esc(a.title)}`),
    );
  });

  it('the text part carries the same titles and links as the HTML part', async () => {
    for (const topics of [null, ['internet-of-things'], ['big-data', 'annex']]) {
      const { html, text } = (await services.renderer.edition(slug, topics)).fill(
        services.renderer.previewFields(slug, topics),
      );
      const links = new Set(
        [...html.matchAll(/href="(https?:[^"]+)"/g)].map((m) => decode(m[1] as string).replace(/#glossary$/, '')),
      );
      expect(links.size).toBeGreaterThan(3);
      for (const link of links) expect(text, link).toContain(link);
      const htmlTitles = [...html.matchAll(/<h3 id="article-[^"]+"[^>]*>([^<]+)<\/h3>/g)].map((m) =>
        decode(m[1] as string),
      );
      expect(htmlTitles.length).toBeGreaterThan(0);
      expectInOrder(text, htmlTitles);
    }
  });

  it('compiles MJML once for all editions and subscribers, and the fast path equals a direct compile', async () => {
    services.renderer.invalidate();
    const before = services.renderer.compileCount;
    const topicSets = [null, ['blockchain'], ['smart-city', 'big-data']];
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
    expect(await services.renderer.edition(slug, ['blockchain'])).toBe(
      await services.renderer.edition(slug, ['blockchain']),
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
    const edition = await services.renderer.edition(slug, ['smart-city']);
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
    expect(page).toContain('<td lang="zh">国家市场监督管理总局</td>');
    for (const a of sample.articles) expect(page).toContain(`id="article-${a.file.replace(/\.md$/, '')}"`);
    expect(page).toContain('href="/subscribe"');
    const edition = await services.renderer.renderWeb(slug, ['blockchain']);
    expect(edition).toContain('This edition holds the 2 articles on');
    expect(edition).not.toContain(esc(sample.articles[0]?.title ?? ''));
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
