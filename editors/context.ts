import type { Request, RequestHandler, Response } from 'express';
import type { Services } from '../src/app/services.js';
import type { SubscriberCounts } from '../subscribers/subscriber-counts.js';
import type { ActiveSession, SessionStore } from './auth/session-store.js';

/** What every admin route module receives (dependencies passed as one object). */
export interface AdminContext {
  services: Services;
  sessions: SessionStore;
  /** Subscriber counts per status and topic, kept until the list changes (the overview and the subscribers page). */
  subscriberCounts: SubscriberCounts;
}

/** A named route handler of the editors' app: its context first, then the request and response. */
export type AdminHandler = (ctx: AdminContext, req: Request, res: Response) => Promise<void>;

/** Binds a named handler to the app's context, for `router.get(path, handle(ctx, showThing))`. */
export function handle(ctx: AdminContext, handler: AdminHandler): RequestHandler {
  return (req, res) => handler(ctx, req, res);
}

/** Per-request state of a signed-in editor, kept beside the request instead of in untyped res.locals. */
export interface AdminRequestState {
  session: ActiveSession;
  csrfToken: string;
  /** Set when a multipart upload broke a limit; the route shows it beside the file field. */
  uploadError?: string;
}

const states = new WeakMap<Request, AdminRequestState>();

export function setAdminState(req: Request, state: AdminRequestState): void {
  states.set(req, state);
}

export function adminState(req: Request): AdminRequestState {
  const state = states.get(req);
  if (!state) throw new Error('admin route reached without a session (router order is wrong)');
  return state;
}

/** An error with an HTTP status whose message is safe to show to the editor. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function notFound(what: string): HttpError {
  return new HttpError(404, `${what} does not exist (it may have been removed).`);
}

/** Reads a single string field from a parsed form body or query; arrays and objects become ''. */
export function field(source: unknown, name: string): string {
  if (typeof source !== 'object' || source === null) return '';
  const value = (source as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : '';
}

/** Reads a repeated field (checkboxes, multi-selects) as a list of strings. */
export function fieldList(source: unknown, name: string): string[] {
  if (typeof source !== 'object' || source === null) return [];
  const value = (source as Record<string, unknown>)[name];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

export function intParam(req: Request, name: string): number {
  const raw = req.params[name];
  if (typeof raw !== 'string' || !/^\d{1,12}$/.test(raw)) throw new HttpError(404, 'There is nothing at this address.');
  return Number(raw);
}

export function redirectSeeOther(res: Response, location: string): void {
  res.redirect(303, location);
}
