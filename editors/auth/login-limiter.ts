import type { Request, RequestHandler, Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { slowDown } from 'express-slow-down';
import type { Db } from '../../src/db/database.js';
import { readCookie } from '../../src/http/cookies.js';
import { SqlRateLimitStore } from '../../src/http/rate-limit-store.js';
import { field } from '../context.js';
import { normaliseEditorEmail } from '../editor-repository.js';
import { CSRF_FIELD, LOGIN_NONCE_COOKIE, verifyLoginCsrfToken } from './csrf.js';

export const LOGIN_WINDOW_MS = 15 * 60_000;
/**
 * Failed sign-ins allowed per account *from one client address* in the window; past it that
 * address is refused for that account until the window passes. Counted per (account, address) so
 * that nobody can lock an editor out from elsewhere: the owner's own address keeps its own count.
 */
export const FAILURES_PER_ACCOUNT_AND_IP = 5;
/** Failed sign-ins allowed per client address in the window, whatever the account (an office NAT holds several editors). */
export const FAILURES_PER_IP = 30;
/** Failures per (account, address) answered at once; each one after waits twice as long as the one before. */
export const FAILURES_BEFORE_DELAY = 2;
export const FIRST_DELAY_MS = 500;
export const MAX_DELAY_MS = 8_000;
/** Wrong current passwords allowed per signed-in editor in the window on /admin/account/password. */
export const PASSWORD_CHANGE_FAILURES = 5;

export interface LoginLimiterDeps {
  /** The counts live in the database, so every web process sharing it counts the same failures. */
  db: Db;
  secretKey: string;
  onLimited: (req: Request, res: Response, retryAfterSeconds: number) => void;
}

function submittedEmail(req: Request): string {
  return normaliseEditorEmail(field(req.body, 'email')).slice(0, 320);
}

/**
 * express-rate-limit counts only failed sign-ins (answers >= 400): per client address, and per
 * (account, address). A post without a valid form token is refused before any password is looked
 * at and costs the account nothing (it still counts for its address): bare POSTs naming an editor
 * lock nobody out. express-slow-down delays each failure past the first few for that (account,
 * address), 0.5 s, 1 s, 2 s… up to 8 s, on timers (the server keeps answering others); every
 * failed attempt also costs a full scrypt verification. The counts live in the database
 * (SqlRateLimitStore), so every web process sharing it counts the same failures.
 */
export function createLoginLimiters(deps: LoginLimiterDeps): RequestHandler[] {
  const { db, secretKey, onLimited } = deps;
  const store = (prefix: string) => new SqlRateLimitStore({ db, secret: secretKey, prefix });
  const retryAfter = Math.ceil(LOGIN_WINDOW_MS / 1000);
  const hasFormToken = (req: Request): boolean =>
    verifyLoginCsrfToken(secretKey, readCookie(req, LOGIN_NONCE_COOKIE), field(req.body, CSRF_FIELD));
  const accountKey = (req: Request): string => `account:${submittedEmail(req)}|${req.ip ?? ''}`;
  const common = { windowMs: LOGIN_WINDOW_MS, skipSuccessfulRequests: true };
  const perIp = rateLimit({
    ...common,
    limit: FAILURES_PER_IP,
    store: store('login-ip'),
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    handler: (req, res) => onLimited(req, res, retryAfter),
  });
  const perAccountAndIp = rateLimit({
    ...common,
    limit: FAILURES_PER_ACCOUNT_AND_IP,
    store: store('login-account-ip'),
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: accountKey,
    skip: (req) => !hasFormToken(req),
    handler: (req, res) => onLimited(req, res, retryAfter),
  });
  const growingDelay = slowDown({
    ...common,
    store: store('login-delay'),
    keyGenerator: accountKey,
    skip: (req) => !hasFormToken(req),
    delayAfter: FAILURES_BEFORE_DELAY,
    delayMs: (used) => FIRST_DELAY_MS * 2 ** (used - FAILURES_BEFORE_DELAY - 1),
    maxDelayMs: MAX_DELAY_MS,
  });
  // The limits answer first, so a refused attempt is refused at once rather than after a delay.
  return [perIp, perAccountAndIp, growingDelay];
}

/** Requests on /admin/account/password that gave a wrong current password (the only ones counted). */
const wrongPasswords = new WeakSet<Request>();

/** Called by the password route when the current password given was wrong. */
export function countWrongPassword(req: Request): void {
  wrongPasswords.add(req);
}

/**
 * /admin/account/password: wrong current passwords per signed-in editor; past the limit the form
 * answers 429 until the window passes, so a stolen session cannot be used to guess the password
 * behind it. A too-short new password is not a failure.
 */
export function createPasswordChangeLimiter(
  counts: { db: Db; secret: string },
  editorIdOf: (req: Request) => number,
  onLimited: (req: Request, res: Response, retryAfterSeconds: number) => void,
): RequestHandler {
  return rateLimit({
    store: new SqlRateLimitStore({ ...counts, prefix: 'password-change' }),
    windowMs: LOGIN_WINDOW_MS,
    limit: PASSWORD_CHANGE_FAILURES,
    skipSuccessfulRequests: true,
    requestWasSuccessful: (req) => !wrongPasswords.has(req),
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: (req) => `editor:${editorIdOf(req)}`,
    handler: (req, res) => onLimited(req, res, Math.ceil(LOGIN_WINDOW_MS / 1000)),
  });
}
