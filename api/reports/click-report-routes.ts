import { stringify } from 'csv-stringify/sync';
import type { Request, Response, Router } from 'express';
import { handle, type AdminContext } from '../../editors/context.js';
import { renderAdminPage } from '../../editors/page.js';
import { UnknownIssueError } from '../../src/content/content-repository.js';
import { getTrackingSettings, trackedIssues } from '../../src/tracking/tracking-repository.js';
import { barChart } from './bar-chart.js';
import { issueClickReport, type IssueClickReport } from './click-report.js';

// Reports → clicks of an issue (every signed-in editor): clicks per article, per topic, edition by
// edition, and which topics' readers click most, as charts with their numbers; each chart's data as
// CSV. Counts only: the report never names a reader.

const editionName = (topics: readonly string[]) => (topics.length === 0 ? 'whole issue' : topics.join(', '));

type CsvName = 'articles' | 'topics' | 'editions';

/** The data of each chart, one row per bar (articles: one row per article and edition). */
export function clickReportCsv(report: IssueClickReport, name: CsvName): string {
  if (name === 'articles') {
    const rows = report.articles.flatMap((a) =>
      Object.keys(a.byEdition).length === 0
        ? [[a.id, a.title, a.topics.join(' '), '', 0]]
        : Object.entries(a.byEdition).map(([key, clicks]) => [a.id, a.title, a.topics.join(' '), key, clicks]),
    );
    return stringify(rows, { header: true, columns: ['article_id', 'title', 'topics', 'edition', 'clicks'] });
  }
  if (name === 'topics') {
    const rows = report.topics.map((t) => [
      t.slug,
      t.name,
      t.articleClicks,
      t.readers,
      t.readerClicks,
      t.clicksPer100Readers,
    ]);
    return stringify(rows, {
      header: true,
      columns: ['topic', 'topic_name', 'article_clicks', 'readers', 'reader_clicks', 'clicks_per_100_readers'],
    });
  }
  const rows = report.editions.map((e) => [e.key, e.sent, e.clicks, e.machineClicks, e.opens, e.machineOpens]);
  return stringify(rows, {
    header: true,
    columns: ['edition', 'sent', 'clicks', 'machine_clicks', 'opens', 'machine_opens'],
  });
}

async function reportOr404(ctx: AdminContext, slug: string): Promise<IssueClickReport | null> {
  try {
    return await issueClickReport(ctx.services.db, slug);
  } catch (error) {
    if (error instanceof UnknownIssueError) return null;
    throw error;
  }
}

async function showIssueClicks(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const report = await reportOr404(ctx, String(req.params.slug));
  if (!report) {
    return renderAdminPage(
      ctx,
      req,
      res,
      'message',
      { heading: 'No such issue', message: 'There is no issue at this address.' },
      { title: 'Not found', section: 'reports', status: 404 },
    );
  }
  const title = report.issue.title;
  const csv = (name: CsvName) => `/admin/reports/issues/${encodeURIComponent(report.issue.slug)}/${name}.csv`;
  await renderAdminPage(
    ctx,
    req,
    res,
    'reports-issue',
    {
      report,
      csv: { articles: csv('articles'), topics: csv('topics'), editions: csv('editions') },
      articleChart: barChart({
        label: `Readers' clicks per article of ${title}`,
        bars: report.articles.map((a) => ({ label: a.title, value: a.clicks })),
      }),
      topicChart: barChart({
        label: `Readers' clicks on the articles of each topic of ${title}`,
        bars: report.topics.map((t) => ({ label: t.name, value: t.articleClicks })),
      }),
      readerChart: barChart({
        label: `Clicks per 100 readers of each topic in ${title}: which topics' readers click most`,
        bars: [...report.topics]
          .sort((a, b) => b.clicksPer100Readers - a.clicksPer100Readers)
          .map((t) => ({ label: t.name, value: t.clicksPer100Readers })),
      }),
      editionChart: barChart({
        label: `Readers' clicks per edition of ${title}`,
        bars: report.editions.map((e) => ({ label: editionName(e.topics), value: e.clicks })),
      }),
      editions: report.editions.map((e) => ({
        ...e,
        name: editionName(e.topics),
        per100: e.sent === 0 ? 0 : Math.round((e.clicks * 1000) / e.sent) / 10,
      })),
    },
    { title: `Clicks: ${title}`, section: 'reports' },
  );
}

async function downloadIssueCsv(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const name = String(req.params.name) as CsvName;
  const report = await reportOr404(ctx, String(req.params.slug));
  if (!report || !['articles', 'topics', 'editions'].includes(name)) {
    res.status(404).type('text/plain').send('No such report.');
    return;
  }
  res
    .type('text/csv; charset=utf-8')
    .attachment(`clicks-${report.issue.slug}-${name}.csv`)
    .send(clickReportCsv(report, name));
}

/** The list on the Reports page: issues sent with tracking, and the level now. */
export async function clickReportList(ctx: AdminContext) {
  return {
    level: (await getTrackingSettings(ctx.services.db)).level,
    issues: await trackedIssues(ctx.services.db),
  };
}

export function addClickReportRoutes(ctx: AdminContext, router: Router): void {
  router.get('/reports/issues/:slug', handle(ctx, showIssueClicks));
  router.get('/reports/issues/:slug/:name.csv', handle(ctx, downloadIssueCsv));
}
