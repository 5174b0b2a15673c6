import { Router, type Request, type Response } from 'express';
import { issueHasArticles, listTopics } from '../../src/content/content-repository.js';
import type { IssueRow } from '../../src/db/schema.js';
import {
  cancelSend,
  pauseSend,
  resumeSend,
  ScheduleInPastError,
  scheduleIssue,
  SendControlError,
  sendTest,
  startSend,
  unscheduleIssue,
} from '../../scheduler/send-control.js';
import { formatScheduleTime, parseScheduleTime, ScheduleTimeError } from '../../scheduler/schedule.js';
import { adminState, type AdminContext, field, fieldList, handle, redirectSeeOther } from '../context.js';
import { renderAdminPage } from '../page.js';
import { formatCount } from '../format.js';
import { issueBySlug } from './issue-lookup.js';
import { issueAudience } from './audience.js';
import { dashboardData } from './send-dashboard.js';
import { type ConfirmedAction, isConfirmation, seenFields, staleConfirmation } from './send-confirmation.js';

/** A date and time (no seconds) in the service's zone, for the schedule form's fields. */
function slotOf(instant: Date | string, zone: string): { date: string; time: string } {
  const text = formatScheduleTime(instant, zone); // "YYYY-MM-DD HH:MM[:SS] Zone (UTC±hh:mm)"
  const [date = '', time = ''] = text.split(' ');
  return { date, time: time.slice(0, 5) };
}

/** Default for the schedule form: the current schedule, or the next full hour in the service's zone. */
function scheduleDefaults(issue: IssueRow, zone: string): { date: string; time: string } {
  if (issue.send_at) return slotOf(issue.send_at, zone);
  return slotOf(new Date(Math.ceil((Date.now() + 5 * 60_000) / 3_600_000) * 3_600_000), zone);
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

async function showSendPage(
  ctx: AdminContext,
  req: Request,
  res: Response,
  issue: IssueRow,
  state: SendPageState = {},
): Promise<void> {
  const { services } = ctx;
  const tz = services.config.scheduleTz;
  const dashboard = await dashboardData(ctx, issue);
  const values = {
    // The editor's own address; a fresh install's admin@localhost is accepted for test copies (see sendTest).
    testEmail: adminState(req).session.editor.email,
    ...scheduleDefaults(issue, tz),
    zone: tz,
    ...state.values,
  };
  const topics = await listTopics(services.db);
  const notStarted = issue.started_at === null;
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
      empty: notStarted && !(await issueHasArticles(services.db, issue.id)),
      canSchedule: notStarted && ['draft', 'scheduled', 'cancelled'].includes(issue.status),
      canSendNow: notStarted && ['draft', 'scheduled', 'cancelled'].includes(issue.status),
      isScheduled: issue.status === 'scheduled',
      canPause: issue.status === 'sending',
      canResume: issue.status === 'paused',
      canCancel: !notStarted && ['sending', 'paused'].includes(issue.status),
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
}

async function showSendPageRoute(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  await showSendPage(ctx, req, res, await issueBySlug(ctx, req));
}

async function sendStatusJson(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  res.json(await dashboardData(ctx, await issueBySlug(ctx, req)));
}

/** A refusal of the send API (wrong state, bad time), in the app's words, or undefined for any other error. */
function refusal(error: unknown, zone: string): string | undefined {
  if (error instanceof ScheduleInPastError) {
    return `${formatScheduleTime(error.when, zone)} has passed: choose a later time, or send now.`;
  }
  if (error instanceof SendControlError || error instanceof ScheduleTimeError) return error.message;
  return undefined;
}

/** Runs a control action; a refusal is shown on the send page (409), anything else is a real error. */
async function runControl(
  ctx: AdminContext,
  req: Request,
  res: Response,
  action: (issue: IssueRow) => Promise<unknown>,
  notice: string,
  errorState: (message: string) => SendPageState = (message) => ({ errors: { control: message } }),
): Promise<void> {
  const issue = await issueBySlug(ctx, req);
  try {
    await action(issue);
  } catch (error) {
    const message = refusal(error, ctx.services.config.scheduleTz);
    if (message === undefined) throw error;
    return showSendPage(ctx, req, res, await issueBySlug(ctx, req), { ...errorState(message), status: 409 });
  }
  redirectSeeOther(res, `/admin/issues/${issue.slug}/send?notice=${notice}`);
}

async function sendTestCopy(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const issue = await issueBySlug(ctx, req);
  const email = field(req.body, 'testEmail').trim();
  const topicSlugs = fieldList(req.body, 'topic');
  try {
    const result = await sendTest(ctx.services, issue.slug, email, topicSlugs.length ? topicSlugs : null);
    await showSendPage(ctx, req, res, issue, {
      values: { testEmail: email },
      testTopics: topicSlugs,
      result: `Sent “${result.subject}” to ${result.to} (${result.response}).`,
    });
  } catch (error) {
    if (!(error instanceof SendControlError)) throw error;
    await showSendPage(ctx, req, res, issue, {
      errors: { testEmail: error.message },
      values: { testEmail: email },
      testTopics: topicSlugs,
      status: 400,
    });
  }
}

function scheduleValues(ctx: AdminContext, body: unknown): { date: string; time: string; zone: string } {
  return {
    date: field(body, 'date').trim(),
    time: field(body, 'time').trim(),
    zone: field(body, 'zone').trim() || ctx.services.config.scheduleTz,
  };
}

/** The instant the schedule form names, or a ScheduleTimeError saying which field to fix. */
function scheduleInstant(ctx: AdminContext, values: { date: string; time: string; zone: string }): Date {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(values.date)) throw new ScheduleTimeError('Give the date as YYYY-MM-DD.');
  const time = /^(\d{2}:\d{2})(?::00)?$/.exec(values.time)?.[1];
  if (!time) throw new ScheduleTimeError('Give the time as HH:MM (24-hour clock).');
  return parseScheduleTime(`${values.date} ${time} ${values.zone}`, ctx.services.config.scheduleTz);
}

/**
 * Schedule: the first post shows what will happen (audience, subject, time) and asks to confirm;
 * the confirmed post schedules, unless the issue changed meanwhile.
 */
async function scheduleSend(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const values = scheduleValues(ctx, req.body);
  const scheduleError = (message: string): SendPageState => ({ errors: { schedule: message }, values });
  if (!isConfirmation(req.body)) {
    const issue = await issueBySlug(ctx, req);
    try {
      const when = scheduleInstant(ctx, values);
      if (when.getTime() < Date.now()) throw new ScheduleInPastError(when, 'in the past');
      return await showConfirmation(ctx, req, res, issue, { action: 'schedule', when, values });
    } catch (error) {
      const message = refusal(error, ctx.services.config.scheduleTz);
      if (message === undefined) throw error;
      return showSendPage(ctx, req, res, issue, { ...scheduleError(message), status: 400 });
    }
  }
  await runConfirmed(
    ctx,
    req,
    res,
    'schedule',
    (issue) => scheduleIssue(ctx.services, issue.slug, scheduleInstant(ctx, values)),
    'scheduled',
    scheduleError,
  );
}

/** Send now: the first post shows what will happen and asks to confirm; the confirmed post starts the send. */
async function sendNow(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  if (!isConfirmation(req.body)) {
    return showConfirmation(ctx, req, res, await issueBySlug(ctx, req), { action: 'now', when: null, values: {} });
  }
  await runConfirmed(ctx, req, res, 'now', (issue) => startSend(ctx.services, issue.slug), 'started');
}

/** Runs a confirmed action, or refuses a confirmation made on a page that no longer matches the issue. */
async function runConfirmed(
  ctx: AdminContext,
  req: Request,
  res: Response,
  action: ConfirmedAction,
  run: (issue: IssueRow) => Promise<unknown>,
  notice: string,
  errorState?: (message: string) => SendPageState,
): Promise<void> {
  const issue = await issueBySlug(ctx, req);
  const stale = staleConfirmation(req.body, issue, action);
  if (stale) {
    const message = `Nothing was ${action === 'now' ? 'sent' : 'scheduled'}: ${stale} Check the page and confirm again.`;
    return showSendPage(ctx, req, res, issue, { errors: { control: message }, status: 409 });
  }
  ctx.services.logger.info(
    { issue: issue.slug, by: adminState(req).session.editor.id, action },
    action === 'now' ? 'send confirmed' : 'schedule confirmed',
  );
  await runControl(ctx, req, res, run, notice, errorState);
}

async function showConfirmation(
  ctx: AdminContext,
  req: Request,
  res: Response,
  issue: IssueRow,
  request: { action: ConfirmedAction; when: Date | null; values: Record<string, string> },
): Promise<void> {
  const { services } = ctx;
  if (issue.started_at !== null || !['draft', 'scheduled', 'cancelled'].includes(issue.status)) {
    const message = `This issue is ${issue.status}; it has already been sent or is being sent.`;
    return showSendPage(ctx, req, res, issue, { errors: { control: message }, status: 409 });
  }
  if (!(await issueHasArticles(services.db, issue.id))) {
    const message = 'This issue has no article, so it cannot be sent or scheduled. Add articles in the composer first.';
    return showSendPage(ctx, req, res, issue, { errors: { control: message }, status: 409 });
  }
  const doc = await services.renderer.document(issue.slug);
  const audience = await issueAudience(services.db, doc);
  await renderAdminPage(
    ctx,
    req,
    res,
    'issues/confirm-send',
    {
      issue,
      isNow: request.action === 'now',
      action: `/admin/issues/${issue.slug}/send/${request.action === 'now' ? 'now' : 'schedule'}`,
      values: request.values,
      seen: seenFields(issue, request.action),
      subject: services.renderer.subject(doc),
      when: request.when ? formatScheduleTime(request.when, services.config.scheduleTz) : null,
      subscribers: formatCount(audience.subscribers),
      receiving: formatCount(audience.receiving),
      editions: formatCount(audience.editions),
      skipped: formatCount(audience.skipped),
      nobody: audience.receiving === 0,
      replacesSchedule:
        issue.status === 'scheduled' && issue.send_at
          ? formatScheduleTime(issue.send_at, services.config.scheduleTz)
          : null,
      mailMode: services.config.smtpUrl ? 'smtp' : 'outbox',
    },
    { title: `Confirm: ${issue.title} ${issue.period}`, section: 'issues' },
  );
}

async function unschedule(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  await runControl(ctx, req, res, (i) => unscheduleIssue(ctx.services, i.slug), 'unscheduled');
}
async function pause(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  await runControl(ctx, req, res, (i) => pauseSend(ctx.services, i.slug), 'paused');
}
async function resume(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  await runControl(ctx, req, res, (i) => resumeSend(ctx.services, i.slug), 'resumed');
}
async function cancel(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  await runControl(ctx, req, res, (i) => cancelSend(ctx.services, i.slug), 'cancelled');
}

export function createSendingRouter(ctx: AdminContext): Router {
  const router = Router();
  router.get('/issues/:slug/send', handle(ctx, showSendPageRoute));
  router.get('/issues/:slug/send/status.json', handle(ctx, sendStatusJson));
  router.post('/issues/:slug/send/test', handle(ctx, sendTestCopy));
  router.post('/issues/:slug/send/schedule', handle(ctx, scheduleSend));
  router.post('/issues/:slug/send/unschedule', handle(ctx, unschedule));
  router.post('/issues/:slug/send/now', handle(ctx, sendNow));
  router.post('/issues/:slug/send/pause', handle(ctx, pause));
  router.post('/issues/:slug/send/resume', handle(ctx, resume));
  router.post('/issues/:slug/send/cancel', handle(ctx, cancel));
  return router;
}
