import { existsSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { DEMO_DIR } from '../../src/content/demo.js';
import { importFolder } from '../../src/content/import.js';
import { loadArticles } from '../../src/content/content-repository.js';
import { insertIssue } from '../../editors/issue-repository.js';
import { sendIssue } from '../../scheduler/send-control.js';
import { insertSubscribers } from '../scheduler/fixtures.js';
import { runCli } from '../helpers/cli.js';
import { signedInEditor, type Client, type RunningApp, type SignedIn } from './admin-helpers.js';

// The editors' app and the CLI on a sent issue: edits go to drafts (and say so), a correction
// shows its note and mails nobody, a sent issue can be withdrawn and put back, a draft deleted.

describe('sent issues in the editors’ app', () => {
  let editor: SignedIn;
  let services: Services;
  let app: RunningApp;
  let client: Client;
  let token: string;
  let articleId: number;

  const outboxCount = () =>
    existsSync(editor.env.config.outboxDir) ? readdirSync(editor.env.config.outboxDir).length : 0;
  const publicPage = async (p: string) => {
    const res = await fetch(app.url + p);
    return { status: res.status, text: await res.text() };
  };

  beforeAll(async () => {
    editor = await signedInEditor({
      withLongIssue: false,
      seed: async (s) => {
        await importFolder(s.db, DEMO_DIR);
        await insertSubscribers(s.db, [{ email: 'reader@example.org' }]);
        expect((await sendIssue(s, 'welcome')).outcome).toBe('finished');
        await insertIssue(s.db, 'spare', { title: 'Spare', edition: '', period: 'Winter', editorNoteMarkdown: '' });
      },
    });
    ({ services, app, client } = editor);
    token = await client.csrfToken('/admin/issues/welcome');
    articleId = (
      await services.db
        .selectFrom('articles')
        .select('id')
        .where('slug', '=', '04-reliable-sending')
        .executeTakeFirstOrThrow()
    ).id;
  });
  afterAll(() => editor?.close());

  it('saves an article edit for drafts only and tells the editor which sent issue keeps the old text', async () => {
    const before = await publicPage('/issues/welcome');
    const [article] = await loadArticles(services.db, [articleId]);
    const form = new FormData();
    form.set('_csrf', token);
    form.set('intent', 'save');
    form.set('title', 'Reliable Sending, Corrected');
    form.set('sectionTopicId', String(article?.section.id));
    form.set('body', article?.bodyMarkdown ?? '');
    const saved = await client.post(`/admin/articles/${articleId}`, form);
    expect(saved.status).toBe(303);
    expect(saved.headers.get('location')).toBe(`/admin/articles/${articleId}?notice=saved-drafts-only`);
    const page = await (await client.get(saved.headers.get('location') ?? '')).text();
    expect(page).toContain('the sent issues listed below keep the text they were sent with');
    expect(page).toContain('Sent issues keep the text they were sent with');
    expect(page).toContain('href="/admin/issues/welcome/correct"');
    expect(page).not.toContain('Delete this article');
    expect((await publicPage('/issues/welcome')).text).toBe(before.text);
  });

  it('publishes a correction from the app: a stale form is refused, then the note shows and nobody is mailed', async () => {
    const mailed = outboxCount();
    const form = await (await client.get('/admin/issues/welcome/correct')).text();
    expect(form).toContain('Reliable Sending, Corrected');
    expect(form).toContain('(sent as “Reliable Sending”)');
    const version = /name="version" value="([^"]+)"/.exec(form)?.[1] ?? '';
    const stale = await client.post('/admin/issues/welcome/correct', { _csrf: token, version: 'older', note: 'x' });
    expect(stale.status).toBe(409);
    const noNote = await client.post('/admin/issues/welcome/correct', { _csrf: token, version, note: ' ' });
    expect(noNote.status).toBe(400);
    expect(await noNote.text()).toContain('Write the note readers will see');
    const done = await client.post('/admin/issues/welcome/correct', {
      _csrf: token,
      version,
      note: 'Article 4 had a misleading title.',
    });
    expect(done.status).toBe(303);
    const web = await publicPage('/issues/welcome');
    expect(web.text).toContain('Reliable Sending, Corrected');
    expect(web.text).toContain('Article 4 had a misleading title.');
    expect(web.text).toMatch(/Corrected on \d+ \w+ \d{4}:/);
    expect(outboxCount()).toBe(mailed);
    const composer = await (await client.get('/admin/issues/welcome')).text();
    expect(composer).toContain('Article 4 had a misleading title.');
    const again = await (await client.get('/admin/issues/welcome/correct')).text();
    expect(again).toContain('there is nothing to correct yet');
  });

  it('withdraws a sent issue from the archive and feed (410 with the note) and puts it back', async () => {
    const res = await client.post('/admin/issues/welcome/withdraw', {
      _csrf: token,
      note: 'It named the wrong office.',
    });
    expect(res.status).toBe(303);
    const gone = await publicPage('/issues/welcome');
    expect(gone.status).toBe(410);
    expect(gone.text).toContain('It named the wrong office.');
    expect((await publicPage('/issues')).text).not.toContain('href="/issues/welcome"');
    expect((await publicPage('/feed.xml')).text).not.toContain('/issues/welcome');
    expect((await client.post('/admin/issues/welcome/withdraw', { _csrf: token })).status).toBe(409);
    expect((await client.post('/admin/issues/welcome/republish', { _csrf: token })).status).toBe(303);
    expect((await publicPage('/issues/welcome')).status).toBe(200);
    expect((await publicPage('/issues')).text).toContain('href="/issues/welcome"');
  });

  it('deletes a draft after a confirmation step, and never a sent issue', async () => {
    expect((await client.get('/admin/issues/welcome/delete')).status).toBe(409);
    expect((await client.post('/admin/issues/welcome/delete', { _csrf: token })).status).toBe(409);
    const confirm = await (await client.get('/admin/issues/spare/delete')).text();
    expect(confirm).toContain('Delete this draft?');
    const deleted = await client.post('/admin/issues/spare/delete', { _csrf: token });
    expect(deleted.headers.get('location')).toBe('/admin/issues?notice=issue-deleted');
    expect(await services.db.selectFrom('issues').select('slug').orderBy('slug').execute()).toEqual([
      { slug: 'welcome' },
    ]);
  });

  it('withdraws, puts back and deletes from the command line, with messages that say what to do', async () => {
    const env = editor.env.env;
    await insertIssue(services.db, 'other', { title: 'Other', edition: '', period: 'Spring', editorNoteMarkdown: '' });
    expect(await runCli(['withdraw', 'other'], env)).toMatchObject({
      code: 1,
      stderr:
        'Error: other is draft, not in the archive; only a sent issue can be withdrawn (`newsletter delete other` deletes a draft)\n',
    });
    expect(await runCli(['delete', 'welcome'], env)).toMatchObject({ code: 1 });
    expect((await runCli(['withdraw', 'welcome', '--note', 'Gone.'], env)).code).toBe(0);
    expect((await publicPage('/issues/welcome')).status).toBe(410);
    expect((await runCli(['republish', 'welcome'], env)).code).toBe(0);
    expect((await publicPage('/issues/welcome')).status).toBe(200);
    expect(await runCli(['delete', 'other'], env)).toMatchObject({
      code: 0,
      stdout: 'Deleted the draft other; its articles stay in the library\n',
    });
    expect((await runCli(['delete', 'nope'], env)).stderr).toBe('Error: No issue "nope". Issues: welcome\n');
  });
});
