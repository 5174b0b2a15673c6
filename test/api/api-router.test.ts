import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { compileErrors, dereference, validate } from '@readme/openapi-parser';
import { startScheduler, type RunningScheduler } from '../../scheduler/scheduler-service.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../api/api-router.js';
import { revokeApiKey } from '../../api/api-key-repository.js';
import { createApiKey } from '../../api/api-keys.js';
import { API_SCOPES, type ApiScope } from '../../api/scopes.js';
import { nowIso } from '../../src/db/database.js';
import { insertIssue } from '../../editors/issue-repository.js';
import { listConsentLog, findSubscriberByUid } from '../../subscribers/subscriber-repository.js';
import { LONG_ISSUE, writeLongIssue } from '../fixtures/long-issue.js';
import { eventually } from '../helpers/eventually.js';
import { smtpError } from '../helpers/smtp-sink.js';
import { linkIn, nextMailTo, startHarness, type WebHarness } from '../subscribers/web-harness.js';
import { OpenApiChecker } from './openapi-check.js';

// Real HTTP against a real server (SQLite file, SMTP sink): every route of /api/v1 with every
// kind of key, each answer checked against the OpenAPI document the server publishes.

const DEFERRED = 'deferred@example.org';
let h: WebHarness;
let scheduler: RunningScheduler | undefined;
let checker: OpenApiChecker;
let adminKey: string;
const keyFor = new Map<ApiScope, string>();

interface CallOptions {
  key?: string | null;
  body?: unknown;
  form?: FormData;
  headers?: Record<string, string>;
}

async function call(
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<{ res: Response; body: unknown }> {
  const headers = new Headers(options.headers);
  const key = options.key === undefined ? adminKey : options.key;
  if (key !== null) headers.set('authorization', `Bearer ${key}`);
  let body: BodyInit | undefined;
  if (options.form) body = options.form;
  else if (options.body !== undefined) {
    headers.set('content-type', 'application/json');
    body = JSON.stringify(options.body);
  }
  const res = await fetch(`${h.base}/api/v1${path}`, { method: method.toUpperCase(), headers, body });
  const parsed = await checker.check(method, `/api/v1${path}`, res.clone());
  return { res, body: parsed };
}

const asRecord = (v: unknown) => v as Record<string, unknown>;

function readFolder(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of ['issue.md', 'publication.md', 'abbreviations.tsv'])
    files[name] = readFileSync(path.join(dir, name), 'utf8');
  for (const name of readdirSync(path.join(dir, 'articles'))) {
    files[`articles/${name}`] = readFileSync(path.join(dir, 'articles', name), 'utf8');
  }
  return files;
}

beforeAll(async () => {
  // One address is refused for now (451) at every try, so a send that includes it stays `sending`.
  h = await startHarness({
    sink: { reply: (_n, to) => (to.includes(DEFERRED) ? smtpError(451, 'try again later') : undefined) },
  });
  // The sender `newsletter serve` runs beside the web server: POST …/send only starts the send.
  scheduler = await startScheduler(h.services, { tickMs: 1000 });
  const res = await fetch(`${h.base}/api/v1/openapi.json`);
  expect(res.status).toBe(200);
  const doc = (await res.json()) as object;
  checker = new OpenApiChecker(await dereference(structuredClone(doc) as never));
  adminKey = (await createApiKey(h.services.db, { name: 'all scopes', scopes: API_SCOPES, createdBy: 'test' })).text;
  for (const scope of API_SCOPES) {
    keyFor.set(scope, (await createApiKey(h.services.db, { name: scope, scopes: [scope], createdBy: 'test' })).text);
  }
});

afterAll(async () => {
  await scheduler?.stop();
  await h?.close();
});

describe('/api/v1', () => {
  it('publishes a valid OpenAPI 3.1 document generated from the routes', async () => {
    const doc = (await (await fetch(`${h.base}/api/v1/openapi.json`)).json()) as Record<string, unknown>;
    expect(doc.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(doc) as never);
    expect(result.valid ? '' : compileErrors(result)).toBe('');
    expect(result.warnings).toEqual([]);
    expect(checker.operations().sort()).toEqual(API_ROUTES.map((r) => `${r.method.toUpperCase()} ${r.path}`).sort());
  });

  it('refuses every route without a key, with an unknown or revoked key (401), and without its scope (403)', async () => {
    const revoked = await createApiKey(h.services.db, { name: 'old', scopes: API_SCOPES, createdBy: 'test' });
    expect(await revokeApiKey(h.services.db, revoked.key.id, nowIso())).toBe('revoked');
    const unknownKey = `nlk_${'A'.repeat(43)}`;
    for (const route of API_ROUTES) {
      const concrete = route.path.replace('{id}', 'someone-123').replace('{slug}', LONG_ISSUE.slug);
      const body = route.method === 'post' || route.method === 'patch' ? {} : undefined;
      for (const key of [null, unknownKey, revoked.text]) {
        const { res, body: problem } = await call(route.method, concrete, { key, body });
        expect(res.status, `${route.method} ${route.path}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect(asRecord(problem).type).toBe('/api/v1/problems/unauthenticated');
      }
      const others = API_SCOPES.filter((s) => s !== route.scope);
      const lacking = await createApiKey(h.services.db, {
        name: `not ${route.scope}`,
        scopes: others,
        createdBy: 'test',
      });
      const { res, body: problem } = await call(route.method, concrete, { key: lacking.text, body });
      expect(res.status, `${route.method} ${route.path} without ${route.scope}`).toBe(403);
      expect(asRecord(problem).scope).toBe(route.scope);
    }
  });

  it('answers problem details for unknown routes, wrong methods and bad JSON', async () => {
    const missing = await fetch(`${h.base}/api/v1/nothing-here`, { headers: { authorization: `Bearer ${adminKey}` } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const wrong = await fetch(`${h.base}/api/v1/subscribers`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${adminKey}` },
    });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, POST');
    const bad = await fetch(`${h.base}/api/v1/subscribers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: '{"email": ',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { type: string }).type).toBe('/api/v1/problems/bad-request');
    const described = await fetch(`${h.base}/api/v1/problems/validation`);
    expect(((await described.json()) as { description: string }).description).toMatch(/field/);
  });

  it('signs people up with double opt-in, or active with a recorded consent source; lists, changes, unsubscribes, erases', async () => {
    const seen = h.sink.received.length;
    const pending = await call('POST', '/subscribers', {
      key: keyFor.get('subscribers:write'),
      body: { email: 'Reader.One@Example.org', name: 'Reader One', topics: ['open-data'] },
    });
    expect(pending.res.status).toBe(201);
    const one = asRecord(pending.body);
    expect(one).toMatchObject({ email: 'reader.one@example.org', status: 'pending', topics: ['open-data'] });
    expect(pending.res.headers.get('location')).toBe(`/api/v1/subscribers/${String(one.id)}`);
    const mail = await nextMailTo(h.sink, 'reader.one@example.org', seen);
    expect(linkIn(mail, '/confirm')).toMatch(/^\/confirm\?token=/);

    const noConsent = await call('POST', '/subscribers', { body: { email: 'two@example.org', confirmed: true } });
    expect(noConsent.res.status).toBe(422);
    expect(asRecord(noConsent.body).errors).toEqual([
      { field: 'body.consent', message: expect.stringContaining('say where the person gave their consent') },
    ]);

    const vouched = await call('POST', '/subscribers', {
      body: {
        email: 'two@example.org',
        confirmed: true,
        consent: { source: 'opt-in box at checkout on shop.example.org', ip: '203.0.113.7' },
      },
    });
    expect(vouched.res.status).toBe(201);
    const two = asRecord(vouched.body);
    expect(two.status).toBe('active');
    const stored = await findSubscriberByUid(h.services.db, String(two.id));
    const log = await listConsentLog(h.services.db, stored?.id ?? -1);
    expect(log).toEqual([
      expect.objectContaining({
        action: 'subscribe',
        source: 'api',
        ip: '203.0.113.7',
        detail: expect.stringContaining('opt-in box at checkout on shop.example.org'),
      }),
    ]);

    const again = await call('POST', '/subscribers', {
      body: { email: 'two@example.org', confirmed: true, consent: { source: 'again' } },
    });
    expect(again.res.status).toBe(409);
    expect(asRecord(again.body).subscriber).toBe(two.id);

    const unknownTopic = await call('POST', '/subscribers', { body: { email: 'x@example.org', topics: ['nope'] } });
    expect(unknownTopic.res.status).toBe(422);
    expect(JSON.stringify(unknownTopic.body)).toContain('unknown topic \\"nope\\"');

    for (let i = 0; i < 3; i++) {
      await call('POST', '/subscribers', {
        body: { email: `many${i}@example.org`, confirmed: true, consent: { source: 'import from old list' } },
      });
    }
    const reader = keyFor.get('subscribers:read');
    const first = await call('GET', '/subscribers?limit=2', { key: reader });
    const page1 = asRecord(first.body) as { data: { email: string }[]; nextCursor: string | null };
    expect(page1.data.map((s) => s.email)).toEqual(['many2@example.org', 'many1@example.org']);
    const second = await call('GET', `/subscribers?limit=2&cursor=${page1.nextCursor ?? ''}`, { key: reader });
    const page2 = asRecord(second.body) as { data: { email: string }[]; nextCursor: string | null };
    expect(page2.data.map((s) => s.email)).toEqual(['many0@example.org', 'two@example.org']);
    const last = await call('GET', `/subscribers?limit=2&cursor=${page2.nextCursor ?? ''}`, { key: reader });
    expect(asRecord(last.body)).toMatchObject({ data: [{ email: 'reader.one@example.org' }], nextCursor: null });
    const active = await call('GET', '/subscribers?status=pending', { key: reader });
    expect((asRecord(active.body).data as unknown[]).length).toBe(1);
    // reader.one chose open-data; the others chose nothing (`*`), so their edition holds every topic.
    const emails = (body: unknown) => (asRecord(body).data as { email: string }[]).map((s) => s.email);
    const byTopic = await call('GET', '/subscribers?topic=open-data', { key: reader });
    expect(emails(byTopic.body)).toEqual(['reader.one@example.org']);
    const noTopic = await call('GET', '/subscribers?topic=*&limit=200', { key: reader });
    expect(emails(noTopic.body)).toEqual([
      'many2@example.org',
      'many1@example.org',
      'many0@example.org',
      'two@example.org',
    ]);
    const bySearch = await call('GET', '/subscribers?q=READER', { key: reader });
    expect(emails(bySearch.body)).toEqual(['reader.one@example.org']);
    const badCursor = await call('GET', '/subscribers?cursor=%2F%2F', { key: reader });
    expect(badCursor.res.status).toBe(422);

    const got = await call('GET', `/subscribers/${String(two.id)}`, { key: reader });
    expect(asRecord(got.body).email).toBe('two@example.org');
    const changed = await call('PATCH', `/subscribers/${String(two.id)}`, {
      body: { name: 'Two', topics: ['annex', 'open-data'] },
    });
    expect(asRecord(changed.body)).toMatchObject({ name: 'Two', topics: ['open-data', 'annex'] });
    const emptyChange = await call('PATCH', `/subscribers/${String(two.id)}`, { body: {} });
    expect(emptyChange.res.status).toBe(422);

    const out = await call('POST', `/subscribers/${String(two.id)}/unsubscribe`);
    expect(asRecord(out.body).status).toBe('unsubscribed');
    const backWithoutOwner = await call('POST', '/subscribers', {
      body: { email: 'two@example.org', confirmed: true, consent: { source: 'crm sync' } },
    });
    expect(backWithoutOwner.res.status).toBe(409);
    const seenBefore = h.sink.received.length;
    const askOwner = await call('POST', '/subscribers', { body: { email: 'two@example.org' } });
    expect(askOwner.res.status).toBe(202);
    expect(asRecord(askOwner.body).status).toBe('unsubscribed');
    await nextMailTo(h.sink, 'two@example.org', seenBefore);

    const erased = await call('DELETE', `/subscribers/${String(two.id)}`);
    expect(erased.res.status).toBe(204);
    expect((await call('GET', `/subscribers/${String(two.id)}`)).res.status).toBe(404);
    const erasedBack = await call('POST', '/subscribers', {
      body: { email: 'two@example.org', confirmed: true, consent: { source: 'crm sync' } },
    });
    expect(erasedBack.res.status).toBe(409);
    expect(asRecord(erasedBack.body).detail).toMatch(/erased/);
  });

  it('confirms a pending sign-up with vouched consent: logged as a confirmation, the person’s own choice kept', async () => {
    const email = 'pat.pending@example.org';
    const signup = await call('POST', '/subscribers', { body: { email, name: 'Pat', topics: ['open-data'] } });
    expect(asRecord(signup.body).status).toBe('pending');
    const vouched = await call('POST', '/subscribers', {
      body: { email, confirmed: true, consent: { source: 'confirmed by phone with our helpdesk' } },
    });
    expect(vouched.res.status).toBe(200);
    expect(asRecord(vouched.body)).toMatchObject({ status: 'active', name: 'Pat', topics: ['open-data'] });
    const stored = await findSubscriberByUid(h.services.db, String(asRecord(signup.body).id));
    const log = await listConsentLog(h.services.db, stored?.id ?? -1);
    expect(log.map((entry) => entry.action)).toEqual(['signup', 'confirm']);
    expect(log[1]).toMatchObject({ source: 'api', detail: expect.stringContaining('confirmed by phone') });

    // Name or topics given with the consent are what the person agreed to: they apply.
    const other = 'sam.pending@example.org';
    await call('POST', '/subscribers', { body: { email: other, name: 'Sam', topics: ['open-data'] } });
    const withChoice = await call('POST', '/subscribers', {
      body: { email: other, topics: ['annex'], confirmed: true, consent: { source: 'paper form, signed' } },
    });
    expect(asRecord(withChoice.body)).toMatchObject({ status: 'active', name: 'Sam', topics: ['annex'] });
  });

  it('imports an issue folder as JSON or multipart with the same checks as newsletter import', async () => {
    const files = readFolder(writeLongIssue());
    const writer = keyFor.get('content:write');
    const json = await call('POST', '/imports', { key: writer, body: { files } });
    expect(json.res.status).toBe(200);
    expect(asRecord(json.body)).toMatchObject({ slug: LONG_ISSUE.slug, corrected: false });

    const form = new FormData();
    for (const [name, text] of Object.entries(files)) form.append(name, new Blob([text]), path.basename(name));
    const multipart = await call('POST', '/imports', { key: writer, form });
    expect(multipart.res.status).toBe(200);
    expect(asRecord(multipart.body).slug).toBe(LONG_ISSUE.slug);

    const broken = { ...files, 'issue.md': files['issue.md']?.replace(/^title: .*$/m, 'title: ""') ?? '' };
    const invalid = await call('POST', '/imports', { key: writer, body: { files: broken } });
    expect(invalid.res.status).toBe(422);
    expect(asRecord(invalid.body)).toMatchObject({
      type: '/api/v1/problems/import-invalid',
      file: 'issue.md',
      field: 'title',
    });
    const escaping = await call('POST', '/imports', { key: writer, body: { files: { '../issue.md': 'x' } } });
    expect(escaping.res.status).toBe(422);
  });

  it("creates and changes articles with the editors' rules", async () => {
    const writer = keyFor.get('content:write');
    const created = await call('POST', '/articles', {
      key: writer,
      body: {
        title: 'Bus lanes open',
        section: 'City Services',
        topics: ['open-data'],
        tags: ['transport'],
        sources: [{ url: 'https://example.org/bus', label: 'Council' }],
        body: 'The **new lanes** open on Monday.',
      },
    });
    expect(created.res.status).toBe(201);
    const article = asRecord(created.body);
    expect(article).toMatchObject({ section: 'City Services', topics: ['city-services', 'open-data'] });
    const changed = await call('PATCH', `/articles/${String(article.id)}`, {
      key: writer,
      body: { title: 'Bus lanes opened' },
    });
    expect(asRecord(changed.body)).toMatchObject({
      title: 'Bus lanes opened',
      body: 'The **new lanes** open on Monday.',
    });
    const invalid = await call('POST', '/articles', {
      key: writer,
      body: { title: '', section: 'City Services', body: '![](x.png)' },
    });
    expect(invalid.res.status).toBe(422);
    const fields = (asRecord(invalid.body).errors as { field: string }[]).map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['body.title', 'body.body']));
    expect((await call('PATCH', '/articles/no-such-article', { key: writer, body: { title: 'x' } })).res.status).toBe(
      404,
    );
  });

  it('lists issues, schedules, sends, pauses and reports status through the send controls', async () => {
    const reader = keyFor.get('issues:read');
    const sender = keyFor.get('issues:send');
    const list = await call('GET', '/issues', { key: reader });
    expect((asRecord(list.body).data as { slug: string }[]).map((i) => i.slug)).toContain(LONG_ISSUE.slug);
    expect((await call('GET', '/issues/no-such-issue', { key: reader })).res.status).toBe(404);

    const past = await call('POST', `/issues/${LONG_ISSUE.slug}/schedule`, {
      key: sender,
      body: { at: '2001-01-01T08:00:00Z' },
    });
    expect(past.res.status).toBe(422);
    const scheduled = await call('POST', `/issues/${LONG_ISSUE.slug}/schedule`, {
      key: sender,
      body: { at: '2999-01-01T08:00:00+01:00' },
    });
    expect(asRecord(scheduled.body)).toMatchObject({ status: 'scheduled', sendAt: '2999-01-01T07:00:00.000Z' });
    const cleared = await call('DELETE', `/issues/${LONG_ISSUE.slug}/schedule`, { key: sender });
    expect(asRecord(cleared.body).status).toBe('draft');
    const notSending = await call('POST', `/issues/${LONG_ISSUE.slug}/pause`, { key: sender });
    expect(notSending.res.status).toBe(409);
    expect((await call('POST', `/issues/${LONG_ISSUE.slug}/resume`, { key: sender })).res.status).toBe(409);

    await insertIssue(h.services.db, 'empty-one', { title: 'Empty', edition: '', period: '', editorNoteMarkdown: '' });
    const empty = await call('POST', '/issues/empty-one/send', { key: sender });
    expect(empty.res.status).toBe(409);
    expect(asRecord(empty.body).detail).toMatch(/no article/);
    const emptySchedule = await call('POST', '/issues/empty-one/schedule', {
      key: sender,
      body: { at: '2999-01-01T08:00:00Z' },
    });
    expect(emptySchedule.res.status).toBe(409);
    const cancelEmpty = await call('POST', '/issues/empty-one/cancel', { key: sender });
    expect(cancelEmpty.res.status).toBe(409);

    await call('POST', '/subscribers', {
      body: { email: 'gets-it@example.org', confirmed: true, consent: { source: 'test' } },
    });
    const started = await call('POST', `/issues/${LONG_ISSUE.slug}/send`, { key: sender });
    expect(started.res.status).toBe(202);
    const status = await eventually(
      'the send to finish (GET /issues/:slug)',
      async () => asRecord((await call('GET', `/issues/${LONG_ISSUE.slug}`, { key: reader })).body),
      { holds: (issue) => issue.status === 'sent', timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(asRecord(status.counts).sent).toBeGreaterThan(0);
    const cancelled = await call('POST', `/issues/${LONG_ISSUE.slug}/cancel`, { key: sender });
    expect(cancelled.res.status).toBe(409);

    // A sent issue is a record: a plain import onto it is refused, as `newsletter import` refuses it.
    const files = readFolder(writeLongIssue());
    const onRecord = await call('POST', '/imports', { key: keyFor.get('content:write'), body: { files } });
    expect(onRecord.res.status).toBe(409);
    expect(asRecord(onRecord.body).detail).toMatch(/--correct/);
    const correction = await call('POST', '/imports', {
      key: keyFor.get('content:write'),
      body: { files, correction: { note: 'Nothing changed but the note' } },
    });
    expect(correction.res.status).toBe(200);

    // A second issue whose send cannot finish (one address is deferred): pause, resume, cancel.
    await call('POST', '/subscribers', { body: { email: DEFERRED, confirmed: true, consent: { source: 'test' } } });
    const second = { ...files, 'issue.md': files['issue.md']?.replace(/^slug: .*$/m, 'slug: "second-issue"') ?? '' };
    expect(
      (await call('POST', '/imports', { key: keyFor.get('content:write'), body: { files: second } })).res.status,
    ).toBe(200);
    expect((await call('POST', '/issues/second-issue/send', { key: sender })).res.status).toBe(202);
    const paused = await call('POST', '/issues/second-issue/pause', { key: sender });
    expect(asRecord(paused.body)).toMatchObject({
      status: 'paused',
      pauseReason: 'paused through the API (key "issues:send")',
    });
    const resumed = await call('POST', '/issues/second-issue/resume', { key: sender });
    expect(asRecord(resumed.body).status).toBe('sending');
    const stopped = await call('POST', '/issues/second-issue/cancel', { key: sender });
    expect(asRecord(stopped.body).status).toBe('cancelled');
  });

  it('counts subscribers by status and topic, as the list shows them', async () => {
    const stats = await call('GET', '/stats/subscribers', { key: keyFor.get('stats:read') });
    const body = asRecord(stats.body) as {
      byStatus: Record<string, number>;
      topics: { slug: string; chosen: number; receiving: number }[];
    };
    const listed = await call('GET', '/subscribers?status=active&limit=200', { key: keyFor.get('subscribers:read') });
    const active = asRecord(listed.body).data as { topics: string[] }[];
    expect(active.length).toBeGreaterThan(2);
    expect(body.byStatus.active).toBe(active.length);
    const everyTopic = active.filter((s) => s.topics.length === 0).length;
    for (const slug of ['open-data', 'annex', 'office-news']) {
      const chosen = active.filter((s) => s.topics.includes(slug)).length;
      expect(body.topics.find((t) => t.slug === slug)).toMatchObject({ slug, chosen, receiving: chosen + everyTopic });
    }
  });

  it('reports subscribers per topic month by month', async () => {
    const trends = await call('GET', '/stats/topics?months=2', { key: keyFor.get('stats:read') });
    expect(trends.res.status).toBe(200);
    const body = asRecord(trends.body) as { months: string[]; topics: { slug: string; joined: number[] }[] };
    expect(body.months).toEqual([expect.stringMatching(/^\d{4}-\d{2}$/), new Date().toISOString().slice(0, 7)]);
    expect(body.topics.map((t) => t.slug)).toContain('*');
    expect(body.topics.every((t) => t.joined.length === 2)).toBe(true);
    const tooMany = await call('GET', '/stats/topics?months=99', { key: keyFor.get('stats:read') });
    expect(tooMany.res.status).toBe(422);
  });

  it('reports clicks per issue (counts only; nobody clicked here)', async () => {
    const key = keyFor.get('stats:read');
    const list = await call('GET', '/stats/clicks', { key });
    expect(list.res.status).toBe(200);
    const issues = (asRecord(list.body) as { issues: { clicks: number; machineClicks: number }[] }).issues;
    expect(asRecord(list.body).level).toBe('aggregate');
    expect(issues.every((i) => i.clicks === 0 && i.machineClicks === 0)).toBe(true);
    const one = await call('GET', `/stats/clicks/${LONG_ISSUE.slug}`, { key });
    expect(one.res.status).toBe(200);
    const body = asRecord(one.body) as { articles: { clicks: number }[]; editions: unknown[]; otherClicks: number };
    expect(body.articles.length).toBeGreaterThan(5);
    expect(body.articles.every((a) => a.clicks === 0)).toBe(true);
    expect(body.otherClicks).toBe(0);
    expect((await call('GET', '/stats/clicks/no-such-issue', { key })).res.status).toBe(404);
  });

  it('replays a POST with the same Idempotency-Key and refuses the key with another request', async () => {
    const headers = { 'idempotency-key': 'signup-0001' };
    const first = await call('POST', '/subscribers', { headers, body: { email: 'idem@example.org' } });
    expect(first.res.status).toBe(201);
    const replay = await call('POST', '/subscribers', { headers, body: { email: 'idem@example.org' } });
    expect(replay.res.status).toBe(201);
    expect(replay.res.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(first.body);
    const other = await call('POST', '/subscribers', { headers, body: { email: 'other@example.org' } });
    expect(other.res.status).toBe(422);
    expect(asRecord(other.body).type).toBe('/api/v1/problems/idempotency-conflict');
    // A refusal is stored too: the same bad request with its key is refused the same way.
    const badHeaders = { 'idempotency-key': 'bad-0001' };
    const bad = await call('POST', '/subscribers', { headers: badHeaders, body: { email: 'not an address' } });
    const badAgain = await call('POST', '/subscribers', { headers: badHeaders, body: { email: 'not an address' } });
    expect([bad.res.status, badAgain.res.status]).toEqual([422, 422]);
    expect(badAgain.res.headers.get('content-type')).toMatch(/problem\+json/);
  });

  it('answered every documented operation with a success', () => {
    expect(checker.unansweredSuccesses()).toEqual([]);
  });
});
