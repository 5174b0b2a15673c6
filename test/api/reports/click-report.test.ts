import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../../api/api-keys.js';
import { sendIssue } from '../../../scheduler/send-control.js';
import { LONG_ISSUE } from '../../fixtures/long-issue.js';
import { startSmtpSink, type ReceivedMail, type SmtpSink } from '../../helpers/smtp-sink.js';
import { insertSubscribers } from '../../scheduler/fixtures.js';
import { signedInEditor, type SignedIn } from '../../editors/admin-helpers.js';

// The click report of an issue: readers' clicks per article, per topic, edition by edition and per
// 100 readers of each topic, in the app as charts with their numbers, as CSV, and in the API.

const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Safari/605.1.15';

function trackedPaths(mail: ReceivedMail): string[] {
  const html = typeof mail.parsed.html === 'string' ? mail.parsed.html : '';
  return [...html.matchAll(/href="https?:\/\/[^/"]+(\/r\/[A-Za-z0-9_.-]+)"/g)].map((m) => m[1] as string);
}

describe('the click report of an issue', () => {
  let sink: SmtpSink;
  let s: SignedIn;
  let slug: string;
  /** The article of each tracked link of the whole edition and of the open-data edition, by position. */
  let articleAt: Map<string, (number | null)[]>;
  let clickedArticle: number;

  beforeAll(async () => {
    sink = await startSmtpSink();
    s = await signedInEditor({ role: 'editor', env: { SMTP_URL: sink.url, CLICK_SCANNER_SECONDS: '0' } });
    const { db } = s.services;
    slug = LONG_ISSUE.slug;
    await insertSubscribers(db, [
      { email: 'all@example.org' },
      { email: 'data@example.org', topics: ['open-data'] },
      { email: 'data2@example.org', topics: ['open-data'] },
    ]);
    expect((await sendIssue(s.services, slug)).outcome).toBe('finished');
    const links = await db.selectFrom('tracked_links').select(['edition_key', 'position', 'article_id']).execute();
    articleAt = new Map();
    for (const l of links) {
      const list = articleAt.get(l.edition_key) ?? [];
      list[l.position] = l.article_id;
      articleAt.set(l.edition_key, list);
    }
    const mailTo = (to: string) => sink.received.find((m) => m.envelopeTo.includes(to)) as ReceivedMail;
    const whole = trackedPaths(mailTo('all@example.org'));
    const data = trackedPaths(mailTo('data@example.org'));
    // Two links of one article in the whole issue, one of the same article in the open-data edition.
    const dataArticles = articleAt.get('open-data') ?? [];
    const position = dataArticles.findIndex((a) => a !== null);
    clickedArticle = dataArticles[position] as number;
    const wholePositions = (articleAt.get('*') ?? []).flatMap((a, i) => (a === clickedArticle ? [i] : []));
    expect(wholePositions.length).toBeGreaterThanOrEqual(2);
    // Each reader from their own address (the app trusts X-Forwarded-For from a proxy on loopback).
    const follow = async (path: string, ip: string) => {
      const res = await fetch(s.app.url + path, {
        redirect: 'manual',
        headers: { 'user-agent': BROWSER, 'x-forwarded-for': ip },
      });
      expect(res.status).toBe(302);
    };
    await follow(whole[wholePositions[0] as number] as string, '192.0.2.1');
    await follow(whole[wholePositions[1] as number] as string, '192.0.2.1');
    await follow(data[position] as string, '192.0.2.2');
    await s.services.clicks.flush(true);
  }, 120_000);

  afterAll(async () => {
    await s?.close();
    await sink?.close();
  });

  it('answers in the API with the counts per article, topic and edition (scope stats:read)', async () => {
    const { text } = await createApiKey(s.services.db, { name: 'stats', scopes: ['stats:read'], createdBy: 'test' });
    const res = await fetch(`${s.app.url}/api/v1/stats/clicks/${slug}`, {
      headers: { authorization: `Bearer ${text}` },
    });
    expect(res.status).toBe(200);
    const report = (await res.json()) as {
      editions: { key: string; sent: number; clicks: number }[];
      articles: { id: number; clicks: number; topics: string[]; byEdition: Record<string, number> }[];
      topics: {
        slug: string;
        readers: number;
        readerClicks: number;
        clicksPer100Readers: number;
        articleClicks: number;
      }[];
    };
    expect(report.editions).toEqual([
      expect.objectContaining({ key: '*', sent: 1, clicks: 2 }),
      expect.objectContaining({ key: 'open-data', sent: 2, clicks: 1 }),
    ]);
    const article = report.articles.find((a) => a.id === clickedArticle);
    expect(article).toMatchObject({ clicks: 3, byEdition: { '*': 2, 'open-data': 1 } });
    expect(report.articles.reduce((n, a) => n + a.clicks, 0)).toBe(3);
    const openData = report.topics.find((t) => t.slug === 'open-data');
    // Readers of open-data: the whole-issue reader and the two who chose it; all three clicks are theirs.
    expect(openData).toMatchObject({ readers: 3, readerClicks: 3, clicksPer100Readers: 100, articleClicks: 3 });
    const other = report.topics.find((t) => !(article?.topics ?? []).includes(t.slug));
    expect(other).toMatchObject({ readers: 1, readerClicks: 2, clicksPer100Readers: 200, articleClicks: 0 });

    const list = await fetch(`${s.app.url}/api/v1/stats/clicks`, { headers: { authorization: `Bearer ${text}` } });
    expect(await list.json()).toEqual({
      level: 'aggregate',
      issues: [{ slug, title: LONG_ISSUE.title, sentAt: expect.any(String), clicks: 3, machineClicks: 0 }],
    });
    const { text: other_ } = await createApiKey(s.services.db, {
      name: 'x',
      scopes: ['issues:read'],
      createdBy: 'test',
    });
    const refused = await fetch(`${s.app.url}/api/v1/stats/clicks/${slug}`, {
      headers: { authorization: `Bearer ${other_}` },
    });
    expect(refused.status).toBe(403);
    const missing = await fetch(`${s.app.url}/api/v1/stats/clicks/no-such-issue`, {
      headers: { authorization: `Bearer ${text}` },
    });
    expect(missing.status).toBe(404);
  });

  it('shows charts with their numbers to every editor, and each chart’s data as CSV', async () => {
    const list = await (await s.client.get('/admin/reports')).text();
    expect(list).toContain(`<a href="/admin/reports/issues/${slug}">${LONG_ISSUE.title}</a></th><td>3</td><td>0</td>`);
    const res = await s.client.get(`/admin/reports/issues/${slug}`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html.match(/<svg [^>]*role="img"/g)).toHaveLength(4);
    expect(html).not.toMatch(/<script|style="/);
    expect(html).toContain('<title>Clicks per 100 readers of each topic in');
    expect(html).toMatch(/<th scope="row">whole issue<\/th><td>1<\/td><td>2<\/td><td>200<\/td>/);

    const articles = await s.client.get(`/admin/reports/issues/${slug}/articles.csv`);
    expect(articles.headers.get('content-type')).toMatch(/^text\/csv/);
    const rows = (await articles.text()).trim().split('\n');
    expect(rows[0]).toBe('article_id,title,topics,edition,clicks');
    expect(rows.filter((r) => r.startsWith(`${clickedArticle},`)).map((r) => r.split(',').slice(-2).join(','))).toEqual(
      ['*,2', 'open-data,1'],
    );
    const topics = (await (await s.client.get(`/admin/reports/issues/${slug}/topics.csv`)).text()).trim().split('\n');
    expect(topics).toContain('open-data,Open Data,3,3,3,100');
    const editions = (await (await s.client.get(`/admin/reports/issues/${slug}/editions.csv`)).text())
      .trim()
      .split('\n');
    expect(editions).toEqual([
      'edition,sent,clicks,machine_clicks,opens,machine_opens',
      '*,1,2,0,0,0',
      'open-data,2,1,0,0,0',
    ]);
    expect((await s.client.get('/admin/reports/issues/nope')).status).toBe(404);
  });
});
