import { createHmac } from 'node:crypto';
import cookieParser from 'cookie-parser';
import { doubleCsrf } from 'csrf-csrf';
import type { Request, RequestHandler, Response } from 'express';

// CSRF protection for server-rendered forms: the double-submit cookie pattern of csrf-csrf.
// The cookie holds a token and its HMAC; each form carries the token in a hidden `_csrf` field.
// Stateless, so public pages need no session (the editors' app ties its tokens to its session row
// instead).

export const CSRF_FIELD = '_csrf';

export interface CsrfOptions {
  secretKey: string;
  /** Secure cookies (and the `__Host-` prefix) when the site is served over https. */
  secure: boolean;
  /** Renders the refusal (status 403 is set before it is called). */
  onRefused: (req: Request, res: Response) => void;
}

export interface Csrf {
  /** Parses cookies; mount before `protect` and before calling `token`. */
  cookies: RequestHandler;
  /** Refuses a state-changing request whose form token does not match its cookie. */
  protect: RequestHandler;
  /** The token to put in a form's hidden `_csrf` field (sets the cookie when needed). */
  token(req: Request, res: Response): string;
}

export function createCsrf(options: CsrfOptions): Csrf {
  // A secret of its own, derived from SECRET_KEY, so CSRF hashes and subscriber tokens never share a key.
  const secret = createHmac('sha256', options.secretKey).update('csrf-double-submit:v1').digest('hex');
  const { doubleCsrfProtection, generateToken, invalidCsrfTokenError } = doubleCsrf({
    getSecret: () => secret,
    // Public pages have no session: the token is bound to its cookie only.
    getSessionIdentifier: () => '',
    cookieName: options.secure ? '__Host-nl.csrf' : 'nl.csrf',
    cookieOptions: { sameSite: 'strict', path: '/', secure: options.secure, httpOnly: true },
    size: 32,
    getTokenFromRequest: (req) => {
      const body = req.body as Record<string, unknown> | undefined;
      const value = body?.[CSRF_FIELD];
      return typeof value === 'string' ? value : undefined;
    },
  });

  const protect: RequestHandler = (req, res, next) => {
    doubleCsrfProtection(req, res, (error?: unknown) => {
      if (error === invalidCsrfTokenError || (error as { code?: string } | undefined)?.code === 'EBADCSRFTOKEN') {
        res.status(403);
        options.onRefused(req, res);
        return;
      }
      next(error);
    });
  };

  return {
    cookies: cookieParser(),
    protect,
    token: (req, res) => generateToken(req, res, false, false),
  };
}
