import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { importFolder } from '../../src/content/import.js';
import { listTopics, loadIssueDocument } from '../../src/content/content-repository.js';
import { assertKnownTopics, buildEdition, editionKey, UnknownTopicError } from '../../src/content/editions.js';
import { topicSlug } from '../../src/content/slug.js';
import type { IssueDocument } from '../../src/content/types.js';
import { makeTempEnv, SAMPLE_DIR, type TempEnv } from '../helpers/temp-env.js';
import { readSample, sampleAvailable } from '../helpers/sample.js';

describe('topic slugs (contract.md §2)', () => {
  it('lower-cases and joins runs of other characters with one dash', () => {
    expect(topicSlug('5G and Industrial Digitalisation')).toBe('5g-and-industrial-digitalisation');
    expect(topicSlug('  Energy Efficiency & Environment! ')).toBe('energy-efficiency-environment');
  });
  it('edition keys ignore order and duplicates; no topic means the whole issue', () => {
    expect(editionKey(['b', 'a', 'b'])).toBe('a,b');
    expect(editionKey([])).toBe('*');
    expect(editionKey(null)).toBe('*');
  });
});

describe.runIf(sampleAvailable)('editions of the sample issue', () => {
  let env: TempEnv;
  let services: Services;
  let doc: IssueDocument;
  const sample = sampleAvailable ? readSample() : { sections: [], articles: [], glossaryRows: 0 };

  beforeAll(async () => {
    env = makeTempEnv();
    services = await env.open();
    await importFolder(services.db, SAMPLE_DIR);
    doc = await loadIssueDocument(services.db, 'oct-nov-2020');
  });
  afterAll(async () => {
    await services.close();
    env.cleanup();
  });

  it('the whole issue holds every article, numbered 1..20 in issue order', () => {
    const edition = buildEdition(doc, null);
    expect(edition.articles.map((a) => a.article.title)).toEqual(sample.articles.map((a) => a.title));
    expect(edition.articles.map((a) => a.number)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(edition.takeaways.map((t) => t.article.title)).toEqual(
      sample.articles.filter((a) => a.takeaway).map((a) => a.title),
    );
  });

  it('each one-topic edition holds exactly that section, renumbered from 1', () => {
    for (const section of sample.sections) {
      const edition = buildEdition(doc, [topicSlug(section)]);
      const expected = sample.articles.filter((a) => a.section === section).map((a) => a.title);
      expect(edition.articles.map((a) => a.article.title)).toEqual(expected);
      expect(edition.articles.map((a) => a.number)).toEqual(expected.map((_, i) => i + 1));
      expect(edition.sections.map((s) => s.topic.name)).toEqual([section]);
      expect(edition.takeaways.map((t) => t.article.title)).toEqual(
        sample.articles.filter((a) => a.section === section && a.takeaway).map((a) => a.title),
      );
    }
  });

  it('a two-topic edition merges both sections in issue order', () => {
    const edition = buildEdition(doc, ['smart-city', 'information-security']);
    const wanted = new Set(['Smart City', 'Information Security']);
    expect(edition.articles.map((a) => a.article.title)).toEqual(
      sample.articles.filter((a) => wanted.has(a.section)).map((a) => a.title),
    );
    expect(edition.sections.map((s) => s.topic.name)).toEqual(['Information Security', 'Smart City']);
    expect(edition.articles.map((a) => a.number)).toEqual([1, 2, 3]);
  });

  it('an edition with no article is reported empty', () => {
    const emptyDoc: IssueDocument = { ...doc, articles: doc.articles.filter((a) => a.section.slug !== 'blockchain') };
    const edition = buildEdition(emptyDoc, ['blockchain']);
    expect(edition.empty).toBe(true);
    expect(edition.sections).toEqual([]);
  });

  it('an unknown topic is an error that lists the topics that exist', async () => {
    const topics = await listTopics(services.db);
    expect(() => assertKnownTopics(['gardening'], topics)).toThrow(UnknownTopicError);
    expect(() => assertKnownTopics(['gardening'], topics)).toThrow(
      /gardening.*Topics: horizontal-issues, information-security/,
    );
  });
});
