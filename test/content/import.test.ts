import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { importFolder, ImportError } from '../../src/content/import.js';
import { listGlossary, listTopics, loadIssueDocument } from '../../src/content/content-repository.js';
import { DEMO_DIR } from '../../src/content/demo.js';
import { makeTempEnv, SAMPLE_DIR, type TempEnv } from '../helpers/temp-env.js';
import { readSample, sampleAvailable } from '../helpers/sample.js';

let env: TempEnv;
let services: Services;

beforeEach(async () => {
  env = makeTempEnv();
  services = await env.open();
});
afterEach(async () => {
  await services.close();
  env.cleanup();
});

async function counts() {
  const db = services.db;
  const one = async (table: 'articles' | 'topics' | 'issues' | 'glossary' | 'issue_articles') =>
    Number(
      (
        await db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return {
    articles: await one('articles'),
    topics: await one('topics'),
    issues: await one('issues'),
    glossary: await one('glossary'),
    links: await one('issue_articles'),
  };
}

describe.runIf(sampleAvailable)('import of the real sample issue', () => {
  it('stores 20 articles in issue order, 9 topics, 7 takeaways and the glossary', async () => {
    const sample = readSample();
    const result = await importFolder(services.db, SAMPLE_DIR);
    expect(result.slug).toBe('oct-nov-2020');
    const doc = await loadIssueDocument(services.db, 'oct-nov-2020');
    expect(doc.articles).toHaveLength(20);
    expect(doc.articles.map((a) => a.title)).toEqual(sample.articles.map((a) => a.title));
    expect(doc.sections.map((s) => s.name)).toEqual(sample.sections);
    expect(await listTopics(services.db)).toHaveLength(9);
    expect(doc.articles.filter((a) => a.takeaway)).toHaveLength(7);
    const glossary = await listGlossary(services.db);
    expect(glossary).toHaveLength(sample.glossaryRows);
    expect(glossary.find((g) => g.abbreviation === 'SAMR')?.chinese).toBe('国家市场监督管理总局');
    expect(doc.publication.name).toBe('China Standardisation Newsletter');
    expect(doc.sections.map((s) => s.slug)).toContain('5g-and-industrial-digitalisation');
  });

  it('changes nothing when the same folder is imported twice', async () => {
    await importFolder(services.db, SAMPLE_DIR);
    const first = await counts();
    await importFolder(services.db, SAMPLE_DIR);
    expect(await counts()).toEqual(first);
    expect(first).toMatchObject({ articles: 20, topics: 9, issues: 1, links: 20 });
  });
});

describe('import errors: the file and field are named and nothing is written', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'bad-import-'));
    cpSync(DEMO_DIR, dir, { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const article = (name: string) => path.join(dir, 'articles', name);
  const edit = (file: string, from: string | RegExp, to: string) =>
    writeFileSync(file, readFileSync(file, 'utf8').replace(from, to));

  const cases: [string, () => void, RegExp][] = [
    [
      'missing title',
      () => edit(article('03-one-issue-many-editions.md'), /^title: .*$/m, ''),
      /articles\/03-one-issue-many-editions\.md: title: is missing/,
    ],
    [
      'unknown section',
      () => edit(article('04-reliable-sending.md'), 'section: "Sending"', 'section: "Gardening"'),
      /articles\/04-reliable-sending\.md: section: "Gardening" is not one of the issue's sections/,
    ],
    [
      'broken front matter',
      () => edit(article('02-import-an-issue.md'), 'tags: ["Import", "Markdown"]', 'tags: ["Import", "Markdown"'),
      /articles\/02-import-an-issue\.md: front matter: is not valid YAML/,
    ],
    [
      'listed article missing',
      () => rmSync(article('05-withdraw-as-easily-as-you-subscribe.md')),
      /issue\.md: articles\[4\]: "05-withdraw-as-easily-as-you-subscribe\.md" does not exist/,
    ],
    [
      'bad source url',
      () => edit(article('02-import-an-issue.md'), 'https://commonmark.org/', 'javascript:alert(1)'),
      /articles\/02-import-an-issue\.md: sources\.0\.url/,
    ],
  ];

  for (const [name, breakIt, message] of cases) {
    it(name, async () => {
      breakIt();
      const error = await importFolder(services.db, dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ImportError);
      expect((error as Error).message).toMatch(message);
      expect(await counts()).toEqual({ articles: 0, topics: 0, issues: 0, glossary: 0, links: 0 });
    });
  }

  it('a failing re-import leaves the earlier import untouched', async () => {
    await importFolder(services.db, dir);
    const before = await loadIssueDocument(services.db, 'welcome');
    edit(article('01-what-this-service-does.md'), 'What This Service Does', 'Changed Title');
    edit(article('04-reliable-sending.md'), 'section: "Sending"', 'section: "Nowhere"');
    await expect(importFolder(services.db, dir)).rejects.toThrow(/Nowhere/);
    const after = await loadIssueDocument(services.db, 'welcome');
    expect(after.articles.map((a) => a.title)).toEqual(before.articles.map((a) => a.title));
  });

  it('extra topics become topics the article carries', async () => {
    await importFolder(services.db, dir);
    const doc = await loadIssueDocument(services.db, 'welcome');
    const editions = doc.articles.find((a) => a.slug === '03-one-issue-many-editions');
    expect(editions?.topics.map((t) => t.slug)).toEqual(['editions', 'getting-started']);
  });
});
