import type { IssueRow } from '../../src/db/schema.js';
import { sendStatus, type IssueSendStatus } from '../../scheduler/send-control.js';
import { formatScheduleTime } from '../../scheduler/schedule.js';
import { listFailedDeliveries } from '../../scheduler/delivery-repository.js';
import type { AdminContext } from '../context.js';

// The send page's live dashboard: counts, progress, rate and estimated finish, failures. The page
// renders it, and send-dashboard.js polls it as JSON while a send is scheduled, running or paused.

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
  /** The senders working on it (issue 13): where they run, what they hold, how fast, when seen. */
  senders: { host: string; pid: number; claims: number; rateText: string; lastSeenText: string; alive: boolean }[];
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
    senders: status.senders.map((sender) => ({
      host: sender.host,
      pid: sender.pid,
      claims: sender.claims,
      rateText: `${sender.rate.toFixed(1)}/s`,
      lastSeenText: `${Math.max(0, Math.round((Date.now() - sender.lastSeen.getTime()) / 1000))} s ago`,
      alive: sender.alive,
    })),
    live: ['scheduled', 'sending', 'paused'].includes(status.status),
  };
}
