import { stringify } from 'csv-stringify/sync';
import { Router, type Request, type Response } from 'express';
import { handle, type AdminContext } from '../../editors/context.js';
import { renderAdminPage } from '../../editors/page.js';
import { topicReport, type TopicReport } from './topic-report.js';
import { trendChart } from './trend-chart.js';
import { addClickReportRoutes, clickReportList } from './click-report-routes.js';

// Reports (every signed-in editor): subscribers per topic over the last twelve months, as small
// charts with their numbers, and the same data as CSV; the issues sent with click tracking, each
// with its own click report (click-report-routes.ts).

export const REPORT_MONTHS = 12;

const sum = (list: readonly number[]) => list.reduce((a, b) => a + b, 0);

/** One row per topic and month: what the chart draws. */
export function topicReportCsv(report: TopicReport): string {
  const rows = report.topics.flatMap((t) =>
    report.months.map((month, i) => [t.slug, t.name, month, t.joined[i] ?? 0, t.left[i] ?? 0, t.subscribed[i] ?? 0]),
  );
  return stringify(rows, { header: true, columns: ['topic', 'topic_name', 'month', 'joined', 'left', 'subscribed'] });
}

async function showReports(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const report = await topicReport(ctx.services.db, { now: new Date(), months: REPORT_MONTHS });
  const first = report.months[0] ?? '';
  const last = report.months.at(-1) ?? '';
  await renderAdminPage(
    ctx,
    req,
    res,
    'reports',
    {
      from: first,
      to: last,
      topics: report.topics.map((t) => ({
        ...t,
        now: t.subscribed.at(-1) ?? 0,
        joinedTotal: sum(t.joined),
        leftTotal: sum(t.left),
        chart: trendChart({
          label: `${t.name}: ${t.subscribed[0] ?? 0} subscribed at the end of ${first}, ${t.subscribed.at(-1) ?? 0} now; ${sum(t.joined)} joined and ${sum(t.left)} left since ${first}`,
          level: t.subscribed,
          up: t.joined,
          down: t.left,
        }),
      })),
      clicks: await clickReportList(ctx),
    },
    { title: 'Reports', section: 'reports' },
  );
}

async function downloadCsv(ctx: AdminContext, _req: Request, res: Response): Promise<void> {
  const report = await topicReport(ctx.services.db, { now: new Date(), months: REPORT_MONTHS });
  res
    .type('text/csv; charset=utf-8')
    .attachment(`subscribers-per-topic-${report.months[0] ?? ''}-to-${report.months.at(-1) ?? ''}.csv`)
    .send(topicReportCsv(report));
}

/** Mounted by the web root into the editors' app (see createAdminRouter's extensions). */
export function createReportRouter(ctx: AdminContext): Router {
  const router = Router();
  router.get('/reports', handle(ctx, showReports));
  router.get('/reports/topics.csv', handle(ctx, downloadCsv));
  addClickReportRoutes(ctx, router);
  return router;
}
