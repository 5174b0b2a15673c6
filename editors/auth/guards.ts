import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { readCookie } from '../../src/http/cookies.js';
import multer from 'multer';
import type { EditorRole } from '../../src/db/schema.js';
import type { AdminContext } from '../context.js';
import { adminState, HttpError, setAdminState } from '../context.js';
import { CSRF_FIELD, CSRF_HEADER, sessionCsrfToken, verifySessionCsrfToken } from './csrf.js';
import { SESSION_COOKIE } from './session-store.js';

export const MAX_UPLOAD_BYTES = 5 * 1024 * 1024;
/**
 * The largest single field a multipart form may carry: four times an article's 1 MB text limit,
 * so a text over that limit still arrives whole and comes back in its form with the limit stated
 * (article-form.ts) instead of being lost. Past this the form is refused with the size named.
 */
export const MAX_FIELD_BYTES = 4 * 1024 * 1024;

function wantsHtml(req: Request): boolean {
  return req.method === 'GET' && !req.path.endsWith('.json') && req.accepts(['html', 'json']) === 'html';
}

/** What an editor holding a one-time password may open: the page to replace it. */
const ONE_TIME_PASSWORD_PATHS: readonly string[] = ['/account', '/account/password'];

/** Everything under /admin except the sign-in routes needs a live session. */
export function requireSession(ctx: AdminContext): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const session = await ctx.sessions.lookup(readCookie(req, SESSION_COOKIE));
    if (!session) {
      if (wantsHtml(req)) {
        res.redirect(303, `/admin/login?next=${encodeURIComponent(req.originalUrl)}`);
      } else {
        res.status(401).type('text/plain').send('Sign in first: this part of the site is for editors.');
      }
      return;
    }
    setAdminState(req, { session, csrfToken: sessionCsrfToken(ctx.services.config.secretKey, session.csrfSecret) });
    // Editors' pages hold unpublished content and one-time passwords: never cache them.
    res.setHeader('Cache-Control', 'no-store');
    if (session.editor.mustChangePassword && !ONE_TIME_PASSWORD_PATHS.includes(req.path)) {
      // Someone else knows a one-time password (whoever passed it on, the terminal it was printed
      // to): nothing else of the app opens until the editor has chosen their own.
      if (wantsHtml(req)) {
        res.redirect(303, '/admin/account');
      } else {
        res.status(403).type('text/plain').send('Choose your own password first under "Your account".');
      }
      return;
    }
    next();
  };
}

/**
 * Parses multipart forms (article images, CSV imports) for every signed-in route, so the CSRF check
 * after it sees their fields. Files stay in memory (one file, MAX_UPLOAD_BYTES at most) until the
 * route has checked them. An oversized file is not an error page: the route reports it beside the field.
 */
export function parseMultipart(): RequestHandler {
  const parser = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: MAX_UPLOAD_BYTES, files: 1, fields: 300, fieldSize: MAX_FIELD_BYTES, parts: 320 },
  }).any();
  return (req, res, next) => {
    parser(req, res, (error?: unknown) => {
      if (error instanceof multer.MulterError && error.code === 'LIMIT_FILE_SIZE') {
        adminState(req).uploadError =
          `The file is larger than ${MAX_UPLOAD_BYTES / 1024 / 1024} MB; choose a smaller one.`;
        return next();
      }
      if (error instanceof multer.MulterError && error.code === 'LIMIT_FIELD_VALUE') {
        const limit = MAX_FIELD_BYTES / 1024 / 1024;
        return next(
          new HttpError(
            413,
            `A field of this form is larger than ${limit} MB, so nothing was saved. An article holds at most 1 MB of text: go back, shorten the text or split it into two articles, and save again.`,
          ),
        );
      }
      if (error instanceof multer.MulterError)
        return next(new HttpError(400, `The upload was refused: ${error.message}.`));
      next(error);
    });
  };
}

/** Every state-changing request carries the session's token, in the form or (from our scripts) a header. */
export function requireCsrf(ctx: AdminContext): RequestHandler {
  return (req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return next();
    const fromBody: unknown =
      typeof req.body === 'object' && req.body !== null ? (req.body as Record<string, unknown>)[CSRF_FIELD] : undefined;
    const token = fromBody ?? req.get(CSRF_HEADER);
    if (!verifySessionCsrfToken(ctx.services.config.secretKey, adminState(req).session.csrfSecret, token)) {
      res
        .status(403)
        .type('text/plain')
        .send(
          'This form was missing its security token or it belongs to another session. Go back, reload the page and try again.',
        );
      return;
    }
    next();
  };
}

export function requireRole(role: EditorRole): RequestHandler {
  return (req, _res, next) => {
    if (adminState(req).session.editor.role !== role) {
      return next(new HttpError(403, 'Only an admin can open this page. Ask an admin if you need a change here.'));
    }
    next();
  };
}
