import { afterEach, describe, expect, it } from 'vitest';
import { REPORT_MONTHS } from '../../../api/reports/report-routes.js';
import { createSubscriber, resolveTopicSlugs } from '../../../subscribers/subscriber-repository.js';
import { signedInEditor, type SignedIn } from '../../editors/admin-helpers.js';

// Reports in the editors' app: every editor sees subscribers per topic as charts with numbers,
// and downloads the same numbers as CSV.

let s: SignedIn | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

describe('reports in the app', () => {
  it('shows each topic as a labelled chart with its numbers, to editors too, and the CSV holds them', async () => {
    s = await signedInEditor({ role: 'editor', withLongIssue: true });
    const { db } = s.services;
    for (const email of ['one@example.org', 'two@example.org']) {
      await createSubscriber(db, {
        email,
        name: '',
        status: 'active',
        topicIds: (await resolveTopicSlugs(db, ['open-data'])).ids,
        action: 'subscribe',
        context: { source: 'cli' },
      });
    }
    const res = await s.client.get('/admin/reports');
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('aria-current="page">Reports</a>');
    const row =
      /<th scope="row">Open Data<\/th>\s*<td>(<svg[\s\S]*?<\/svg>)<\/td>\s*<td>(\d+)<\/td>\s*<td>(\d+)<\/td>\s*<td>(\d+)<\/td>/.exec(
        html,
      );
    expect(row?.[1]).toMatch(/role="img"/);
    expect(row?.[1]).toContain('<title>Open Data: 0 subscribed at the end of');
    expect(row?.slice(2)).toEqual(['2', '2', '0']);
    expect(html).toContain('<th scope="row">Every topic (chose none)</th>');

    const csv = await s.client.get('/admin/reports/topics.csv');
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(csv.headers.get('content-disposition')).toMatch(
      /^attachment; filename="?subscribers-per-topic-\d{4}-\d{2}-to-\d{4}-\d{2}\.csv"?$/,
    );
    const lines = (await csv.text()).trim().split('\n');
    const month = new Date().toISOString().slice(0, 7);
    expect(lines).toContain(`open-data,Open Data,${month},2,0,2`);
    expect(lines.filter((l) => l.startsWith('open-data,'))).toHaveLength(REPORT_MONTHS);
  });
});
