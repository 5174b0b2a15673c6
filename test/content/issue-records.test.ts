import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { DEMO_DIR } from '../../src/content/demo.js';
import { importFolder } from '../../src/content/import.js';
import { loadArticles, loadIssueDocument } from '../../src/content/content-repository.js';
import { updateArticle } from '../../editors/library-repository.js';
import { planIssueDeliveries, requireIssue } from '../../scheduler/delivery-repository.js';
import { sendIssue } from '../../scheduler/send-control.js';
import { nowIso } from '../../src/db/database.js';
import { startApp, type RunningApp } from '../editors/admin-helpers.js';
import { insertSubscribers } from '../scheduler/fixtures.js';
import { runCli } from '../helpers/cli.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { makeTempEnv, type TempEnv } from '../helpers/temp-env.js';

// A sent issue is a record: its content is fixed when its send starts, library edits and plain
// imports leave it as it was sent, and only a correction (with a note, mailing nobody) changes it.

const ORIGINAL = 'What This Service Does';
const EDITED = 'What This Service Does, Edited Afterwards';

let env: TempEnv;
let services: Services;
let sink: SmtpSink;
let app: RunningApp;
let folder: string;

const articleFile = () => path.join(folder, 'articles', '01-what-this-service-does.md');
const retitle = (from: string, to: string) =>
  writeFileSync(articleFile(), readFileSync(articleFile(), 'utf8').replace(`title: "${from}"`, `title: "${to}"`));
const page = async (p: string) => {
  const res = await fetch(app.url + p);
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
};
const articleId = async () =>
  (
    await services.db
      .selectFrom('articles')
      .select('id')
      .where('slug', '=', '01-what-this-service-does')
      .executeTakeFirstOrThrow()
  ).id;

beforeAll(async () => {
  sink = await startSmtpSink();
  env = makeTempEnv({ SMTP_URL: sink.url, SEND_CONCURRENCY: '1' });
  services = await env.open();
  folder = mkdtempSync(path.join(os.tmpdir(), 'records-folder-'));
  cpSync(DEMO_DIR, folder, { recursive: true });
  await importFolder(services.db, folder);
  await insertSubscribers(services.db, [
    { email: 'everything@example.org' },
    { email: 'starts@example.org', topics: ['getting-started'] },
    { email: 'privacy@example.org', topics: ['privacy'] },
  ]);
  app = await startApp(services);
});

afterAll(async () => {
  await app.close();
  await services.close();
  await sink.close();
  env.cleanup();
  rmSync(folder, { recursive: true, force: true });
});

describe('a sent issue is a record', () => {
  it('gives every subscriber of a send the content it had when the send started, whatever is edited meanwhile', async () => {
    const issue = await requireIssue(services.db, 'welcome');
    // What the send does first: plan the deliveries, which fixes the content.
    expect(await planIssueDeliveries(services.db, issue.id, nowIso())).toBe(true);
    const [article] = await loadArticles(services.db, [await articleId()]);
    if (!article) throw new Error('fixture article missing');
    const touched = await updateArticle(services.db, article.id, {
      title: EDITED,
      sectionTopicId: article.section.id,
      extraTopicIds: [],
      tags: article.tags,
      takeaway: article.takeaway,
      sources: article.sources,
      bodyMarkdown: article.bodyMarkdown,
    });
    expect(touched).toEqual([]); // the issue being sent is not a draft any more
    services.renderer.invalidate();
    const report = await sendIssue(services, 'welcome');
    expect(report.outcome).toBe('finished');
    const mails = sink.received.filter((m) => (m.parsed.text ?? '').includes('What This Service Does'));
    expect(mails.map((m) => m.envelopeTo[0]).sort()).toEqual(['everything@example.org', 'starts@example.org']);
    for (const mail of sink.received) {
      expect(mail.parsed.text).not.toContain(EDITED);
      expect(mail.parsed.html).not.toContain(EDITED);
    }
    // The library has the edit; the issue keeps what was sent.
    expect((await loadArticles(services.db, [article.id]))[0]?.title).toBe(EDITED);
    const doc = await loadIssueDocument(services.db, 'welcome');
    expect(doc.articles[0]?.title).toBe(ORIGINAL);
    expect(doc.frozenAt).not.toBeNull();
  });

  it('serves the same bytes after an article edit and after a plain re-import, which exits non-zero naming the issue', async () => {
    const before = await page('/issues/welcome');
    const beforeEdition = await page('/issues/welcome?topics=privacy');
    expect(before.status).toBe(200);
    expect(before.bytes.toString()).toContain(ORIGINAL);

    // The article edit of the previous test is in the library; edit it once more.
    const [article] = await loadArticles(services.db, [await articleId()]);
    if (!article) throw new Error('fixture article missing');
    await updateArticle(services.db, article.id, {
      title: 'Yet Another Title',
      sectionTopicId: article.section.id,
      extraTopicIds: [],
      tags: article.tags,
      takeaway: article.takeaway,
      sources: article.sources,
      bodyMarkdown: `${article.bodyMarkdown}\n\nA paragraph added later.`,
    });
    expect((await page('/issues/welcome')).bytes.equals(before.bytes)).toBe(true);

    // A plain import of the changed folder, from another process's point of view (the CLI).
    retitle(ORIGINAL, 'Imported Title');
    const run = await runCli(['import', folder], env.env);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Issue "welcome" was sent on \d{4}-\d{2}-\d{2}/);
    expect(run.stderr).toContain('nothing was imported');
    expect(run.stderr).toContain('--correct');
    expect((await loadArticles(services.db, [article.id]))[0]?.title).toBe('Yet Another Title');
    const after = await page('/issues/welcome');
    expect(after.bytes.equals(before.bytes)).toBe(true);
    expect((await page('/issues/welcome?topics=privacy')).bytes.equals(beforeEdition.bytes)).toBe(true);
  });

  it('publishes a correction with --correct: the web version shows the note and the new text, and nobody is mailed', async () => {
    const mailed = sink.received.length;
    const run = await runCli(['import', folder, '--correct', 'The first title was wrong.'], env.env);
    expect(run).toMatchObject({ code: 0, stdout: 'welcome\n' });
    expect(run.stderr).toContain('nobody was mailed');
    const html = (await page('/issues/welcome')).bytes.toString();
    expect(html).toContain('Imported Title');
    expect(html).not.toContain(ORIGINAL);
    expect(html).toMatch(/Corrected on \d{1,2} [A-Z][a-z]+ \d{4}:<\/strong> The first title was wrong\./);
    const correction = await services.db.selectFrom('issue_corrections').selectAll().executeTakeFirstOrThrow();
    expect(correction).toMatchObject({ note: 'The first title was wrong.', corrected_by: 'cli' });
    expect(correction.replaced_json).toContain(ORIGINAL);
    expect(sink.received.length).toBe(mailed);
  });

  it('refuses --correct on a draft and without a note, writing nothing', async () => {
    const draft = mkdtempSync(path.join(os.tmpdir(), 'records-draft-'));
    try {
      cpSync(folder, draft, { recursive: true });
      const issueFile = path.join(draft, 'issue.md');
      writeFileSync(issueFile, readFileSync(issueFile, 'utf8').replace('slug: "welcome"', 'slug: "second"'));
      const refused = await runCli(['import', draft, '--correct', 'Typo.'], env.env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('Issue "second" has not been sent');
      expect(await services.db.selectFrom('issues').select('slug').where('slug', '=', 'second').execute()).toEqual([]);
      const empty = await runCli(['import', folder, '--correct', '  '], env.env);
      expect(empty.code).toBe(1);
      expect(empty.stderr).toContain('--correct needs a note');
    } finally {
      rmSync(draft, { recursive: true, force: true });
    }
  });
});

describe('drafts follow the library, in every process', () => {
  it('after a CLI import changes an article two drafts share, both drafts show the change; the sent issue keeps its text', async () => {
    const copy = (slug: string) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), `records-${slug}-`));
      cpSync(folder, dir, { recursive: true });
      const issueFile = path.join(dir, 'issue.md');
      writeFileSync(issueFile, readFileSync(issueFile, 'utf8').replace('slug: "welcome"', `slug: "${slug}"`));
      return dir;
    };
    const second = copy('second');
    const third = copy('third');
    try {
      expect((await runCli(['import', second], env.env)).code).toBe(0);
      expect((await runCli(['import', third], env.env)).code).toBe(0);
      // The server's renderer caches both drafts.
      expect(await services.renderer.renderWeb('second', null)).toContain('Imported Title');
      expect(await services.renderer.renderWeb('third', null)).toContain('Imported Title');
      const file = path.join(third, 'articles', '01-what-this-service-does.md');
      writeFileSync(file, readFileSync(file, 'utf8').replace('title: "Imported Title"', 'title: "Shared Title"'));
      const run = await runCli(['import', third], env.env);
      expect(run.code).toBe(0);
      expect(run.stderr).toContain(
        '01-what-this-service-does changed; sent issue welcome keeps the text it was sent with',
      );
      expect(await services.renderer.renderWeb('second', null)).toContain('Shared Title');
      expect(await services.renderer.renderWeb('third', null)).toContain('Shared Title');
      expect(await services.renderer.renderWeb('welcome', null)).toContain('Imported Title');
    } finally {
      rmSync(second, { recursive: true, force: true });
      rmSync(third, { recursive: true, force: true });
    }
  });
});
