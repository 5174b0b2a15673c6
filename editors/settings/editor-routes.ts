import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { EditorRole } from '../../src/db/schema.js';
import { adminState, type AdminContext, field, handle, HttpError, redirectSeeOther } from '../context.js';
import { renderAdminPage } from '../page.js';
import { formatTime } from '../format.js';
import {
  type AdminGuardedResult,
  deleteEditor,
  EDITOR_ROLES,
  EditorExistsError,
  findEditorById,
  insertEditor,
  listEditors,
  updateEditorRole,
  type Editor,
} from '../editor-repository.js';
import { generatePassword, hashPassword } from '../auth/passwords.js';

// Settings → Editors: invite editors with a one-time password, change roles, remove; at least
// one admin always stays.

const emailSchema = z.email();
const LAST_ADMIN = 'This is the last admin; make someone else admin first.';

interface EditorsPageState {
  errors?: Record<string, string>;
  invite?: { email: string; role: string };
  created?: { email: string; password: string; role: string };
  status?: number;
}

async function showEditors(ctx: AdminContext, req: Request, res: Response, state: EditorsPageState = {}) {
  const me = adminState(req).session.editor;
  const invite = state.invite ?? { email: '', role: 'editor' };
  await renderAdminPage(
    ctx,
    req,
    res,
    'settings/editors',
    {
      tab: 'editors',
      editors: (await listEditors(ctx.services.db)).map((e) => ({
        ...e,
        isMe: e.id === me.id,
        error: state.errors?.[`editor-${e.id}`],
        since: formatTime(e.createdAt, ctx.services.config.scheduleTz),
        roles: EDITOR_ROLES.map((r) => ({ value: r, selected: r === e.role })),
      })),
      errors: state.errors ?? {},
      invite,
      inviteRoles: EDITOR_ROLES.map((r) => ({ value: r, selected: r === invite.role })),
      created: state.created,
    },
    { title: 'Editors', section: 'settings', status: state.status },
  );
}

/** Invites an editor: the account gets a random password shown once, here, to pass on privately. */
async function inviteEditor(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const email = field(req.body, 'email').trim();
  const role = field(req.body, 'role');
  const invite = { email, role };
  if (!emailSchema.safeParse(email).success)
    return showEditors(ctx, req, res, {
      errors: { email: 'Give the new editor’s email address.' },
      invite,
      status: 400,
    });
  if (!EDITOR_ROLES.includes(role as EditorRole))
    return showEditors(ctx, req, res, { errors: { role: 'Choose admin or editor.' }, invite, status: 400 });
  const password = generatePassword();
  try {
    const editor = await insertEditor(
      ctx.services.db,
      email,
      role as EditorRole,
      await hashPassword(password),
      'one-time',
    );
    ctx.services.logger.info({ by: adminState(req).session.editor.id, editor: editor.id, role }, 'editor invited');
    await showEditors(ctx, req, res, { created: { email: editor.email, password, role } });
  } catch (error) {
    if (!(error instanceof EditorExistsError)) throw error;
    await showEditors(ctx, req, res, { errors: { email: `${error.message}.` }, invite, status: 400 });
  }
}

/** One form per editor row; `op` says whether to change the role or remove the editor. */
async function changeEditor(ctx: AdminContext, req: Request, res: Response): Promise<void> {
  const id = Number(req.params.id);
  const editor = Number.isInteger(id) ? await findEditorById(ctx.services.db, id) : undefined;
  if (!editor) throw new HttpError(404, 'This editor does not exist.');
  const action = field(req.body, 'op');
  if (action === 'remove') return removeEditor(ctx, req, res, editor);
  if (action === 'role') return changeEditorRole(ctx, req, res, editor);
  throw new HttpError(400, 'Unknown change; reload the page and try again.');
}

/** Shows a guarded change's refusal beside the editor's row; true when it was refused. */
async function refused(
  ctx: AdminContext,
  req: Request,
  res: Response,
  editor: Editor,
  result: AdminGuardedResult,
): Promise<boolean> {
  if (result === 'missing') throw new HttpError(404, 'This editor does not exist.');
  if (result === 'done') return false;
  await showEditors(ctx, req, res, { errors: { [`editor-${editor.id}`]: LAST_ADMIN }, status: 400 });
  return true;
}

async function removeEditor(ctx: AdminContext, req: Request, res: Response, editor: Editor): Promise<void> {
  const me = adminState(req).session.editor;
  if (editor.id === me.id) {
    return showEditors(ctx, req, res, {
      errors: { [`editor-${editor.id}`]: 'You cannot remove yourself; ask another admin.' },
      status: 400,
    });
  }
  if (await refused(ctx, req, res, editor, await deleteEditor(ctx.services.db, editor.id))) return;
  ctx.services.logger.info({ by: me.id, editor: editor.id }, 'editor removed');
  redirectSeeOther(res, '/admin/settings/editors?notice=removed');
}

async function changeEditorRole(ctx: AdminContext, req: Request, res: Response, editor: Editor): Promise<void> {
  const role = field(req.body, 'role');
  if (!EDITOR_ROLES.includes(role as EditorRole)) throw new HttpError(400, 'Choose admin or editor.');
  if (await refused(ctx, req, res, editor, await updateEditorRole(ctx.services.db, editor.id, role as EditorRole)))
    return;
  redirectSeeOther(res, '/admin/settings/editors?notice=saved');
}

export function createEditorSettingsRouter(ctx: AdminContext): Router {
  const router = Router();
  router.get(
    '/settings/editors',
    handle(ctx, (c, req, res) => showEditors(c, req, res)),
  );
  router.post('/settings/editors', handle(ctx, inviteEditor));
  router.post('/settings/editors/:id', handle(ctx, changeEditor));
  return router;
}
