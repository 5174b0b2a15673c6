import { z } from 'zod';
import { listIssues, UnknownIssueError } from '../src/content/content-repository.js';
import type { IssueRow } from '../src/db/schema.js';
import {
  cancelSend,
  pauseSend,
  resumeSend,
  ScheduleInPastError,
  scheduleIssue,
  SendControlError,
  sendStatus,
  startSend,
  unscheduleIssue,
  type IssueSendStatus,
} from '../scheduler/send-control.js';
import type { ApiContext } from './context.js';
import { conflict, notFound, validationProblem } from './problem.js';
import { defineRoute, type ApiAnswer, type ApiRoute } from './route.js';
import { issueStatusReportSchema, issueStatusSchema, issueSummarySchema, slugParams } from './schemas.js';

// /api/v1/issues: list, status, schedule, send, pause, resume, cancel. Each action is the same
// send-control function the CLI and the editors' app call, with its rules (an empty issue cannot
// be sent or scheduled; a sent issue is a record).

const TAG = 'Issues';

function toSummary(row: IssueRow) {
  return {
    slug: row.slug,
    title: row.title,
    edition: row.edition,
    period: row.period,
    status: row.status,
    sendAt: row.send_at,
    startedAt: row.started_at,
    sentAt: row.sent_at,
  };
}

function toStatusReport(status: IssueSendStatus) {
  return {
    slug: status.slug,
    title: status.title,
    status: status.status,
    sendAt: status.sendAt,
    startedAt: status.startedAt,
    sentAt: status.sentAt,
    pauseReason: status.pauseReason,
    counts: status.counts,
  };
}

/** Runs a send-control action; its refusals become problems that say why. */
async function control(slug: string, action: () => Promise<IssueSendStatus>, status = 200): Promise<ApiAnswer> {
  try {
    return { status, body: toStatusReport(await action()) };
  } catch (error) {
    if (error instanceof UnknownIssueError) throw notFound(`Issue "${slug}"`);
    if (error instanceof ScheduleInPastError) throw validationProblem([{ field: 'body.at', message: error.message }]);
    if (error instanceof SendControlError) throw conflict(error.message);
    throw error;
  }
}

const statusResponses = (what: string) => ({
  200: { description: what, schema: issueStatusReportSchema },
  404: { description: 'No such issue' },
  409: { description: "Not possible in the issue's current state (the detail says why)" },
});

const list = defineRoute({
  method: 'get',
  path: '/issues',
  operationId: 'listIssues',
  summary: 'Every issue, newest first',
  tag: TAG,
  scope: 'issues:read',
  query: z.object({ status: issueStatusSchema.optional() }),
  responses: { 200: { description: 'Issues', schema: z.object({ data: z.array(issueSummarySchema) }) } },
  async handler(ctx: ApiContext, { query }) {
    const rows = await listIssues(ctx.services.db, query.status ? [query.status] : undefined);
    return { status: 200, body: { data: rows.map(toSummary) } };
  },
});

const status = defineRoute({
  method: 'get',
  path: '/issues/{slug}',
  operationId: 'getIssueStatus',
  summary: 'Status, schedule and delivery counts of an issue',
  tag: TAG,
  scope: 'issues:read',
  params: slugParams,
  responses: {
    200: { description: 'The status', schema: issueStatusReportSchema },
    404: { description: 'No such issue' },
  },
  async handler(ctx, { params }) {
    return control(params.slug, () => sendStatus(ctx.services, params.slug));
  },
});

const schedule = defineRoute({
  method: 'post',
  path: '/issues/{slug}/schedule',
  operationId: 'scheduleIssue',
  summary: 'Set the send time',
  tag: TAG,
  scope: 'issues:send',
  params: slugParams,
  body: z
    .object({
      at: z.string().min(1).meta({
        description: 'ISO-8601 time with an offset or zone (2031-05-02T08:00:00+02:00); without one, SCHEDULE_TZ',
      }),
    })
    .meta({ id: 'Schedule' }),
  responses: statusResponses('Scheduled'),
  async handler(ctx, { params, body }) {
    return control(params.slug, () => scheduleIssue(ctx.services, params.slug, body.at));
  },
});

const unschedule = defineRoute({
  method: 'delete',
  path: '/issues/{slug}/schedule',
  operationId: 'unscheduleIssue',
  summary: 'Clear the send time (the issue is a draft again)',
  tag: TAG,
  scope: 'issues:send',
  params: slugParams,
  responses: statusResponses('Unscheduled'),
  async handler(ctx, { params }) {
    return control(params.slug, () => unscheduleIssue(ctx.services, params.slug));
  },
});

const send = defineRoute({
  method: 'post',
  path: '/issues/{slug}/send',
  operationId: 'sendIssue',
  summary: 'Send now (a paused send resumes)',
  description: 'Answers once the deliveries are planned; sending goes on in the server.',
  tag: TAG,
  scope: 'issues:send',
  params: slugParams,
  responses: {
    202: { description: 'Sending', schema: issueStatusReportSchema },
    404: { description: 'No such issue' },
    409: { description: 'Cannot be sent: already sent, cancelled, empty, or being sent elsewhere' },
  },
  async handler(ctx, { params }) {
    return control(params.slug, () => startSend(ctx.services, params.slug), 202);
  },
});

const pause = defineRoute({
  method: 'post',
  path: '/issues/{slug}/pause',
  operationId: 'pauseIssue',
  summary: 'Pause a send (messages in flight finish)',
  tag: TAG,
  scope: 'issues:send',
  params: slugParams,
  responses: statusResponses('Paused'),
  async handler(ctx, { params, key }) {
    return control(params.slug, () =>
      pauseSend(ctx.services, params.slug, `paused through the API (key "${key.name}")`),
    );
  },
});

const resume = defineRoute({
  method: 'post',
  path: '/issues/{slug}/resume',
  operationId: 'resumeIssue',
  summary: 'Resume a paused send',
  tag: TAG,
  scope: 'issues:send',
  params: slugParams,
  responses: statusResponses('Sending again'),
  async handler(ctx, { params }) {
    return control(params.slug, () => resumeSend(ctx.services, params.slug));
  },
});

const cancel = defineRoute({
  method: 'post',
  path: '/issues/{slug}/cancel',
  operationId: 'cancelIssue',
  summary: 'Cancel a scheduled or running send',
  tag: TAG,
  scope: 'issues:send',
  params: slugParams,
  responses: statusResponses('Cancelled'),
  async handler(ctx, { params }) {
    return control(params.slug, () => cancelSend(ctx.services, params.slug));
  },
});

export const issueRoutes: ApiRoute[] = [list, status, schedule, unschedule, send, pause, resume, cancel];
