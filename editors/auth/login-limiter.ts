import type { Request, RequestHandler, Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { Db } from '../../src/db/database.js';
import { SqlRateLimitStore } from '../../src/http/rate-limit-store.js';
import { normaliseEditorEmail } from '../editor-repository.js';

export const LOGIN_WINDOW_MS = 15 * 60_000;
/** Failed sign-ins allowed per account in the window before it is locked for the rest of it. */
export const FAILURES_PER_ACCOUNT = 5;
/** Failed sign-ins allowed per client address in the window (several editors may share an office NAT). */
export const FAILURES_PER_IP = 30;

function submittedEmail(req: Request): string {
  const body: unknown = req.body;
  const email = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).email : undefined;
  return typeof email === 'string' ? normaliseEditorEmail(email).slice(0, 320) : '';
}

/**
 * express-rate-limit counts only failed sign-ins (responses with status >= 400) per account and per
 * IP; past the limit every attempt, right or wrong, is answered 429 until the window passes. Each
 * failed attempt also costs a full scrypt verification, so guessing is slow from the first try.
 * The counts live in the database, so every web process sharing it counts the same failures.
 */
export function createLoginLimiters(
  counts: { db: Db; secret: string },
  onLimited: (req: Request, res: Response, retryAfterSeconds: number) => void,
): RequestHandler[] {
  const common = {
    windowMs: LOGIN_WINDOW_MS,
    skipSuccessfulRequests: true,
    standardHeaders: 'draft-7' as const,
    legacyHeaders: false,
  };
  const perIp = rateLimit({
    ...common,
    limit: FAILURES_PER_IP,
    store: new SqlRateLimitStore({ ...counts, prefix: 'login-ip' }),
    handler: (req, res) => onLimited(req, res, Math.ceil(LOGIN_WINDOW_MS / 1000)),
  });
  const perAccount = rateLimit({
    ...common,
    limit: FAILURES_PER_ACCOUNT,
    store: new SqlRateLimitStore({ ...counts, prefix: 'login-account' }),
    keyGenerator: (req) => `account:${submittedEmail(req)}`,
    handler: (req, res) => onLimited(req, res, Math.ceil(LOGIN_WINDOW_MS / 1000)),
  });
  return [perIp, perAccount];
}
