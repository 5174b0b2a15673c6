// The email size budget checked over every edition of an issue: shared by email-budget.test.ts
// (the project's long issue and the demo) and email-budget.sample.test.ts (the real sample).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { importFolder } from '../../src/content/import.js';
import { articleAnchor, buildEdition } from '../../src/content/editions.js';
import { quotedPrintableLength } from '../../src/mail/quoted-printable.js';
import { largestFields } from '../../src/render/personal-fields.js';
import { MessageBuilder } from '../../scheduler/message-builder.js';
import { EditionTracker } from '../../src/tracking/edition-tracker.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { writeLongIssueImages } from '../fixtures/long-issue.js';

export const BUDGET = 92_160;

export type EmailFit = 'auto' | 'full' | 'teasers';

/** Sets an issue's fit as the issue details form does, and drops the renderer's cached editions. */
export async function setEmailFit(services: Services, slug: string, fit: EmailFit): Promise<void> {
  await services.db
    .updateTable('issues')
    .set({ email_fit: fit, updated_at: new Date().toISOString() })
    .where('slug', '=', slug)
    .execute();
  services.renderer.invalidate(slug);
}

/** Services on a fresh data folder for the describe block that calls it (BASE_URL set, as in production). */
export function budgetServices(overrides: Record<string, string> = {}): () => Services {
  let env: TempEnv;
  let services: Services;
  beforeAll(async () => {
    env = makeTempEnv({ BASE_URL: 'https://newsletter.example.org', ...overrides });
    services = await env.open();
  });
  afterAll(async () => {
    await services.close();
    env.cleanup();
  });
  return () => services;
}

/** Every topic combination of an issue: each non-empty subset of the topics its articles carry, and none. */
async function allEditions(services: Services, slug: string): Promise<(string[] | null)[]> {
  const doc = await services.renderer.document(slug);
  const topics = [...new Set(doc.articles.flatMap((a) => a.topics.map((t) => t.slug)))];
  const subsets: (string[] | null)[] = [null];
  for (let mask = 1; mask < 1 << topics.length; mask++) subsets.push(topics.filter((_, i) => mask & (1 << i)));
  return subsets;
}

/** Every edition of the issue in `dir` is within the budget as sent; `fitted`: some edition needed teasers. */
export function describeEveryEditionWithinBudget(
  name: string,
  dir: () => string,
  getServices: () => Services,
  options: { fitted: boolean },
): void {
  describe(`every edition of ${name} within EMAIL_HTML_BUDGET`, () => {
    let services: Services;
    let slug: string;
    beforeAll(async () => {
      services = getServices();
      writeLongIssueImages(services.config.mediaDir);
      slug = (await importFolder(services.db, dir())).slug;
    });

    it('is under the budget as sent, holds every article in full or as a teaser, and shows the unsubscribe link', async () => {
      const webAnchors = new Set(
        [...(await services.renderer.renderWeb(slug, null)).matchAll(/id="(article-[^"]+)"/g)].map((m) => m[1]),
      );
      let fitted = 0;
      const doc = await services.renderer.document(slug);
      // Lines repeat across editions; quotedPrintableLength is proven equal to the encoding in its own test.
      const lineLengths = new Map<string, number>();
      for (const topics of await allEditions(services, slug)) {
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
      if (options.fitted) expect(fitted).toBeGreaterThan(0);
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

    it('is under the budget with click tracking at its largest (individual, opens counted)', async () => {
      const issue = await services.db
        .selectFrom('issues')
        .select('id')
        .where('slug', '=', slug)
        .executeTakeFirstOrThrow();
      const tracker = new EditionTracker(
        {
          db: services.db,
          baseUrl: services.config.baseUrl,
          secretKey: services.config.secretKey,
          settings: { level: 'individual', trackOpens: true },
        },
        issue.id,
      );
      const builder = new MessageBuilder({ config: services.config, publicationName: 'Newsletter', tracker });
      const doc = await services.renderer.document(slug);
      for (const topics of [null, [doc.sections[0]?.slug ?? ''], doc.sections.slice(0, 3).map((s) => s.slug)]) {
        const edition = await services.renderer.edition(slug, topics);
        const tracked = await tracker.track(edition);
        const message = builder.build(tracked, {
          // The largest ids a token is measured for (below 2^28).
          id: 2 ** 28 - 1,
          uid: 'U'.repeat(64),
          email: 'reader@example.org',
          name: '😀'.repeat(200),
          trackingOptIn: true,
        });
        const html = message.html as { quotedPrintable: Buffer[] };
        const decoded = Buffer.concat(html.quotedPrintable).toString('latin1');
        expect(decoded).toContain('/r/');
        expect(decoded).toContain('/o/');
        const bytes = html.quotedPrintable.reduce((n, b) => n + b.length, 0);
        expect(bytes).toBeLessThanOrEqual(BUDGET);
        expect(bytes).toBeLessThanOrEqual(edition.fit.bytes);
      }
    });
  });
}
