import type { Request } from 'express';
import { getIssueRow } from '../../src/content/content-repository.js';
import type { IssueRow } from '../../src/db/schema.js';
import { type AdminContext, HttpError, notFound } from '../context.js';
import { EDITABLE_STATUSES } from '../issue-repository.js';

/** The issue named by the route's `:slug`, or a 404 page. */
export async function issueBySlug(ctx: AdminContext, req: Request): Promise<IssueRow> {
  const slug = req.params.slug;
  const issue = typeof slug === 'string' ? await getIssueRow(ctx.services.db, slug) : undefined;
  if (!issue) throw notFound('This issue');
  return issue;
}

/** Refuses changes to an issue whose send has started: its content is what was sent. */
export function assertEditable(issue: IssueRow): void {
  if (!EDITABLE_STATUSES.includes(issue.status)) {
    throw new HttpError(409, `This issue is ${issue.status}; only draft and scheduled issues can be changed.`);
  }
}
