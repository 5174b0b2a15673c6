import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../src/db/database.js';
import { nowIso } from '../src/db/database.js';
import { findApiKeyByHash, insertApiKey, recordApiKeyUse, type ApiKey } from './api-key-repository.js';
import type { ApiScope } from './scopes.js';

// API keys: `nlk_` followed by 32 random bytes (base64url). They are stored as their SHA-256: a
// key has 256 bits of entropy, so a fast hash is enough (a slow password hash would cost every
// request its time) and a stolen database gives no usable key.

const KEY_PREFIX = 'nlk_';
const KEY_PATTERN = /^nlk_[A-Za-z0-9_-]{43}$/;
/** How many characters of the key the app and `api-keys list` show. */
const SHOWN_PREFIX_LENGTH = 12;
/** `last_used_at` is written at most this often per key, not on every request. */
const USE_RECORD_INTERVAL_MS = 60_000;
export const MAX_KEY_NAME_LENGTH = 100;

export function hashApiKey(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export class ApiKeyInputError extends Error {}

/** Makes a key; the returned `text` is the only time the key can be seen. */
export async function createApiKey(
  db: Db,
  input: { name: string; scopes: readonly ApiScope[]; createdBy: string },
): Promise<{ key: ApiKey; text: string }> {
  const name = input.name.trim();
  if (name === '') throw new ApiKeyInputError('Give the key a name that says who uses it, e.g. "website sign-up"');
  if (name.length > MAX_KEY_NAME_LENGTH) {
    throw new ApiKeyInputError(`A key's name can be at most ${MAX_KEY_NAME_LENGTH} characters long`);
  }
  if (input.scopes.length === 0) throw new ApiKeyInputError('Give the key at least one scope');
  const text = KEY_PREFIX + randomBytes(32).toString('base64url');
  const key = await insertApiKey(db, {
    name,
    prefix: text.slice(0, SHOWN_PREFIX_LENGTH),
    hash: hashApiKey(text),
    scopes: input.scopes,
    createdBy: input.createdBy,
    now: nowIso(),
  });
  return { key, text };
}

export type Authentication = { ok: true; key: ApiKey } | { ok: false; reason: 'missing' | 'unknown' | 'revoked' };

/** Finds the key a request's `Authorization: Bearer …` header names, and notes its use. */
export class ApiKeyAuthenticator {
  private readonly lastRecorded = new Map<number, number>();

  constructor(private readonly deps: { db: Db; now?: () => number }) {}

  async authenticate(header: string | undefined): Promise<Authentication> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!match?.[1]) return { ok: false, reason: 'missing' };
    const text = match[1];
    if (!KEY_PATTERN.test(text)) return { ok: false, reason: 'unknown' };
    const key = await findApiKeyByHash(this.deps.db, hashApiKey(text));
    if (!key) return { ok: false, reason: 'unknown' };
    if (key.revokedAt !== null) return { ok: false, reason: 'revoked' };
    await this.noteUse(key);
    return { ok: true, key };
  }

  private async noteUse(key: ApiKey): Promise<void> {
    const now = (this.deps.now ?? Date.now)();
    const last = this.lastRecorded.get(key.id) ?? (key.lastUsedAt ? Date.parse(key.lastUsedAt) : 0);
    if (now - last < USE_RECORD_INTERVAL_MS) return;
    this.lastRecorded.set(key.id, now);
    await recordApiKeyUse(this.deps.db, key.id, new Date(now).toISOString());
  }
}
