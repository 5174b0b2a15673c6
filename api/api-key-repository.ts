import type { Selectable } from 'kysely';
import type { Db } from '../src/db/database.js';
import type { ApiKeysTable } from '../src/db/schema.generated.js';
import { API_SCOPES, type ApiScope } from './scopes.js';

// All SQL about API keys and idempotency records (migration 060). Portable kysely only.
// api_keys: token_prefix = the key text's first characters (to tell keys apart), token_hash = SHA-256
// (hex) of the whole text (never stored), scopes space-separated, created_by `cli` or the editor's
// address. api_idempotency: fingerprint = SHA-256 of method, path and body (the same key with another
// request is refused); status_code and response_json are null while the first request is answered.

export interface ApiKey {
  id: number;
  name: string;
  prefix: string;
  scopes: ApiScope[];
  createdBy: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

function toApiKey(row: Selectable<ApiKeysTable>): ApiKey {
  const names = row.scopes.split(' ');
  return {
    id: row.id,
    name: row.name,
    prefix: row.token_prefix,
    scopes: API_SCOPES.filter((s) => names.includes(s)),
    createdBy: row.created_by,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

export interface NewApiKey {
  name: string;
  prefix: string;
  hash: string;
  scopes: readonly ApiScope[];
  createdBy: string;
  now: string;
}

export async function insertApiKey(db: Db, key: NewApiKey): Promise<ApiKey> {
  const row = await db
    .insertInto('api_keys')
    .values({
      name: key.name,
      token_prefix: key.prefix,
      token_hash: key.hash,
      scopes: key.scopes.join(' '),
      created_by: key.createdBy,
      created_at: key.now,
      last_used_at: null,
      revoked_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toApiKey(row);
}

/** Every key, newest first, revoked ones included (they say when they were revoked). */
export async function listApiKeys(db: Db): Promise<ApiKey[]> {
  const rows = await db.selectFrom('api_keys').selectAll().orderBy('id', 'desc').execute();
  return rows.map(toApiKey);
}

export async function findApiKeyByHash(db: Db, hash: string): Promise<ApiKey | undefined> {
  const row = await db.selectFrom('api_keys').selectAll().where('token_hash', '=', hash).executeTakeFirst();
  return row && toApiKey(row);
}

export type RevokeResult = 'revoked' | 'already-revoked' | 'missing';

/** Revokes a key for good (one guarded statement: a second revocation keeps the first time). */
export async function revokeApiKey(db: Db, id: number, now: string): Promise<RevokeResult> {
  const result = await db
    .updateTable('api_keys')
    .set({ revoked_at: now })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 1) return 'revoked';
  const exists = await db.selectFrom('api_keys').select('id').where('id', '=', id).executeTakeFirst();
  return exists ? 'already-revoked' : 'missing';
}

export async function recordApiKeyUse(db: Db, id: number, now: string): Promise<void> {
  await db.updateTable('api_keys').set({ last_used_at: now }).where('id', '=', id).execute();
}

export interface StoredAnswer {
  fingerprint: string;
  statusCode: number | null;
  responseJson: string | null;
}

/**
 * Claims an idempotency key for a request: returns null when this call claimed it (the caller
 * answers and then stores the answer), or what is stored under the key.
 */
export async function claimIdempotencyKey(
  db: Db,
  claim: { apiKeyId: number; key: string; fingerprint: string; now: string },
): Promise<StoredAnswer | null> {
  const adb = db;
  const inserted = await adb
    .insertInto('api_idempotency')
    .values({
      api_key_id: claim.apiKeyId,
      idempotency_key: claim.key,
      fingerprint: claim.fingerprint,
      status_code: null,
      response_json: null,
      created_at: claim.now,
    })
    .onConflict((oc) => oc.columns(['api_key_id', 'idempotency_key']).doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1) return null;
  const row = await adb
    .selectFrom('api_idempotency')
    .select(['fingerprint', 'status_code', 'response_json'])
    .where('api_key_id', '=', claim.apiKeyId)
    .where('idempotency_key', '=', claim.key)
    .executeTakeFirst();
  // Gone between the two statements (expired and purged): treat as taken, the client retries.
  if (!row) return { fingerprint: claim.fingerprint, statusCode: null, responseJson: null };
  return { fingerprint: row.fingerprint, statusCode: row.status_code, responseJson: row.response_json };
}

export async function storeIdempotentAnswer(
  db: Db,
  answer: { apiKeyId: number; key: string; statusCode: number; responseJson: string },
): Promise<void> {
  await db
    .updateTable('api_idempotency')
    .set({ status_code: answer.statusCode, response_json: answer.responseJson })
    .where('api_key_id', '=', answer.apiKeyId)
    .where('idempotency_key', '=', answer.key)
    .execute();
}

/** Lets a request that failed on our side be tried again with the same key. */
export async function releaseIdempotencyKey(db: Db, apiKeyId: number, key: string): Promise<void> {
  await db
    .deleteFrom('api_idempotency')
    .where('api_key_id', '=', apiKeyId)
    .where('idempotency_key', '=', key)
    .where('status_code', 'is', null)
    .execute();
}

export async function purgeIdempotencyBefore(db: Db, before: string): Promise<void> {
  await db.deleteFrom('api_idempotency').where('created_at', '<', before).execute();
}
