import { Router, type Request, type Response } from 'express';
import {
  correctIssueContent,
  deleteDraftIssue,
  issueDrift,
  isIssueRecord,
  republishIssue,
  withdrawIssue,
} from '../../src/content/content-repository.js';
import { nowIso } from '../../src/db/database.js';
import type { IssueRow } from '../../src/db/schema.js';
import { adminState, type AdminContext, field, handle, HttpError, redirectSeeOther } from '../context.js';
import { renderAdminPage } from '../page.js';
import { formatTime } from '../format.js';
import { issueBySlug } from './issue-lookup.js';

// What happens to an issue after its send, and to a draft nobody wants: publish a correction of a
// sent issue (web version only, nobody is mailed), withdraw it from the archive or put it back,
// delete a draft. Every change is logged with the editor who made it.

const MAX_NOTE = 500;

function requireSent(issue: IssueRow): void {
  if (issue.status !== 'sent') {
    throw new HttpError(
      409,
      isIssueRecord(issue)
        ? `This issue is ${issue.status}; a correction can be published once its send has finished.`
        : 'This issue has not been sent: change it in the composer instead.',
    );
  }
}

interface CorrectionPageState {
  note?: string;
  error?: string;
  status?: number;
}

async function showCorrectionForm(
  ctx: AdminContext,
  req: Request,
  res: Response,
  state: CorrectionPageState = {},
): Promise<void> {
  const issue = await issueBySlug(ctx, req);
  requireSent(issue);
  const drift = await issueDrift(ctx.services.db, issue.slug);
  const alsoChanged = [
    drift.details ? 'the issue’s details' : '',
    drift.publication ? 'the publication’s details' : '',
    drift.glossary ? 'the glossary' : '',
  ].filter((s) => s !== '');
  await renderAdminPage(
    ctx,
    req,
    res,
    'issues/correct',
    {
      issue,
      sentAt: formatTime(issue.sent_at, ctx.services.config.scheduleTz),
      articles: drift.articles.map((a) => ({ ...a, renamed: a.title !== a.sentTitle })),
      alsoChanged: alsoChanged.join(', '),
      nothingChanged: drift.articles.length === 0 && alsoChanged.length === 0,
      version: issue.updated_at,
      note: state.note ?? '',
      error: state.error,
      maxNote: MAX_NOTE,
    },
    { title: `Correct: ${issue.title} ${issue.period}`, section: 'issues', status: state.status },
  );
}

async function publishCorrection(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const issue = await issueBySlug(ctx, req);
  requireSent(issue);
  const note = field(req.body, 'note').trim().replace(/\s+/g, ' ');
  if (field(req.body, 'version') !== issue.updated_at) {
    return showCorrectionForm(ctx, req, res, {
      note,
      error:
        'The issue changed since this page was opened (another correction?). Check the changes below and publish again.',
      status: 409,
    });
  }
  if (note === '' || note.length > MAX_NOTE) {
    const error =
      note === ''
        ? 'Write the note readers will see, e.g. “The figure in article 3 is 12%, not 21%.”'
        : `The note is longer than ${MAX_NOTE} characters; keep it to what was corrected.`;
    return showCorrectionForm(ctx, req, res, { note, error, status: 400 });
  }
  const editor = adminState(req).session.editor;
  await ctx.services.db
    .transaction()
    .execute((trx) => correctIssueContent(trx, issue.id, { note, by: editor.email }, nowIso()));
  ctx.services.renderer.invalidate(issue.slug);
  ctx.services.logger.info({ issue: issue.slug, by: editor.id, note }, 'correction published');
  redirectSeeOther(res, `/admin/issues/${issue.slug}?notice=corrected`);
}

async function withdrawFromArchive(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const issue = await issueBySlug(ctx, req);
  const note = field(req.body, 'note').trim().replace(/\s+/g, ' ').slice(0, MAX_NOTE) || null;
  const result = await withdrawIssue(ctx.services.db, issue.slug, note, nowIso());
  if (result !== 'done') {
    throw new HttpError(
      409,
      issue.withdrawn_at
        ? 'This issue is already withdrawn.'
        : `This issue is ${issue.status}; only a sent issue is in the archive.`,
    );
  }
  ctx.services.renderer.invalidate(issue.slug);
  ctx.services.logger.info(
    { issue: issue.slug, by: adminState(req).session.editor.id, note },
    'issue withdrawn from the archive',
  );
  redirectSeeOther(res, `/admin/issues/${issue.slug}?notice=withdrawn`);
}

async function putBackInArchive(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const issue = await issueBySlug(ctx, req);
  if ((await republishIssue(ctx.services.db, issue.slug)) !== 'done') {
    throw new HttpError(409, 'This issue is not withdrawn; it is where it was.');
  }
  ctx.services.logger.info(
    { issue: issue.slug, by: adminState(req).session.editor.id },
    'issue put back in the archive',
  );
  redirectSeeOther(res, `/admin/issues/${issue.slug}?notice=republished`);
}

function requireDeletable(issue: IssueRow): void {
  if (isIssueRecord(issue)) {
    throw new HttpError(
      409,
      'This issue has been sent: it is a record of what subscribers received. Withdraw it from the archive instead.',
    );
  }
  if (issue.status === 'scheduled')
    throw new HttpError(409, 'This issue is scheduled: unschedule it first, then delete it.');
}

async function confirmDraftDeletion(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const issue = await issueBySlug(ctx, req);
  requireDeletable(issue);
  const articles = await ctx.services.db
    .selectFrom('issue_articles')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('issue_id', '=', issue.id)
    .executeTakeFirst();
  await renderAdminPage(
    ctx,
    req,
    res,
    'issues/delete',
    { issue, articleCount: Number(articles?.n ?? 0) },
    { title: `Delete: ${issue.title} ${issue.period}`, section: 'issues' },
  );
}

async function deleteDraft(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const issue = await issueBySlug(ctx, req);
  requireDeletable(issue);
  if ((await deleteDraftIssue(ctx.services.db, issue.slug)) !== 'done') {
    throw new HttpError(409, 'This issue changed meanwhile and was not deleted; open it again.');
  }
  ctx.services.renderer.invalidate(issue.slug);
  ctx.services.logger.info({ issue: issue.slug, by: adminState(req).session.editor.id }, 'draft issue deleted');
  redirectSeeOther(res, '/admin/issues?notice=issue-deleted');
}

export function createRecordRouter(ctx: AdminContext): Router {
  const router = Router();
  router.get(
    '/issues/:slug/correct',
    handle(ctx, (c, req, res) => showCorrectionForm(c, req, res)),
  );
  router.post('/issues/:slug/correct', handle(ctx, publishCorrection));
  router.post('/issues/:slug/withdraw', handle(ctx, withdrawFromArchive));
  router.post('/issues/:slug/republish', handle(ctx, putBackInArchive));
  router.get('/issues/:slug/delete', handle(ctx, confirmDraftDeletion));
  router.post('/issues/:slug/delete', handle(ctx, deleteDraft));
  return router;
}
