import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { importFolder, ImportError, readImportFolder } from '../../src/content/import.js';
import { listGlossary, listTopics, loadIssueDocument } from '../../src/content/content-repository.js';
import { DEMO_DIR } from '../../src/content/demo.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';
import { importLongIssue, LONG_ISSUE, LONG_ISSUE_IMAGES } from '../fixtures/long-issue.js';
import { ROOT } from '../helpers/child-server.js';

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

describe("import of the project's long issue", () => {
  it('stores every article in issue order with its topics, takeaways, sources, images and the glossary', async () => {
    const slug = await importLongIssue(services);
    expect(slug).toBe(LONG_ISSUE.slug);
    const doc = await loadIssueDocument(services.db, slug);
    expect(doc.articles.map((a) => a.title)).toEqual(LONG_ISSUE.articles.map((a) => a.title));
    expect(doc.sections.map((s) => s.name)).toEqual(LONG_ISSUE.sections);
    expect(doc.sections.map((s) => s.slug)).toContain('6g-and-factories');
    expect(await listTopics(services.db)).toHaveLength(LONG_ISSUE.sections.length);
    expect(doc.articles.map((a) => a.takeaway ?? undefined)).toEqual(LONG_ISSUE.articles.map((a) => a.takeaway));
    const catalogue = doc.articles.find((a) => a.title === 'The City Catalogue Lists Forty Data Sets');
    expect(catalogue?.topics.map((t) => t.slug)).toEqual(['open-data', 'city-services']);
    expect(catalogue?.sources).toHaveLength(2);
    const imagesIn = (markdown: string) =>
      [...markdown.matchAll(/!\[[^\]]+\]\((\/media\/[^)\s]+)\)/g)].map((m) => m[1]);
    expect(doc.articles.flatMap((a) => imagesIn(a.bodyMarkdown))).toEqual(
      LONG_ISSUE_IMAGES.map((i) => `/media/${i.file}`),
    );
    const glossary = await listGlossary(services.db);
    expect(glossary.map((g) => [g.abbreviation, g.english, g.chinese])).toEqual(
      LONG_ISSUE.glossary.map((g) => [g.abbreviation, g.english, g.chinese]),
    );
    expect(doc.publication.name).toBe(LONG_ISSUE.publication.name);
  });

  it('changes nothing when the same folder is imported twice', async () => {
    await importLongIssue(services);
    const first = await counts();
    await importLongIssue(services);
    expect(await counts()).toEqual(first);
    const n = LONG_ISSUE.articles.length;
    expect(first).toMatchObject({ articles: n, topics: 9, issues: 1, links: n, glossary: LONG_ISSUE.glossary.length });
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
    [
      'glossary without a chinese column',
      () => writeFileSync(path.join(dir, 'abbreviations.tsv'), 'abbreviation\tenglish\nDKIM\tDomainKeys\n'),
      /abbreviations\.tsv: chinese: column is missing from the header row/,
    ],
    [
      'glossary entry without an abbreviation, named by its line',
      () =>
        writeFileSync(
          path.join(dir, 'abbreviations.tsv'),
          'abbreviation\tenglish\tchinese\n\nDKIM\tDomainKeys\t域名\n\tNo Abbreviation\t无\n',
        ),
      /abbreviations\.tsv: line 4 abbreviation: is empty/,
    ],
    [
      'image without alt text',
      () => edit(article('03-one-issue-many-editions.md'), /\n\n/, '\n\n![](/media/chart.png)\n\n'),
      /articles\/03-one-issue-many-editions\.md: body: the image \/media\/chart\.png has no alt text; describe it/,
    ],
  ];

  cases.push(
    [
      'an article whose inline HTML nests too deep',
      () =>
        edit(
          article('03-one-issue-many-editions.md'),
          /\n---\n/,
          `\n---\n${'<b>'.repeat(2344)}x${'</b>'.repeat(2344)}\n`,
        ),
      /articles\/03-one-issue-many-editions\.md: body: its HTML nests \d+ elements deep, more than the 100 allowed/,
    ],
    [
      'an about text that nests too deep',
      () => edit(path.join(dir, 'publication.md'), /\n---\n/, `\n---\n${'<blockquote>'.repeat(2101)}\n`),
      /publication\.md: body: its HTML nests \d+ elements deep/,
    ],
  );

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

/** `newsletter import <dir>` as a real child process of the built command. */
function importInChild(dir: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [path.join(ROOT, 'bin', 'newsletter.js'), 'import', dir], { env });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => resolve({ code, stderr }));
  });
}

describe('a hostile content folder: nothing in it runs, and nothing outside it is read', () => {
  let dir: string;
  let marker: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hostile-import-'));
    cpSync(DEMO_DIR, dir, { recursive: true });
    marker = path.join(dir, 'front-matter-ran');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Front matter in `language` that writes the marker file if anything evaluates it, then gives the same fields. */
  const codeFrontMatter = (file: string, language: string) => {
    const text = readFileSync(file, 'utf8');
    const [, yamlText = '', body = ''] = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(text) ?? [];
    const fields = JSON.stringify(
      Object.fromEntries(
        yamlText
          .split('\n')
          .filter((l) => /^\w+: "/.test(l))
          .map((l) => [l.slice(0, l.indexOf(':')), JSON.parse(l.slice(l.indexOf(':') + 2)) as string]),
      ),
    );
    const write = `process.getBuiltinModule('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran')`;
    writeFileSync(file, `---${language}\n{ "ran": ${write}, ...${fields} }\n---\n${body}`);
  };

  it('`newsletter import` refuses an issue.md with ---js front matter, naming the file, and runs none of it', async () => {
    codeFrontMatter(path.join(dir, 'issue.md'), 'js');
    const result = await importInChild(dir, env.env);
    expect(existsSync(marker)).toBe(false);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'Import failed, nothing was written: issue.md: front matter: is marked "js": only YAML front matter is accepted',
    );
    expect(await counts()).toEqual({ articles: 0, topics: 0, issues: 0, glossary: 0, links: 0 });
  });

  it('refuses ---javascript in an article and in publication.md the same way', () => {
    codeFrontMatter(path.join(dir, 'articles', '02-import-an-issue.md'), 'javascript');
    expect(() => readImportFolder(dir)).toThrow(
      /^articles\/02-import-an-issue\.md: front matter: is marked "javascript"/,
    );
    cpSync(path.join(DEMO_DIR, 'articles'), path.join(dir, 'articles'), { recursive: true });
    codeFrontMatter(path.join(dir, 'publication.md'), 'js');
    expect(() => readImportFolder(dir)).toThrow(/^publication\.md: front matter: is marked "js"/);
    expect(existsSync(marker)).toBe(false);
  });

  it('`newsletter import` refuses a glossary linked to /dev/zero with one clear line instead of aborting', async () => {
    rmSync(path.join(dir, 'abbreviations.tsv'));
    symlinkSync('/dev/zero', path.join(dir, 'abbreviations.tsv'));
    const result = await importInChild(dir, env.env);
    expect(result).toEqual({
      code: 1,
      stderr:
        'Error: Import failed, nothing was written: abbreviations.tsv: is a symbolic link leading outside the folder ' +
        '(to /dev/zero); copy the file into the folder instead\n',
    });
  });

  it('refuses an article linked outside the folder and one over the size cap, naming each', () => {
    const article = path.join(dir, 'articles', '03-one-issue-many-editions.md');
    rmSync(article);
    symlinkSync('/etc/hostname', article);
    expect(() => readImportFolder(dir)).toThrow(
      /^articles\/03-one-issue-many-editions\.md: is a symbolic link leading outside/,
    );
    rmSync(article);
    writeFileSync(
      article,
      readFileSync(path.join(DEMO_DIR, 'articles', '03-one-issue-many-editions.md'), 'utf8') + 'x'.repeat(1024 * 1024),
    );
    expect(() => readImportFolder(dir)).toThrow(
      /^articles\/03-one-issue-many-editions\.md: is larger than the 1024 KiB/,
    );
  });
});

describe('the glossary (abbreviations.tsv)', () => {
  it('reads columns in any order, quotes as text, CRLF, a byte order mark, blank lines and extra columns', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'import-tsv-'));
    try {
      cpSync(DEMO_DIR, dir, { recursive: true });
      writeFileSync(
        path.join(dir, 'abbreviations.tsv'),
        '\ufeffChinese\tnote\tAbbreviation\tEnglish\r\n' +
          '域名密钥识别邮件\tx\tDKIM\t"DomainKeys" Identified Mail\r\n' +
          '\r\n' +
          '简单邮件传输协议\t\t SMTP \tSimple Mail Transfer Protocol\r\n' +
          '\tshort row\tRFC\r\n',
      );
      await importFolder(services.db, dir);
      expect((await listGlossary(services.db)).map((g) => [g.abbreviation, g.english, g.chinese])).toEqual([
        ['DKIM', '"DomainKeys" Identified Mail', '域名密钥识别邮件'],
        ['SMTP', 'Simple Mail Transfer Protocol', '简单邮件传输协议'],
        ['RFC', '', ''],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('characters XML cannot carry', () => {
  it('are dropped at import from titles, bodies and the glossary; everything else is kept', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'import-xml-'));
    try {
      cpSync(DEMO_DIR, dir, { recursive: true });
      const issueFile = path.join(dir, 'issue.md');
      writeFileSync(
        issueFile,
        readFileSync(issueFile, 'utf8').replace('period: "Autumn 2026"', 'period: "Autumn\\v 2026"'),
      );
      const articleFile = path.join(dir, 'articles', '03-one-issue-many-editions.md');
      writeFileSync(
        articleFile,
        readFileSync(articleFile, 'utf8')
          .replace('title: "One Issue, Many Editions"', 'title: "One Issue,\\u000b Many\\u0001 Editions"')
          .replace('The edition for a set of topics', 'The edition\u0008 for a set\tof topics'),
      );
      const glossaryFile = path.join(dir, 'abbreviations.tsv');
      writeFileSync(
        glossaryFile,
        readFileSync(glossaryFile, 'utf8') + 'VT\u000b\tVertical\u000c Tab\t垂直\u0000制表\n',
      );
      const { slug } = await importFolder(services.db, dir);
      const doc = await loadIssueDocument(services.db, slug);
      expect(doc.period).toBe('Autumn 2026');
      const article = doc.articles.find((a) => a.title.startsWith('One Issue'));
      expect(article?.title).toBe('One Issue, Many Editions');
      expect(article?.bodyMarkdown).toContain('The edition for a set\tof topics');
      expect((await listGlossary(services.db)).at(-1)).toMatchObject({
        abbreviation: 'VT',
        english: 'Vertical Tab',
        chinese: '垂直制表',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
