import type { Kysely } from 'kysely';
import type { MigrationKit } from '../migration-kit.js';

// Issue 15: API keys and idempotency records of the JSON API (/api/v1). A key is stored as the
// SHA-256 of its secret text (the text is shown once, when it is made) with a short prefix for
// people to tell keys apart. `api_idempotency` keeps the answer to each POST sent with an
// Idempotency-Key, per API key, for a day, so a retried request gets the same answer. Consent can
// now come from the API (`api`) and from the sign-up form embedded in another site (`embed`).
export async function up(db: Kysely<unknown>, kit: MigrationKit): Promise<void> {
  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'integer', kit.id)
    .addColumn('name', kit.text, (c) => c.notNull())
    .addColumn('token_prefix', kit.text, (c) => c.notNull())
    .addColumn('token_hash', kit.text, (c) => c.notNull().unique())
    .addColumn('scopes', kit.text, (c) => c.notNull())
    .addColumn('created_by', kit.text, (c) => c.notNull())
    .addColumn('created_at', kit.time, (c) => c.notNull())
    .addColumn('last_used_at', kit.time)
    .addColumn('revoked_at', kit.time)
    .execute();
  await db.schema
    .createTable('api_idempotency')
    .addColumn('api_key_id', 'integer', (c) => c.notNull().references('api_keys.id').onDelete('cascade'))
    .addColumn('idempotency_key', kit.text, (c) => c.notNull())
    .addColumn('fingerprint', kit.text, (c) => c.notNull())
    .addColumn('status_code', 'integer')
    .addColumn('response_json', kit.json)
    .addColumn('created_at', kit.time, (c) => c.notNull())
    .addPrimaryKeyConstraint('api_idempotency_pk', ['api_key_id', 'idempotency_key'])
    .execute();
  await db.schema.createIndex('api_idempotency_created').on('api_idempotency').column('created_at').execute();
  await kit.setOneOf(db, 'consent_log', 'source', [
    'form',
    'import',
    'cli',
    'one-click',
    'unsubscribe-page',
    'preferences',
    'admin',
    'system',
    'complaint',
    'api',
    'embed',
  ]);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('api_idempotency').ifExists().execute();
  await db.schema.dropTable('api_keys').ifExists().execute();
}
