import { convert } from 'html-to-text';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_HTML_NESTING, markdownNestingProblem, markdownToSafeHtml } from '../../src/render/markdown.js';
import { startDemoArchive } from '../helpers/demo-archive.js';
import type { WebHarness } from '../subscribers/web-harness.js';

const nested = (tag: string, depth: number, inner = 'deep') =>
  `${`<${tag}>`.repeat(depth)}${inner}${`</${tag}>`.repeat(depth)}`;

describe('markdownNestingProblem', () => {
  it('accepts ordinary articles and nesting up to the limit', () => {
    expect(markdownNestingProblem('### Background\n\n- a\n  - b\n\n> quote **bold _it_**')).toBeNull();
    expect(markdownNestingProblem(nested('b', MAX_HTML_NESTING - 1))).toBeNull(); // inside a <p>
    expect(markdownNestingProblem(`${'<br><img src="https://example.org/x.png" alt="x"><hr>'.repeat(500)}`)).toBeNull();
  });

  it('refuses 2,344 nested <b> and 2,101 nested <blockquote>, saying how deep and what to do', () => {
    expect(markdownNestingProblem(nested('b', 2344))).toBe(
      'its HTML nests 2345 elements deep, more than the 100 allowed; close tags such as <b> or <blockquote> before opening more',
    );
    expect(markdownNestingProblem(nested('blockquote', 2101))).toMatch(/nests 2101 elements deep/);
    expect(markdownNestingProblem(nested('i', 150), { inline: true })).toMatch(/nests 150 elements deep/);
    // Tags the sanitiser drops still count: they are what a parser recurses into.
    expect(markdownNestingProblem(nested('span', 120))).toMatch(/nests 121 elements deep/);
  });
});

describe('markdownToSafeHtml never hands deeper HTML to the renderers', () => {
  it('drops tags beyond the limit and keeps their text, so html-to-text converts it', () => {
    const html = markdownToSafeHtml(nested('b', 5000, 'the words'));
    expect(html).toContain('the words');
    expect(html.split('<b>').length - 1).toBeLessThan(MAX_HTML_NESTING);
    expect(convert(html)).toBe('the words');
  });
});

describe('an article stored before the limit existed takes nothing else down', () => {
  let h: WebHarness;
  beforeAll(async () => {
    h = await startDemoArchive();
    const db = h.services.db;
    // Stored directly, as an older version of the service allowed: 7 KB of nested inline HTML.
    await db
      .updateTable('articles')
      .set({ body_markdown: `Deep ${nested('b', 2400)}` })
      .where('slug', '=', '02-import-an-issue')
      .execute();
  });
  afterAll(() => h.close());

  it('the issue page, an edition, the email, the feed and the archive all answer', async () => {
    for (const path of ['/issues/welcome', '/issues/welcome?topics=getting-started', '/feed.xml', '/issues']) {
      const res = await fetch(h.base + path);
      expect(res.status, path).toBe(200);
    }
    expect(await (await fetch(`${h.base}/issues/welcome`)).text()).toContain('deep');
    const edition = await h.services.renderer.edition('welcome', null);
    const { text } = edition.fill(h.services.renderer.previewFields('welcome', null));
    expect(text).toContain('Deep deep');
  });
});
