import { Router, type Request, type Response } from 'express';
import {
  countIssueFeedback,
  listIssueFeedback,
  listUnmatchedFeedback,
  type FeedbackEntry,
  type FeedbackKind,
  type FeedbackOutcome,
} from '../../scheduler/bounces/feedback-repository.js';
import { handle, type AdminContext } from '../context.js';
import { formatCount, formatTime } from '../format.js';
import { renderAdminPage } from '../page.js';
import { issueBySlug } from './issue-lookup.js';

// What came back from an issue (issue 14): bounces (hard and soft), complaints and replies nobody
// could classify, each with its diagnostic; and the reports that named no delivery at all.

const SHOWN = 500;

const KIND_LABELS: Record<FeedbackKind, string> = {
  hard: 'hard bounce',
  soft: 'soft bounce',
  complaint: 'complaint',
  unclassified: 'unclassified',
};

const OUTCOME_LABELS: Record<FeedbackOutcome, string> = {
  bounced: 'marked bounced',
  complained: 'withdrawn (complaint)',
  'soft-counted': 'counted',
  'already-withdrawn': 'already withdrawn',
  'kept-for-editor': 'kept for you',
  'no-subscriber': 'named no subscriber we can vouch for',
};

/** One event as the pages show it (Handlebars escapes every value). */
export function feedbackView(entry: FeedbackEntry, tz: string) {
  return {
    ...entry,
    kindLabel: KIND_LABELS[entry.kind],
    outcomeLabel: OUTCOME_LABELS[entry.outcome],
    when: formatTime(entry.receivedAt, tz),
  };
}

export function createFeedbackRouter(ctx: AdminContext): Router {
  const router = Router();
  router.get('/issues/:slug/bounces', handle(ctx, showIssueFeedback));
  router.get('/bounces/unmatched', handle(ctx, showUnmatchedFeedback));
  return router;
}

async function showIssueFeedback(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const { db, config } = ctx.services;
  const issue = await issueBySlug(ctx, req);
  const counts = await countIssueFeedback(db, issue.id);
  const entries = (await listIssueFeedback(db, issue.id, SHOWN)).map((e) => feedbackView(e, config.scheduleTz));
  await renderAdminPage(
    ctx,
    req,
    res,
    'issues/bounces',
    {
      issue,
      counts: {
        hard: formatCount(counts.hard),
        soft: formatCount(counts.soft),
        complaints: formatCount(counts.complaints),
        unclassified: formatCount(counts.unclassified),
      },
      events: entries.filter((e) => e.kind !== 'unclassified'),
      replies: entries.filter((e) => e.kind === 'unclassified'),
      pauseReason: issue.pause_reason,
    },
    { title: `Bounces · ${issue.title}`, section: 'issues' },
  );
}

async function showUnmatchedFeedback(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const { db, config } = ctx.services;
  const entries = (await listUnmatchedFeedback(db, SHOWN)).map((e) => feedbackView(e, config.scheduleTz));
  await renderAdminPage(
    ctx,
    req,
    res,
    'issues/bounces-unmatched',
    { entries },
    {
      title: 'Reports that named no delivery',
      section: 'issues',
    },
  );
}
