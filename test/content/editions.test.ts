import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { listTopics, loadIssueDocument } from '../../src/content/content-repository.js';
import { assertKnownTopics, buildEdition, editionKey, UnknownTopicError } from '../../src/content/editions.js';
import { topicSlug } from '../../src/content/slug.js';
import type { IssueDocument } from '../../src/content/types.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { articlesFor, importLongIssue, LONG_ISSUE } from '../fixtures/long-issue.js';

describe('topic slugs', () => {
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

describe("editions of the project's long issue", () => {
  let env: TempEnv;
  let services: Services;
  let doc: IssueDocument;
  const titles = (topics: string[] | null) => articlesFor(topics).map((a) => a.title);

  beforeAll(async () => {
    env = makeTempEnv();
    services = await env.open();
    doc = await loadIssueDocument(services.db, await importLongIssue(services));
  });
  afterAll(async () => {
    await services.close();
    env.cleanup();
  });

  it('the whole issue holds every article, numbered 1..n in issue order', () => {
    const edition = buildEdition(doc, null);
    const all = LONG_ISSUE.articles;
    expect(edition.articles.map((a) => a.article.title)).toEqual(all.map((a) => a.title));
    expect(edition.articles.map((a) => a.number)).toEqual(all.map((_, i) => i + 1));
    expect(edition.takeaways.map((t) => t.article.title)).toEqual(all.filter((a) => a.takeaway).map((a) => a.title));
  });

  it('each one-topic edition holds the articles carrying that topic under their sections, renumbered from 1', () => {
    for (const section of LONG_ISSUE.sections) {
      const topic = topicSlug(section);
      const edition = buildEdition(doc, [topic]);
      const expected = articlesFor([topic]);
      expect(edition.articles.map((a) => a.article.title)).toEqual(expected.map((a) => a.title));
      expect(edition.articles.map((a) => a.number)).toEqual(expected.map((_, i) => i + 1));
      expect(edition.sections.map((s) => s.topic.name)).toEqual([...new Set(expected.map((a) => a.section))]);
      expect(edition.takeaways.map((t) => t.article.title)).toEqual(
        expected.filter((a) => a.takeaway).map((a) => a.title),
      );
    }
  });

  it('an article with an extra topic appears in that topic’s edition under its own section', () => {
    const edition = buildEdition(doc, ['city-services']);
    expect(edition.sections.map((s) => s.topic.name)).toEqual(['Open Data', 'City Services']);
    expect(edition.articles.map((a) => a.article.title)).toEqual(titles(['city-services']));
  });

  it('a two-topic edition merges both sections in issue order', () => {
    const edition = buildEdition(doc, ['energy-and-climate', 'privacy-security']);
    expect(edition.articles.map((a) => a.article.title)).toEqual(titles(['privacy-security', 'energy-and-climate']));
    expect(edition.sections.map((s) => s.topic.name)).toEqual(['Privacy & Security', 'Energy and Climate']);
    expect(edition.articles.map((a) => a.number)).toEqual([1, 2, 3, 4, 5]);
  });

  it('an edition with no article is reported empty', () => {
    const emptyDoc: IssueDocument = {
      ...doc,
      articles: doc.articles.filter((a) => a.section.slug !== 'shared-ledgers'),
    };
    const edition = buildEdition(emptyDoc, ['shared-ledgers']);
    expect(edition.empty).toBe(true);
    expect(edition.sections).toEqual([]);
  });

  it('an unknown topic is an error that lists the topics that exist', async () => {
    const topics = await listTopics(services.db);
    expect(() => assertKnownTopics(['gardening'], topics)).toThrow(UnknownTopicError);
    expect(() => assertKnownTopics(['gardening'], topics)).toThrow(/gardening.*Topics: office-news, privacy-security/);
  });
});
