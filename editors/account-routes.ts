import { Router, type Request, type Response } from 'express';
import type { AdminContext } from './context.js';
import { adminState, field, redirectSeeOther } from './context.js';
import { renderAdminPage } from './page.js';
import { findEditorByEmail, updateEditorPassword } from './editor-repository.js';
import { hashPassword, passwordProblem, verifyPassword } from './auth/passwords.js';
import { countWrongPassword, createPasswordChangeLimiter } from './auth/login-limiter.js';

/** The signed-in editor's own account: change the password (e.g. the first admin's one-time one). */
export function createAccountRouter(ctx: AdminContext): Router {
  const router = Router();
  const show = async (req: Request, res: Response, errors: Record<string, string> = {}, status = 200) =>
    renderAdminPage(
      ctx,
      req,
      res,
      'account',
      { errors, oneTime: adminState(req).session.editor.mustChangePassword },
      { title: 'Your account', section: 'account', status },
    );

  router.get('/account', (req, res) => show(req, res));

  const limiter = createPasswordChangeLimiter(
    { db: ctx.services.db, secret: ctx.services.config.secretKey },
    (req) => adminState(req).session.editor.id,
    (req, res, retryAfter) => {
      res.setHeader('Retry-After', String(retryAfter));
      void show(
        req,
        res,
        { current: `Too many wrong passwords. Wait ${Math.round(retryAfter / 60)} minutes before trying again.` },
        429,
      );
    },
  );

  router.post('/account/password', limiter, async (req, res) => {
    const { session } = adminState(req);
    const current = field(req.body, 'current');
    const next = field(req.body, 'password');
    const repeat = field(req.body, 'repeat');
    const editor = await findEditorByEmail(ctx.services.db, session.editor.email);
    const errors: Record<string, string> = {};
    if (!editor || !(await verifyPassword(current, editor.passwordHash))) {
      errors.current = 'This is not your current password.';
      countWrongPassword(req);
    }
    const problem = passwordProblem(next);
    if (problem) errors.password = `The new password ${problem}.`;
    else if (session.editor.mustChangePassword && next === current)
      errors.password = 'Choose a new password of your own, not the one-time password.';
    else if (next !== repeat) errors.repeat = 'The two new passwords differ.';
    if (Object.keys(errors).length > 0 || !editor) return show(req, res, errors, 400);
    await updateEditorPassword(ctx.services.db, editor.id, await hashPassword(next));
    await ctx.sessions.destroyOthers(session);
    redirectSeeOther(
      res,
      session.editor.mustChangePassword ? '/admin?notice=password-chosen' : '/admin/account?notice=password-changed',
    );
  });
  return router;
}
