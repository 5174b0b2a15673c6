// Extra checks against the publisher's real issue (../shared/sample), run only where it exists.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { listGlossary, listTopics, loadIssueDocument } from '../../src/content/content-repository.js';
import { buildEdition } from '../../src/content/editions.js';
import { importFolder } from '../../src/content/import.js';
import { topicSlug } from '../../src/content/slug.js';
import { readSample, SAMPLE_DIR } from '../helpers/sample.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

describe('the real sample issue', () => {
  const sample = readSample();
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

  it('imports every article in issue order with its sections, takeaways and glossary, twice without duplicates', async () => {
    expect((await importFolder(services.db, SAMPLE_DIR)).slug).toBe(sample.slug);
    await importFolder(services.db, SAMPLE_DIR);
    const doc = await loadIssueDocument(services.db, sample.slug);
    expect(doc.articles.map((a) => a.title)).toEqual(sample.articles.map((a) => a.title));
    expect(doc.sections.map((s) => s.name)).toEqual(sample.sections);
    expect(await listTopics(services.db)).toHaveLength(sample.sections.length);
    expect(doc.articles.filter((a) => a.takeaway).map((a) => a.title)).toEqual(
      sample.articles.filter((a) => a.takeaway).map((a) => a.title),
    );
    expect(await listGlossary(services.db)).toHaveLength(sample.glossaryRows);
  });

  it('gives each section its own edition, and renders the whole issue in every format', async () => {
    const doc = await loadIssueDocument(services.db, sample.slug);
    for (const section of sample.sections) {
      const edition = buildEdition(doc, [topicSlug(section)]);
      expect(edition.articles.map((a) => a.article.title)).toEqual(
        sample.articles.filter((a) => a.section === section).map((a) => a.title),
      );
    }
    const whole = await services.renderer.edition(sample.slug, null);
    const { html, text } = whole.fill(services.renderer.previewFields(sample.slug, null));
    const web = await services.renderer.renderWeb(sample.slug, null);
    for (const { title } of sample.articles) {
      const escaped = title.replaceAll('&', '&amp;').replaceAll("'", '&#x27;').replaceAll('"', '&quot;');
      expect(html).toContain(escaped);
      expect(web).toContain(escaped);
      expect(text.replace(/\s+/g, ' ')).toContain(title.replace(/\s+/g, ' '));
    }
  });
});
