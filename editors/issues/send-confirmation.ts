import type { IssueRow } from '../../src/db/schema.js';
import { field } from '../context.js';

// "Send now" and "Schedule" ask for confirmation on a page that shows what will happen. That page
// carries what it was made from (the issue's status, schedule and content version); a confirmation
// whose page no longer matches the issue (another tab sent or scheduled it, someone edited it) is
// refused, never re-run.

export type ConfirmedAction = 'now' | 'schedule';

/** The hidden fields of a confirmation page: the state of the issue it describes. */
export function seenFields(issue: IssueRow, action: ConfirmedAction): Record<string, string> {
  return {
    confirm: action,
    seenStatus: issue.status,
    seenSendAt: issue.send_at ?? '',
    seenVersion: issue.updated_at,
  };
}

/** True for a post made from a confirmation page (as opposed to the send page's first click). */
export function isConfirmation(body: unknown): boolean {
  return field(body, 'confirm') !== '';
}

/** Why a confirmation no longer matches the issue, in the editor's words; undefined when it still does. */
export function staleConfirmation(body: unknown, issue: IssueRow, action: ConfirmedAction): string | undefined {
  if (field(body, 'confirm') !== action) return 'the confirmation was for another action.';
  if (field(body, 'seenStatus') !== issue.status) {
    return issue.status === 'draft' || issue.status === 'scheduled'
      ? `the issue is ${issue.status} now, not ${field(body, 'seenStatus') || 'as shown'} (changed in another tab or by another editor).`
      : `the issue is already ${issue.status} (started in another tab or by another editor).`;
  }
  if (field(body, 'seenSendAt') !== (issue.send_at ?? '')) return 'its schedule changed since the page was shown.';
  if (field(body, 'seenVersion') !== issue.updated_at) return 'the issue was edited since the page was shown.';
  return undefined;
}
