import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { DEMO_DIR } from '../../src/content/demo.js';
import { importFolder } from '../../src/content/import.js';
import { articleAnchor, buildEdition } from '../../src/content/editions.js';
import { quotedPrintableLength } from '../../src/mail/quoted-printable.js';
import { largestFields } from '../../src/render/personal-fields.js';
import { MessageBuilder } from '../../scheduler/message-builder.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { SAMPLE_DIR, sampleAvailable } from '../helpers/sample.js';
import { writeLongIssue, writeLongIssueImages } from '../fixtures/long-issue.js';

const BUDGET = 92_160;
let env: TempEnv;
let services: Services;
beforeAll(async () => {
  env = makeTempEnv({ BASE_URL: 'https://newsletter.example.org' });
  services = await env.open();
});
afterAll(async () => {
  await services.close();
  env.cleanup();
});

/** Every topic combination of an issue: each non-empty subset of the topics its articles carry, and none. */
async function allEditions(slug: string): Promise<(string[] | null)[]> {
  const doc = await services.renderer.document(slug);
  const topics = [...new Set(doc.articles.flatMap((a) => a.topics.map((t) => t.slug)))];
  const subsets: (string[] | null)[] = [null];
  for (let mask = 1; mask < 1 << topics.length; mask++) subsets.push(topics.filter((_, i) => mask & (1 << i)));
  return subsets;
}

const ISSUES = [
  { name: "the project's long issue", dir: () => writeLongIssue(), present: true },
  { name: 'the demo issue', dir: () => DEMO_DIR, present: true },
  { name: 'the real sample issue', dir: () => SAMPLE_DIR, present: sampleAvailable() },
];

for (const issue of ISSUES) {
  describe.runIf(issue.present)(`every edition of ${issue.name} within EMAIL_HTML_BUDGET`, () => {
    let slug: string;
    beforeAll(async () => {
      writeLongIssueImages(services.config.mediaDir);
      slug = (await importFolder(services.db, issue.dir())).slug;
    });

    it('is under the budget as sent, holds every article in full or as a teaser, and shows the unsubscribe link', async () => {
      const webAnchors = new Set(
        [...(await services.renderer.renderWeb(slug, null)).matchAll(/id="(article-[^"]+)"/g)].map((m) => m[1]),
      );
      let fitted = 0;
      const doc = await services.renderer.document(slug);
      // Lines repeat across editions; quotedPrintableLength is proven equal to the encoding in its own test.
      const lineLengths = new Map<string, number>();
      for (const topics of await allEditions(slug)) {
        const edition = await services.renderer.edition(slug, topics);
        if (edition.empty) continue;
        const label = topics?.join(',') ?? 'whole issue';
        const html = edition.fill(largestFields(services.config.baseUrl, edition.webUrl)).html;
        expect(quotedPrintableLength(html, lineLengths), label).toBeLessThanOrEqual(BUDGET);
        expect(edition.fit.bytes, label).toBeLessThanOrEqual(BUDGET);
        expect(edition.fit.overBudget).toBe(false);
        if (edition.fit.teasers.length > 0) fitted++;

        const teasers = new Set(edition.fit.teasers.map((t) => t.number));
        const articles = html.split('<h3>').slice(1);
        const held = buildEdition(doc, topics).articles;
        expect(
          articles.map((a) => a.slice(0, a.indexOf('.'))),
          label,
        ).toEqual(held.map((a) => String(a.number)));
        held.forEach((a, i) => {
          const link = `href="${edition.webUrl.replace(/=/g, '&#x3D;')}#${articleAnchor(a.article)}"`;
          if (teasers.has(a.number)) {
            expect(articles[i], `${label}: teaser ${a.number}`).toContain(
              `<a class="rm" ${link}>Read the full article`,
            );
          }
          expect(webAnchors.has(articleAnchor(a.article))).toBe(true);
        });
        const unsubscribe = html.indexOf('/unsubscribe?token');
        expect(unsubscribe, label).toBeGreaterThan(0);
        expect(Buffer.byteLength(html.slice(0, unsubscribe)), label).toBeLessThan(BUDGET);
      }
      if (issue.name !== 'the demo issue') expect(fitted).toBeGreaterThan(0);
    }, 600_000);

    it('is under the budget in the send pipeline’s own encoding', async () => {
      const builder = new MessageBuilder({ config: services.config, publicationName: 'Newsletter' });
      const doc = await services.renderer.document(slug);
      for (const topics of [null, [doc.sections[0]?.slug ?? ''], doc.sections.slice(0, 3).map((s) => s.slug)]) {
        const edition = await services.renderer.edition(slug, topics);
        const message = builder.build(edition, {
          id: 1,
          uid: 'U'.repeat(64),
          email: 'reader@example.org',
          name: '😀'.repeat(200),
        });
        const html = message.html as { quotedPrintable: Buffer[] };
        const bytes = html.quotedPrintable.reduce((n, b) => n + b.length, 0);
        expect(bytes).toBeLessThanOrEqual(BUDGET);
        expect(bytes).toBeLessThanOrEqual(edition.fit.bytes);
      }
    });
  });
}

describe.runIf(sampleAvailable())('the editor’s choice per issue', () => {
  let slug: string;
  beforeAll(async () => {
    slug = (await importFolder(services.db, SAMPLE_DIR)).slug;
  });
  afterAll(async () => {
    await services.db.updateTable('issues').set({ email_fit: 'auto' }).where('slug', '=', slug).execute();
  });

  async function setFit(fit: 'auto' | 'full' | 'teasers') {
    await services.db
      .updateTable('issues')
      .set({ email_fit: fit, updated_at: new Date().toISOString() })
      .where('slug', '=', slug)
      .execute();
    services.renderer.invalidate(slug);
  }

  it('auto: the annex becomes a teaser first, then the longest articles', async () => {
    await setFit('auto');
    const { fit } = await services.renderer.edition(slug, null);
    expect(fit.mode).toBe('auto');
    expect(fit.teasers[0]).toBeDefined();
    expect(fit.teasers.some((t) => t.title.startsWith('SESEC IV Report'))).toBe(true);
    expect(fit.teasers.length).toBeLessThan(20);
  });

  it('full: nothing becomes a teaser, and the edition says it is over budget', async () => {
    await setFit('full');
    const { fit } = await services.renderer.edition(slug, null);
    expect(fit).toMatchObject({ mode: 'full', teasers: [], overBudget: true });
    expect(fit.bytes).toBeGreaterThan(BUDGET);
  });

  it('teasers: every article is a teaser, even in an edition that would fit', async () => {
    await setFit('teasers');
    const edition = await services.renderer.edition(slug, ['blockchain']);
    expect(edition.fit.teasers.map((t) => t.number)).toEqual([1, 2]);
    expect(
      edition.fill(services.renderer.previewFields(slug, ['blockchain'])).html.match(/Read the full article/g),
    ).toHaveLength(2);
  });
});
