import type { Db } from '../src/db/database.js';
import { dialectOf, nowIso } from '../src/db/database.js';
import type { ExpressionBuilder } from 'kysely';
import type { Database, EditorRole } from '../src/db/schema.js';

// All SQL for editors and their sign-in sessions lives in this file.

export interface Editor {
  id: number;
  email: string;
  role: EditorRole;
  createdAt: string;
}

export interface EditorWithHash extends Editor {
  passwordHash: string;
  /** The password is a one-time password: the editor must choose their own at sign-in. */
  mustChangePassword: boolean;
}

/**
 * A one-time password (the first admin's, one Settings → Editors gave, `editors add --one-time`)
 * is stored as its hash behind this mark. Being one-time is a property of that password: any new
 * password (its hash stored without the mark) ends it, with no flag to keep in step.
 */
const ONE_TIME_MARK = 'one-time:';

function storedHash(passwordHash: string, origin: PasswordOrigin): string {
  return origin === 'one-time' ? `${ONE_TIME_MARK}${passwordHash}` : passwordHash;
}

function storedPassword(stored: string): { passwordHash: string; mustChangePassword: boolean } {
  const oneTime = stored.startsWith(ONE_TIME_MARK);
  return { passwordHash: oneTime ? stored.slice(ONE_TIME_MARK.length) : stored, mustChangePassword: oneTime };
}

export const EDITOR_ROLES: readonly EditorRole[] = ['admin', 'editor'];

export function normaliseEditorEmail(email: string): string {
  return email.trim().toLowerCase();
}

export class EditorExistsError extends Error {
  constructor(readonly email: string) {
    super(`${email} is already an editor`);
  }
}

export async function listEditors(db: Db): Promise<Editor[]> {
  const rows = await db.selectFrom('editors').select(['id', 'email', 'role', 'created_at']).orderBy('email').execute();
  return rows.map((r) => ({ id: r.id, email: r.email, role: r.role, createdAt: r.created_at }));
}

export async function findEditorByEmail(db: Db, email: string): Promise<EditorWithHash | undefined> {
  const r = await db
    .selectFrom('editors')
    .selectAll()
    .where('email', '=', normaliseEditorEmail(email))
    .executeTakeFirst();
  return r && { id: r.id, email: r.email, role: r.role, createdAt: r.created_at, ...storedPassword(r.password_hash) };
}

export async function findEditorById(db: Db, id: number): Promise<Editor | undefined> {
  const r = await db
    .selectFrom('editors')
    .select(['id', 'email', 'role', 'created_at'])
    .where('id', '=', id)
    .executeTakeFirst();
  return r && { id: r.id, email: r.email, role: r.role, createdAt: r.created_at };
}

/** How a new editor's password came about: `one-time` (the service made it; replaced at first sign-in) or `chosen`. */
export type PasswordOrigin = 'one-time' | 'chosen';

export async function insertEditor(
  db: Db,
  email: string,
  role: EditorRole,
  passwordHash: string,
  origin: PasswordOrigin,
): Promise<Editor> {
  const normalised = normaliseEditorEmail(email);
  if (await findEditorByEmail(db, normalised)) throw new EditorExistsError(normalised);
  const createdAt = nowIso();
  const row = await db
    .insertInto('editors')
    .values({
      email: normalised,
      role,
      password_hash: storedHash(passwordHash, origin),
      created_at: createdAt,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: row.id, email: normalised, role, createdAt };
}

/** Inserts only when the table is empty, in one transaction, so two starting processes cannot both create one. */
export async function insertFirstEditor(
  db: Db,
  email: string,
  role: EditorRole,
  passwordHash: string,
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const existing = await trx.selectFrom('editors').select('id').limit(1).executeTakeFirst();
    if (existing) return false;
    // Its password is printed once and generated: always a one-time password.
    await trx
      .insertInto('editors')
      .values({ email, role, password_hash: storedHash(passwordHash, 'one-time'), created_at: nowIso() })
      .execute();
    return true;
  });
}

/**
 * What a change that must leave at least one admin did: `done`, `last-admin` (refused: it would
 * leave no admin) or `missing` (no such editor).
 */
export type AdminGuardedResult = 'done' | 'last-admin' | 'missing';

/** True when some admin other than `id` exists; part of the guarded statements below. */
function anotherAdminExists(eb: ExpressionBuilder<Database, 'editors'>, id: number) {
  return eb.exists(
    eb.selectFrom('editors as other').select('other.id').where('other.role', '=', 'admin').where('other.id', '<>', id),
  );
}

async function guardedResult(db: Db, id: number, changed: bigint | undefined): Promise<AdminGuardedResult> {
  if (Number(changed ?? 0) > 0) return 'done';
  return (await findEditorById(db, id)) ? 'last-admin' : 'missing';
}

/**
 * Runs a change guarded by `anotherAdminExists` so that two of them take turns. SQLite has one
 * writer at a time already (every transaction takes the write lock). PostgreSQL, at READ COMMITTED,
 * would let two admins demoting each other at once each see the other still an admin (each
 * statement's snapshot misses the other's uncommitted change, and they lock different rows), so
 * there the admins' rows are locked first: the second change waits for the first to commit and then
 * sees what it did.
 */
function guarded<T>(db: Db, change: (trx: Db) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (trx) => {
    if (dialectOf(db) === 'postgres') {
      await trx.selectFrom('editors').select('id').where('role', '=', 'admin').forUpdate().execute();
    }
    return change(trx);
  });
}

/**
 * Sets an editor's role, unless that demotes the last admin. The check is part of the UPDATE
 * itself, so two admins demoting each other at the same moment cannot leave the service without one.
 */
export async function updateEditorRole(db: Db, id: number, role: EditorRole): Promise<AdminGuardedResult> {
  const result = await guarded(db, (trx) =>
    trx
      .updateTable('editors')
      .set({ role })
      .where('id', '=', id)
      .where((eb) => (role === 'admin' ? eb.lit(true) : eb.or([eb('role', '<>', 'admin'), anotherAdminExists(eb, id)])))
      .executeTakeFirst(),
  );
  return guardedResult(db, id, result.numUpdatedRows);
}

/** Removes an editor (their sessions go with them), unless they are the last admin; one guarded DELETE. */
export async function deleteEditor(db: Db, id: number): Promise<AdminGuardedResult> {
  const result = await guarded(db, (trx) =>
    trx
      .deleteFrom('editors')
      .where('id', '=', id)
      .where((eb) => eb.or([eb('role', '<>', 'admin'), anotherAdminExists(eb, id)]))
      .executeTakeFirst(),
  );
  return guardedResult(db, id, result.numDeletedRows);
}

/** Sets a password: the editor's own choice clears the one-time flag; one an operator set for them (`one-time`) sets it. */
export async function updateEditorPassword(
  db: Db,
  id: number,
  passwordHash: string,
  origin: PasswordOrigin = 'chosen',
): Promise<void> {
  await db
    .updateTable('editors')
    .set({ password_hash: storedHash(passwordHash, origin) })
    .where('id', '=', id)
    .execute();
}

// --- sessions -----------------------------------------------------------------------------------

export interface SessionRecord {
  /** `mustChangePassword`: the editor signed in with a one-time password and has not replaced it. */
  editor: Editor & { mustChangePassword: boolean };
  csrfSecret: string;
  expiresAt: string;
}

export async function insertSession(
  db: Db,
  idHash: string,
  editorId: number,
  csrfSecret: string,
  expiresAt: string,
): Promise<void> {
  await db
    .insertInto('sessions')
    .values({
      id_hash: idHash,
      editor_id: editorId,
      csrf_secret: csrfSecret,
      created_at: nowIso(),
      expires_at: expiresAt,
    })
    .execute();
}

export async function findSession(db: Db, idHash: string, now: string): Promise<SessionRecord | undefined> {
  const r = await db
    .selectFrom('sessions')
    .innerJoin('editors', 'editors.id', 'sessions.editor_id')
    .select([
      'editors.id',
      'editors.email',
      'editors.role',
      'editors.created_at',
      'editors.password_hash',
      'sessions.csrf_secret',
      'sessions.expires_at',
    ])
    .where('sessions.id_hash', '=', idHash)
    .where('sessions.expires_at', '>', now)
    .executeTakeFirst();
  return (
    r && {
      editor: {
        id: r.id,
        email: r.email,
        role: r.role,
        createdAt: r.created_at,
        mustChangePassword: storedPassword(r.password_hash).mustChangePassword,
      },
      csrfSecret: r.csrf_secret,
      expiresAt: r.expires_at,
    }
  );
}

export async function deleteSession(db: Db, idHash: string): Promise<void> {
  await db.deleteFrom('sessions').where('id_hash', '=', idHash).execute();
}

export async function deleteSessionsOfEditor(db: Db, editorId: number, exceptIdHash?: string): Promise<void> {
  let q = db.deleteFrom('sessions').where('editor_id', '=', editorId);
  if (exceptIdHash) q = q.where('id_hash', '!=', exceptIdHash);
  await q.execute();
}

export async function deleteExpiredSessions(db: Db, now: string): Promise<void> {
  await db.deleteFrom('sessions').where('expires_at', '<=', now).execute();
}
