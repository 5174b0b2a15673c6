import { Router, type Request, type Response } from 'express';
import { listTopics } from '../../src/content/content-repository.js';
import type { IssueRow } from '../../src/db/schema.js';
import {
  cancelSend,
  pauseSend,
  resumeSend,
  scheduleIssue,
  SendControlError,
  sendStatus,
  sendTest,
  startSend,
  unscheduleIssue,
  type IssueSendStatus,
} from '../../scheduler/send-control.js';
import { formatScheduleTime, parseScheduleTime, ScheduleTimeError } from '../../scheduler/schedule.js';
import { listFailedDeliveries } from '../../scheduler/delivery-repository.js';
import type { AdminContext } from '../context.js';
import { adminState, field, fieldList, redirectSeeOther } from '../context.js';
import { renderAdminPage } from '../page.js';
import { formatCount } from '../format.js';
import { issueBySlug } from './issue-lookup.js';

const FAILURES_SHOWN = 50;

export interface DashboardData {
  status: string;
  pauseReason: string | null;
  sendAtLocal: string | null;
  startedAt: string | null;
  sentAt: string | null;
  counts: IssueSendStatus['counts'];
  done: number;
  /** 0..100 of planned deliveries settled (sent, skipped or failed). */
  percent: number;
  /** Messages per second since the send started (null before any was sent). */
  rate: number | null;
  /** Seconds left at that rate. */
  etaSeconds: number | null;
  etaText: string;
  rateText: string;
  failures: { email: string; error: string }[];
  live: boolean;
}

function durationText(seconds: number): string {
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export async function dashboardData(ctx: AdminContext, issue: IssueRow): Promise<DashboardData> {
  const status = await sendStatus(ctx.services, issue.slug);
  const c = status.counts;
  const done = c.sent + c.skipped + c.failed;
  const started = status.startedAt ? Date.parse(status.startedAt) : NaN;
  const end = status.sentAt ? Date.parse(status.sentAt) : Date.now();
  const elapsed = (end - started) / 1000;
  const rate = Number.isFinite(elapsed) && elapsed > 0 && c.sent > 0 ? c.sent / elapsed : null;
  const remaining = c.pending + c.sending;
  const etaSeconds = rate && remaining > 0 && status.status === 'sending' ? remaining / rate : null;
  const failures = (await listFailedDeliveries(ctx.services.db, issue.id, FAILURES_SHOWN)).map((f) => ({
    email: f.email,
    error: f.error ?? '',
  }));
  return {
    status: status.status,
    pauseReason: status.pauseReason,
    sendAtLocal: status.sendAtLocal,
    startedAt: status.startedAt ? formatScheduleTime(status.startedAt, ctx.services.config.scheduleTz) : null,
    sentAt: status.sentAt ? formatScheduleTime(status.sentAt, ctx.services.config.scheduleTz) : null,
    counts: c,
    done,
    percent: c.planned > 0 ? Math.floor((done / c.planned) * 100) : 0,
    rate,
    etaSeconds,
    rateText: rate === null ? '–' : `${rate >= 10 ? Math.round(rate) : rate.toFixed(1)}/s`,
    etaText: etaSeconds === null ? (status.status === 'sent' ? 'done' : '–') : durationText(etaSeconds),
    failures,
    live: ['scheduled', 'sending', 'paused'].includes(status.status),
  };
}

/** Default for the schedule form: the next full hour in the service's zone. */
function suggestedSlot(zone: string): { date: string; time: string } {
  const next = new Date(Math.ceil((Date.now() + 5 * 60_000) / 3_600_000) * 3_600_000);
  const text = formatScheduleTime(next, zone); // "YYYY-MM-DD HH:MM Zone (UTC±hh:mm)"
  const [date = '', time = ''] = text.split(' ');
  return { date, time };
}

let zoneList: string[] | undefined;
function timeZones(current: string): string[] {
  zoneList ??= Intl.supportedValuesOf('timeZone');
  return zoneList.includes(current) ? zoneList : [current, ...zoneList];
}

interface SendPageState {
  errors?: Record<string, string>;
  values?: Record<string, string>;
  testTopics?: string[];
  result?: string;
  status?: number;
}

export function createSendingRouter(ctx: AdminContext): Router {
  const router = Router();
  const { services } = ctx;
  const tz = services.config.scheduleTz;

  const showPage = async (req: Request, res: Response, issue: IssueRow, state: SendPageState = {}) => {
    const dashboard = await dashboardData(ctx, issue);
    const slot = suggestedSlot(tz);
    const values = {
      testEmail: adminState(req).session.editor.email,
      date: slot.date,
      time: slot.time,
      zone: tz,
      ...state.values,
    };
    const topics = await listTopics(services.db);
    await renderAdminPage(
      ctx,
      req,
      res,
      'issues/send',
      {
        issue,
        dashboard,
        counts: Object.fromEntries(
          (Object.entries(dashboard.counts) as [string, number][]).map(([k, v]) => [k, formatCount(v)]),
        ),
        errors: state.errors ?? {},
        values,
        result: state.result,
        serviceZone: tz,
        zones: timeZones(tz).map((z) => ({ name: z, selected: z === values.zone })),
        topicChoices: topics.map((t) => ({
          slug: t.slug,
          name: t.name,
          checked: state.testTopics?.includes(t.slug) ?? false,
        })),
        canSchedule: issue.started_at === null && ['draft', 'scheduled', 'cancelled'].includes(issue.status),
        canSendNow: issue.started_at === null && ['draft', 'scheduled'].includes(issue.status),
        isScheduled: issue.status === 'scheduled',
        canPause: issue.status === 'sending',
        canResume: issue.status === 'paused',
        canCancel: ['scheduled', 'sending', 'paused'].includes(issue.status),
        hasHistory: dashboard.counts.planned > 0,
        mailMode: services.config.smtpUrl ? 'smtp' : 'outbox',
      },
      {
        title: `Send: ${issue.title} ${issue.period}`,
        section: 'issues',
        status: state.status,
        scripts: ['send-dashboard.js'],
      },
    );
  };

  router.get('/issues/:slug/send', async (req, res) => showPage(req, res, await issueBySlug(ctx, req)));

  router.get('/issues/:slug/send/status.json', async (req, res) => {
    const issue = await issueBySlug(ctx, req);
    res.json(await dashboardData(ctx, issue));
  });

  /** Runs a control action; a refusal (wrong state, bad time) is shown on the page, not as a crash. */
  const control = async (
    req: Request,
    res: Response,
    action: (issue: IssueRow) => Promise<unknown>,
    notice: string,
    state: (issue: IssueRow, message: string) => SendPageState,
  ) => {
    const issue = await issueBySlug(ctx, req);
    try {
      await action(issue);
    } catch (error) {
      if (error instanceof SendControlError || error instanceof ScheduleTimeError) {
        return showPage(req, res, await issueBySlug(ctx, req), { ...state(issue, error.message), status: 409 });
      }
      throw error;
    }
    redirectSeeOther(res, `/admin/issues/${issue.slug}/send?notice=${notice}`);
  };
  const generalError = (_issue: IssueRow, message: string): SendPageState => ({ errors: { control: message } });

  router.post('/issues/:slug/send/test', async (req, res) => {
    const issue = await issueBySlug(ctx, req);
    const email = field(req.body, 'testEmail').trim();
    const topicSlugs = fieldList(req.body, 'topic');
    try {
      const result = await sendTest(services, issue.slug, email, topicSlugs.length ? topicSlugs : null);
      await showPage(req, res, issue, {
        values: { testEmail: email },
        testTopics: topicSlugs,
        result: `Sent “${result.subject}” to ${result.to} (${result.response}).`,
      });
    } catch (error) {
      if (!(error instanceof SendControlError)) throw error;
      await showPage(req, res, issue, {
        errors: { testEmail: error.message },
        values: { testEmail: email },
        testTopics: topicSlugs,
        status: 400,
      });
    }
  });

  router.post('/issues/:slug/send/schedule', async (req, res) => {
    const values = {
      date: field(req.body, 'date').trim(),
      time: field(req.body, 'time').trim(),
      zone: field(req.body, 'zone').trim() || tz,
    };
    await control(
      req,
      res,
      async (issue) => {
        if (!/^\d{4}-\d{2}-\d{2}$/.test(values.date)) throw new ScheduleTimeError('Give the date as YYYY-MM-DD.');
        if (!/^\d{2}:\d{2}(:\d{2})?$/.test(values.time))
          throw new ScheduleTimeError('Give the time as HH:MM (24-hour clock).');
        const when = parseScheduleTime(`${values.date} ${values.time} ${values.zone}`, tz);
        await scheduleIssue(services, issue.slug, when);
      },
      'scheduled',
      (_issue, message) => ({ errors: { schedule: message }, values }),
    );
  });

  router.post('/issues/:slug/send/unschedule', (req, res) =>
    control(req, res, (i) => unscheduleIssue(services, i.slug), 'unscheduled', generalError),
  );
  router.post('/issues/:slug/send/now', (req, res) =>
    control(req, res, (i) => startSend(services, i.slug), 'started', generalError),
  );
  router.post('/issues/:slug/send/pause', (req, res) =>
    control(req, res, (i) => pauseSend(services, i.slug), 'paused', generalError),
  );
  router.post('/issues/:slug/send/resume', (req, res) =>
    control(req, res, (i) => resumeSend(services, i.slug), 'resumed', generalError),
  );
  router.post('/issues/:slug/send/cancel', (req, res) =>
    control(req, res, (i) => cancelSend(services, i.slug), 'cancelled', generalError),
  );

  return router;
}
