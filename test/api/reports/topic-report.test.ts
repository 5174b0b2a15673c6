import { afterEach, describe, expect, it } from 'vitest';
import { topicReportCsv } from '../../../api/reports/report-routes.js';
import { EVERY_TOPIC, monthsEnding, topicReport } from '../../../api/reports/topic-report.js';
import { trendChart } from '../../../api/reports/trend-chart.js';
import type { Services } from '../../../src/app/services.js';
import { createSubscriber, resolveTopicSlugs } from '../../../subscribers/subscriber-repository.js';
import { importLongIssue } from '../../fixtures/long-issue.js';
import { makeTempEnv } from '../../helpers/temp-env.js';

// Subscribers per topic month by month, on a real SQLite file: who joined, who left, who was
// subscribed at each month's end, by the topics they hold now.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function person(
  services: Services,
  email: string,
  topics: string[],
  times: { confirmed: string | null; left?: string; status?: 'unsubscribed' | 'bounced' },
): Promise<void> {
  const { db } = services;
  const ids = (await resolveTopicSlugs(db, topics)).ids;
  const created = await createSubscriber(db, {
    email,
    name: '',
    status: times.confirmed ? 'active' : 'pending',
    topicIds: ids,
    action: 'subscribe',
    context: { source: 'cli' },
  });
  await db
    .updateTable('subscribers')
    .set({
      confirmed_at: times.confirmed,
      unsubscribed_at: times.left ?? null,
      status: times.left ? (times.status ?? 'unsubscribed') : times.confirmed ? 'active' : 'pending',
    })
    .where('id', '=', created.id)
    .execute();
}

describe('subscribers per topic over time', () => {
  it('counts joined, left and subscribed per month under the topics people hold', async () => {
    const env = makeTempEnv();
    cleanups.push(() => env.cleanup());
    const services = await env.open();
    cleanups.push(() => services.close());
    await importLongIssue(services);
    await person(services, 'a@example.org', ['open-data'], { confirmed: '2031-01-10T09:00:00.000Z' });
    await person(services, 'b@example.org', ['open-data'], {
      confirmed: '2031-04-05T09:00:00.000Z',
      left: '2031-05-20T09:00:00.000Z',
    });
    await person(services, 'c@example.org', [], { confirmed: '2031-06-01T00:00:00.000Z' });
    await person(services, 'd@example.org', ['open-data'], { confirmed: null });
    await person(services, 'e@example.org', ['open-data', 'annex'], {
      confirmed: '2030-12-01T09:00:00.000Z',
      left: '2031-03-01T09:00:00.000Z',
      status: 'bounced',
    });
    await person(services, 'f@example.org', ['annex'], {
      confirmed: '2031-05-01T09:00:00.000Z',
      left: '2031-06-02T09:00:00.000Z',
    });

    const report = await topicReport(services.db, { now: new Date('2031-06-15T12:00:00Z'), months: 3 });
    expect(report.months).toEqual(['2031-04', '2031-05', '2031-06']);
    const of = (slug: string) => report.topics.find((t) => t.slug === slug);
    expect(of('open-data')).toMatchObject({ joined: [1, 0, 0], left: [0, 1, 0], subscribed: [2, 1, 1] });
    expect(of('annex')).toMatchObject({ joined: [0, 1, 0], left: [0, 0, 1], subscribed: [0, 1, 0] });
    expect(of(EVERY_TOPIC)).toMatchObject({ joined: [0, 0, 1], left: [0, 0, 0], subscribed: [0, 0, 1] });
    expect(of('office-news')).toMatchObject({ joined: [0, 0, 0], left: [0, 0, 0], subscribed: [0, 0, 0] });

    const csv = topicReportCsv(report).split('\n');
    expect(csv[0]).toBe('topic,topic_name,month,joined,left,subscribed');
    expect(csv).toContain('open-data,Open Data,2031-05,0,1,1');
    expect(csv).toContain('*,Every topic (chose none),2031-06,1,0,1');
  });

  it('names months across a year end, and draws a labelled chart', () => {
    expect(monthsEnding(new Date('2031-02-03T00:00:00Z'), 4)).toEqual(['2030-11', '2030-12', '2031-01', '2031-02']);
    const svg = trendChart({ label: 'Open <data> & more', level: [2, 1, 1], up: [1, 0, 0], down: [0, 1, 0] });
    expect(svg).toMatch(/^<svg [^>]*role="img"/);
    expect(svg).toContain('<title>Open &lt;data&gt; &amp; more</title>');
    expect(svg.match(/<rect /g)).toHaveLength(2);
    expect(svg).not.toMatch(/style=|<script/);
  });
});
