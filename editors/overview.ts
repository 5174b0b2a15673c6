import type { Request, Response } from 'express';
import { listIssues, listTopics } from '../src/content/content-repository.js';
import type { IssueRow } from '../src/db/schema.js';
import { countDeliveries } from '../scheduler/delivery-repository.js';
import { countIssueFeedback } from '../scheduler/bounces/feedback-repository.js';
import { subscriberChangesSince, type DailyChange } from '../subscribers/subscriber-growth.js';
import type { AdminContext } from './context.js';
import { formatCount, formatTime } from './format.js';
import { latestStartedIssue, scheduledIssues } from './issue-repository.js';
import { renderAdminPage } from './page.js';

// The editors' first page: who reads (active subscribers by topic), how the list grew over the
// last 90 days, how the last send went, and what goes out next; then every issue.

const DAY_MS = 86_400_000;
/** 13 weeks of 7 days: the 90 days before today, and today. */
export const GROWTH_WEEKS = 13;

export interface WeekGrowth {
  /** First and last UTC day of the week, YYYY-MM-DD. */
  from: string;
  to: string;
  joined: number;
  left: number;
  /** Active subscribers at the end of the week (today's count less the later weeks' changes). */
  activeAtEnd: number;
}

/** Buckets daily changes into GROWTH_WEEKS weeks ending today, and walks the active count back from today's. */
export function weeklyGrowth(changes: readonly DailyChange[], activeNow: number, today: Date): WeekGrowth[] {
  const lastDay = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate());
  const firstDay = lastDay - (GROWTH_WEEKS * 7 - 1) * DAY_MS;
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const weeks = Array.from({ length: GROWTH_WEEKS }, (_, i) => ({
    from: day(firstDay + i * 7 * DAY_MS),
    to: day(firstDay + (i * 7 + 6) * DAY_MS),
    joined: 0,
    left: 0,
    activeAtEnd: 0,
  }));
  for (const change of changes) {
    const index = Math.floor((Date.parse(`${change.day}T00:00:00Z`) - firstDay) / (7 * DAY_MS));
    const week = weeks[index];
    if (!week) continue;
    week.joined += change.joined;
    week.left += change.left;
  }
  let active = activeNow;
  for (let i = weeks.length - 1; i >= 0; i--) {
    const week = weeks[i];
    if (!week) continue;
    week.activeAtEnd = active;
    active -= week.joined - week.left;
  }
  return weeks;
}

/** The week-end counts as an SVG polyline's points in a 260×60 box (the table beside it carries the figures). */
function chartPoints(weeks: readonly WeekGrowth[]): string {
  const values = weeks.map((w) => w.activeAtEnd);
  const low = Math.min(...values);
  const high = Math.max(...values);
  const span = high - low || 1;
  const step = 260 / Math.max(1, weeks.length - 1);
  return values.map((v, i) => `${Math.round(i * step)},${Math.round(56 - ((v - low) / span) * 52)}`).join(' ');
}

function signed(n: number): string {
  return n > 0 ? `+${formatCount(n)}` : n < 0 ? `−${formatCount(-n)}` : '0';
}

async function lastSendFigures(ctx: AdminContext, issue: IssueRow | undefined) {
  if (!issue) return null;
  const { db, config } = ctx.services;
  const deliveries = await countDeliveries(db, issue.id);
  const feedback = await countIssueFeedback(db, issue.id);
  return {
    slug: issue.slug,
    title: issue.title,
    period: issue.period,
    status: issue.status,
    startedAt: formatTime(issue.started_at, config.scheduleTz),
    sentAt: formatTime(issue.sent_at, config.scheduleTz),
    sent: formatCount(deliveries.sent),
    failed: formatCount(deliveries.failed),
    bounced: formatCount(feedback.hard + feedback.soft),
    complaints: formatCount(feedback.complaints),
    waiting: deliveries.pending + deliveries.sending > 0 ? formatCount(deliveries.pending + deliveries.sending) : null,
  };
}

/** Everything the overview shows, as the template reads it. */
export async function loadOverview(ctx: AdminContext, now: Date) {
  const { db, config } = ctx.services;
  const tz = config.scheduleTz;
  const topics = await listTopics(db);
  const counts = await ctx.subscriberCounts.current();
  const active = counts.byStatus.active;
  const since = new Date(now.getTime() - (GROWTH_WEEKS * 7 - 1) * DAY_MS).toISOString().slice(0, 10);
  const weeks = weeklyGrowth(await subscriberChangesSince(db, `${since}T00:00:00.000Z`), active, now);
  const joined = weeks.reduce((sum, w) => sum + w.joined, 0);
  const left = weeks.reduce((sum, w) => sum + w.left, 0);
  const issues = await listIssues(db);
  return {
    subscribers: {
      active: formatCount(active),
      pending: formatCount(counts.byStatus.pending),
      anyPending: counts.byStatus.pending > 0,
      noTopic: formatCount(counts.topics.noTopic),
      topics: topics.map((t) => ({ name: t.name, count: formatCount(counts.topics.byTopic.get(t.id) ?? 0) })),
    },
    growth: {
      joined: formatCount(joined),
      left: formatCount(left),
      net: signed(joined - left),
      startedWith: formatCount(active - (joined - left)),
      weeks: weeks.map((w) => ({ ...w, net: signed(w.joined - w.left), activeAtEnd: formatCount(w.activeAtEnd) })),
      chart: chartPoints(weeks),
    },
    lastSend: await lastSendFigures(ctx, await latestStartedIssue(db)),
    next: (await scheduledIssues(db, 5)).map((i) => ({
      slug: i.slug,
      title: i.title,
      period: i.period,
      when: formatTime(i.send_at, tz),
    })),
    issues: issues.map((i) => ({
      slug: i.slug,
      title: i.title,
      period: i.period,
      status: i.status,
      when: formatTime(i.sent_at ?? i.send_at ?? i.updated_at, tz),
    })),
  };
}

export async function showOverview(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  await renderAdminPage(ctx, req, res, 'home', await loadOverview(ctx, new Date()), {
    title: 'Overview',
    section: 'home',
  });
}
