import { createHash, randomBytes } from 'node:crypto';
import type { CookieOptions } from 'express';
import type { Config } from '../../src/config/config.js';
import type { Db } from '../../src/db/database.js';
import { nowIso } from '../../src/db/database.js';
import {
  deleteExpiredSessions,
  deleteSession,
  deleteSessionsOfEditor,
  findSession,
  insertSession,
  type SessionRecord,
} from '../editor-repository.js';

export const SESSION_COOKIE = 'nl_admin_session';
const SESSION_DAYS = 14;

export interface ActiveSession extends SessionRecord {
  idHash: string;
}

function hashId(cookieValue: string): string {
  return createHash('sha256').update(cookieValue).digest('hex');
}

/**
 * Sessions live in the database so they survive a restart. The cookie holds a random id; the
 * database holds only its SHA-256, so a leaked database row cannot be replayed as a cookie.
 */
export class SessionStore {
  constructor(private readonly deps: { db: Db; config: Config }) {}

  async create(editorId: number): Promise<{ cookieValue: string; session: ActiveSession }> {
    const cookieValue = randomBytes(32).toString('base64url');
    const csrfSecret = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + SESSION_DAYS * 86_400_000).toISOString();
    const idHash = hashId(cookieValue);
    await insertSession(this.deps.db, idHash, editorId, csrfSecret, expiresAt);
    // Opportunistic cleanup: sign-ins are rare, so this costs nothing noticeable.
    await deleteExpiredSessions(this.deps.db, nowIso());
    const session = await findSession(this.deps.db, idHash, nowIso());
    if (!session) throw new Error('session vanished right after it was created');
    return { cookieValue, session: { ...session, idHash } };
  }

  async lookup(cookieValue: string | undefined): Promise<ActiveSession | undefined> {
    if (!cookieValue || cookieValue.length > 200) return undefined;
    const idHash = hashId(cookieValue);
    const session = await findSession(this.deps.db, idHash, nowIso());
    return session && { ...session, idHash };
  }

  async destroy(session: ActiveSession): Promise<void> {
    await deleteSession(this.deps.db, session.idHash);
  }

  /** After a password change: every other device is signed out. */
  async destroyOthers(session: ActiveSession): Promise<void> {
    await deleteSessionsOfEditor(this.deps.db, session.editor.id, session.idHash);
  }

  cookieOptions(): CookieOptions {
    return {
      httpOnly: true,
      sameSite: 'lax',
      secure: this.deps.config.baseUrl.startsWith('https:'),
      path: '/admin',
      maxAge: SESSION_DAYS * 86_400_000,
    };
  }
}
