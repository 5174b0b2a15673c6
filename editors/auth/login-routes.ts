import { Router, type Request, type Response } from 'express';
import { readCookie } from '../../src/http/cookies.js';
import { z } from 'zod';
import type { AdminContext } from '../context.js';
import { field, redirectSeeOther } from '../context.js';
import { renderPublicAdminPage } from '../page.js';
import { findEditorByEmail } from '../editor-repository.js';
import { decoyHash, verifyPassword } from './passwords.js';
import {
  LOGIN_NONCE_COOKIE,
  loginCsrfToken,
  newLoginNonce,
  verifyLoginCsrfToken,
  verifySessionCsrfToken,
  CSRF_FIELD,
} from './csrf.js';
import { createLoginLimiters } from './login-limiter.js';
import { SESSION_COOKIE } from './session-store.js';

/** Only same-app paths are followed after sign-in (no open redirect). */
export function safeNext(value: string): string {
  return /^\/admin(\/[A-Za-z0-9\-._~%/?=&,;+]*)?$/.test(value) && !value.startsWith('//') ? value : '/admin';
}

const loginSchema = z.object({
  email: z.string().trim().min(1, 'Enter your email address').max(320),
  password: z.string().min(1, 'Enter your password').max(200),
});

export function createLoginRouter(ctx: AdminContext): Router {
  const router = Router();
  const { config } = ctx.services;

  const showForm = async (
    req: Request,
    res: Response,
    extra: { status?: number; error?: string; email?: string; next?: string },
  ): Promise<void> => {
    const nonce = newLoginNonce();
    res.cookie(LOGIN_NONCE_COOKIE, nonce, {
      httpOnly: true,
      sameSite: 'lax',
      secure: config.baseUrl.startsWith('https:'),
      path: '/admin',
      maxAge: 2 * 3600_000,
    });
    await renderPublicAdminPage(
      ctx,
      res,
      'login',
      {
        loginToken: loginCsrfToken(config.secretKey, nonce),
        error: extra.error,
        email: extra.email ?? '',
        next: safeNext(extra.next ?? field(req.query, 'next')),
        signedOut: req.query.notice === 'signed-out',
      },
      { title: 'Sign in', status: extra.status },
    );
  };

  router.get('/login', async (req, res) => {
    if (await ctx.sessions.lookup(readCookie(req, SESSION_COOKIE))) return redirectSeeOther(res, '/admin');
    await showForm(req, res, {});
  });

  const limiters = createLoginLimiters({
    db: ctx.services.db,
    secretKey: config.secretKey,
    onLimited: (req, res, retryAfter) => {
      res.setHeader('Retry-After', String(retryAfter));
      void showForm(req, res, {
        status: 429,
        email: field(req.body, 'email'),
        next: field(req.body, 'next'),
        error: `Too many failed sign-ins. Wait ${Math.round(retryAfter / 60)} minutes before trying again.`,
      });
    },
  });

  router.post('/login', ...limiters, async (req, res) => {
    const email = field(req.body, 'email');
    const next = field(req.body, 'next');
    if (!verifyLoginCsrfToken(config.secretKey, readCookie(req, LOGIN_NONCE_COOKIE), field(req.body, CSRF_FIELD))) {
      return showForm(req, res, {
        status: 403,
        email,
        next,
        error: 'The sign-in form had expired or came from another site. Please sign in again.',
      });
    }
    const parsed = loginSchema.safeParse({ email, password: field(req.body, 'password') });
    if (!parsed.success) {
      return showForm(req, res, {
        status: 400,
        email,
        next,
        error: parsed.error.issues.map((i) => i.message).join('. '),
      });
    }
    const editor = await findEditorByEmail(ctx.services.db, parsed.data.email);
    // Verify against a decoy when the account does not exist, so timing does not reveal who is an editor.
    const ok = await verifyPassword(parsed.data.password, editor?.passwordHash ?? (await decoyHash()));
    if (!editor || !ok) {
      ctx.services.logger.warn({ ip: req.ip }, 'admin sign-in failed');
      return showForm(req, res, { status: 401, email, next, error: 'That email and password do not match an editor.' });
    }
    const { cookieValue } = await ctx.sessions.create(editor.id);
    res.clearCookie(LOGIN_NONCE_COOKIE, { path: '/admin' });
    res.cookie(SESSION_COOKIE, cookieValue, ctx.sessions.cookieOptions());
    ctx.services.logger.info({ editor: editor.id }, 'admin signed in');
    redirectSeeOther(res, safeNext(next));
  });

  router.post('/logout', async (req, res) => {
    const session = await ctx.sessions.lookup(readCookie(req, SESSION_COOKIE));
    if (session) {
      if (!verifySessionCsrfToken(config.secretKey, session.csrfSecret, field(req.body, CSRF_FIELD))) {
        res
          .status(403)
          .type('text/plain')
          .send('The form was missing its security token; reload the page and try again.');
        return;
      }
      await ctx.sessions.destroy(session);
    }
    const { maxAge: _maxAge, ...clearOptions } = ctx.sessions.cookieOptions();
    res.clearCookie(SESSION_COOKIE, clearOptions);
    redirectSeeOther(res, '/admin/login?notice=signed-out');
  });

  return router;
}
