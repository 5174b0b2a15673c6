import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app/services.js';
import { addSubscriber } from '../../subscribers/add-subscriber.js';
import { findSubscriberByEmail } from '../../subscribers/subscriber-repository.js';
import { subscriberChangesSince } from '../../subscribers/subscriber-growth.js';
import { insertIssue, loadComposition, saveComposition } from '../../editors/issue-repository.js';
import { GROWTH_WEEKS, weeklyGrowth } from '../../editors/overview.js';
import { scheduleIssue, sendIssue } from '../../scheduler/send-control.js';
import { createFeedbackProcessor } from '../../scheduler/bounces/bounce-intake.js';
import { LONG_ISSUE } from '../fixtures/long-issue.js';
import { smtpError, startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { signedInEditor, type SignedIn } from './admin-helpers.js';

// The overview: active subscribers by topic, growth over 90 days, the last send's figures and
// what is scheduled next, from a real database, a real send over loopback SMTP and a real bounce.

const DAY_MS = 86_400_000;

function daysAgo(n: number): string {
  return new Date(Date.now() - n * DAY_MS).toISOString();
}

/** The text of the element carrying data-figure="name" (the figures the page states). */
function figure(html: string, name: string): string | undefined {
  return new RegExp(`data-figure="${name}">([^<]*)<`).exec(html)?.[1];
}

describe('weekly growth', () => {
  it('buckets days into 13 weeks ending today and walks the active count back', () => {
    const today = new Date('2026-11-26T15:00:00Z');
    const weeks = weeklyGrowth(
      [
        { day: '2026-08-28', joined: 4, left: 0 }, // the first day of the window (90 days before today)
        { day: '2026-08-27', joined: 9, left: 9 }, // before it: ignored
        { day: '2026-11-20', joined: 2, left: 1 },
        { day: '2026-11-26', joined: 1, left: 3 },
      ],
      100,
      today,
    );
    expect(weeks).toHaveLength(GROWTH_WEEKS);
    expect(weeks[0]).toMatchObject({ from: '2026-08-28', to: '2026-09-03', joined: 4, left: 0, activeAtEnd: 101 });
    expect(weeks.at(-1)).toMatchObject({ from: '2026-11-20', to: '2026-11-26', joined: 3, left: 4, activeAtEnd: 100 });
    expect(weeks.at(-2)?.activeAtEnd).toBe(101);
  });
});

describe('the overview page', () => {
  let signedIn: SignedIn;
  let services: Services;
  let sink: SmtpSink;

  beforeAll(async () => {
    // The mail server refuses one reader for good: the send's "failed" figure.
    sink = await startSmtpSink({
      reply: (_n, to) => (to.includes('gone@example.org') ? smtpError(550, 'No such mailbox') : undefined),
    });
    signedIn = await signedInEditor({ env: { SMTP_URL: sink.url } });
    services = signedIn.services;
    const key = signedIn.env.config.secretKey;
    const add = (email: string, topics: string[]) =>
      addSubscriber(services.db, key, { email, topics }, { source: 'cli' });
    await add('old@example.org', ['privacy-security']);
    await add('both@example.org', ['privacy-security', 'open-data']);
    await add('all@example.org', []);
    await add('gone@example.org', ['open-data']);
    await add('left@example.org', ['open-data']);
    const set = (email: string, values: { confirmed_at?: string; unsubscribed_at?: string; status?: 'unsubscribed' }) =>
      services.db.updateTable('subscribers').set(values).where('email', '=', email).execute();
    await set('old@example.org', { confirmed_at: daysAgo(120) }); // before the 90 days
    await set('both@example.org', { confirmed_at: daysAgo(20) });
    await set('all@example.org', { confirmed_at: daysAgo(3) });
    await set('gone@example.org', { confirmed_at: daysAgo(200) });
    await set('left@example.org', { confirmed_at: daysAgo(150), unsubscribed_at: daysAgo(10), status: 'unsubscribed' });
  });
  afterAll(async () => {
    await signedIn?.close();
    await sink?.close();
  });

  it('reads joins and departures per day from the subscribers’ own dates', async () => {
    const changes = await subscriberChangesSince(services.db, daysAgo(90));
    expect(changes.reduce((s, c) => s + c.joined, 0)).toBe(2);
    expect(changes.reduce((s, c) => s + c.left, 0)).toBe(1);
  });

  it('shows active subscribers by topic and the growth over 90 days, before anything is sent', async () => {
    const html = await (await signedIn.client.get('/admin')).text();
    expect(figure(html, 'active')).toBe('4');
    const row = (topic: string) =>
      new RegExp(`<th scope="row">${topic}</th><td class="num">(\\d+)</td>`).exec(html)?.[1];
    const topics = await services.db.selectFrom('topics').select(['slug', 'name']).execute();
    const topicName = (slug: string) => (topics.find((t) => t.slug === slug)?.name ?? slug).replaceAll('&', '&amp;');
    expect(row(topicName('privacy-security'))).toBe('2');
    expect(row(topicName('open-data'))).toBe('2');
    expect(row(topicName('energy-and-climate'))).toBe('0');
    expect(html).toMatch(/Every topic <span class="hint">\(chose none\)<\/span><\/th><td class="num">1</);
    expect(figure(html, 'joined')).toBe('2');
    expect(figure(html, 'left')).toBe('1');
    expect(figure(html, 'net')).toBe('+1');
    expect(html).toContain('from 3 to 4 active');
    expect(html).toMatch(/<polyline points="(\d+,\d+ ){12}\d+,\d+"/);
    expect(html).toContain('Nothing has been sent yet.');
    expect(html).toContain('Nothing is scheduled.');
  });

  it('shows the last send’s sent, failed and bounced figures, and the next scheduled issue', async () => {
    const report = await sendIssue(services, LONG_ISSUE.slug);
    expect(report.outcome).toBe('finished');
    expect(sink.received.map((m) => m.envelopeTo[0]).sort()).toEqual([
      'all@example.org',
      'both@example.org',
      'old@example.org',
    ]);
    const issue = await services.db
      .selectFrom('issues')
      .select('id')
      .where('slug', '=', LONG_ISSUE.slug)
      .executeTakeFirstOrThrow();
    const old = await findSubscriberByEmail(services.db, 'old@example.org');
    const bounce = await createFeedbackProcessor(services).apply({
      source: 'postmark',
      eventId: 'overview-1',
      kind: 'hard',
      delivery: { issueId: issue.id, subscriberId: old?.id ?? 0 },
      recipient: 'old@example.org',
      recipientTrusted: true,
      status: '5.1.1',
    });
    expect(bounce.outcome).toBe('bounced');

    const nextId = await insertIssue(services.db, 'next-one', {
      title: 'The Next One',
      edition: '',
      period: 'December',
      editorNoteMarkdown: '',
    });
    const sent = await loadComposition(services.db, issue.id);
    await saveComposition(services.db, nextId, {
      sections: sent.sections.slice(0, 1),
      articles: sent.articles.slice(0, 1),
    });
    await scheduleIssue(services, 'next-one', new Date(Date.now() + 3 * DAY_MS));

    const html = await (await signedIn.client.get('/admin')).text();
    expect(html).toContain(`<a href="/admin/issues/${LONG_ISSUE.slug}/send">`);
    expect(figure(html, 'sent')).toBe('3');
    expect(figure(html, 'failed')).toBe('1');
    expect(figure(html, 'bounced')).toBe('1');
    expect(figure(html, 'complaints')).toBe('0');
    expect(html).toMatch(
      /<a href="\/admin\/issues\/next-one\/send">The Next One · December<\/a>: \w{3}, \d+ \w{3} \d{4}/,
    );
    // The hard bounce withdrew old@ (a departure today); a refused message alone withdraws nobody.
    expect(figure(html, 'active')).toBe('3');
    expect(figure(html, 'left')).toBe('2');
    expect(figure(html, 'net')).toBe('0');
  });
});
