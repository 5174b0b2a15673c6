import type { Request, Response } from 'express';
import { getPublication } from '../src/content/content-repository.js';
import type { AdminContext } from './context.js';
import { adminState } from './context.js';

export type AdminSection =
  'home' | 'articles' | 'issues' | 'subscribers' | 'reports' | 'outbox' | 'settings' | 'account';

/** Fixed confirmations chosen by key, so a crafted link cannot put words in the app's mouth. */
const NOTICES: Record<string, string> = {
  saved: 'Saved.',
  created: 'Created.',
  removed: 'Removed.',
  'signed-out': 'You are signed out.',
  'password-changed': 'Your password was changed; other devices were signed out.',
  'password-chosen': 'Your password is set: the one-time password no longer works. Welcome.',
  scheduled: 'The issue is scheduled.',
  unscheduled: 'The schedule was cleared; the issue is a draft again.',
  paused: 'Sending is paused.',
  resumed: 'Sending resumed.',
  cancelled: 'The send was cancelled.',
  started: 'Sending started.',
  'test-sent': 'The test message was sent.',
  uploaded: 'The image was uploaded and added to the text.',
  corrected: 'The correction is published: the web version shows the new text and your note. Nobody was mailed.',
  withdrawn: 'The issue is withdrawn: the archive and the feed leave it out, and its address says it was withdrawn.',
  republished: 'The issue is back in the archive and the feed.',
  merged:
    'The topics are merged: subscribers keep their choice under the remaining topic, and the consent log says so.',
  'demo-removed': 'The demo is removed: its issue, articles, topics and glossary rows are gone.',
  'issue-deleted': 'The draft was deleted; its articles are still in the library.',
  unchanged: 'Nothing to save: it was already like this.',
  'unsubscribed-by-editor': 'Unsubscribed: no more issues go to this address. Only its owner can subscribe again.',
  erased:
    'The subscriber is erased: their row, topics, deliveries and consent log are gone; a keyed hash of the address keeps imports from adding it back.',
  'confirmation-sent': 'A fresh confirmation mail is on its way; the earlier link keeps working until it expires.',
  'saved-drafts-only':
    'Saved. Drafts holding this article show the change; the sent issues listed below keep the text they were sent with.',
};

export interface PageOptions {
  title: string;
  section: AdminSection;
  status?: number;
  scripts?: string[];
}

export async function renderAdminPage(
  ctx: AdminContext,
  req: Request,
  res: Response,
  page: string,
  data: Record<string, unknown>,
  options: PageOptions,
): Promise<void> {
  const state = adminState(req);
  const publication = await getPublication(ctx.services.db);
  const noticeKey = typeof req.query.notice === 'string' ? req.query.notice : '';
  const editor = state.session.editor;
  res
    .status(options.status ?? 200)
    .type('html')
    .send(
      ctx.services.views.render(
        `admin/${page}`,
        {
          ...data,
          title: options.title,
          publicationName: publication.name,
          editor,
          isAdmin: editor.role === 'admin',
          csrfToken: state.csrfToken,
          nav: { [options.section]: true },
          notice: NOTICES[noticeKey],
          scripts: options.scripts ?? [],
        },
        'admin',
      ),
    );
}

/** Pages shown before sign-in (no editor, no navigation). */
export async function renderPublicAdminPage(
  ctx: AdminContext,
  res: Response,
  page: string,
  data: Record<string, unknown>,
  options: { title: string; status?: number },
): Promise<void> {
  const publication = await getPublication(ctx.services.db);
  res
    .status(options.status ?? 200)
    .type('html')
    .send(
      ctx.services.views.render(
        `admin/${page}`,
        { ...data, title: options.title, publicationName: publication.name },
        'admin',
      ),
    );
}
