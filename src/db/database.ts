import SQLite from 'better-sqlite3';
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kysely, PostgresDialect, sql, type KyselyConfig } from 'kysely';
import { Migrator, type Migration, type MigrationProvider } from 'kysely/migration';
import { LockWaitingSqliteDialect } from './lock-waiting-sqlite.js';
import { migrationKit, type DialectName, type KitMigration } from './migration-kit.js';
import { createPostgresPool, parsePostgresUrl } from './postgres-pool.js';
import * as initial from './migrations/001-initial.js';
import * as sending from './migrations/002-sending.js';
import * as checkLists from './migrations/003-check-lists.js';
import * as rateLimits from './migrations/004-rate-limits.js';
import * as healthProbe from './migrations/010-health-probe.js';
import * as subscriberList from './migrations/015-subscriber-list.js';
import * as unsubscribeRequests from './migrations/016-unsubscribe-requests.js';
import * as bounceSafety from './migrations/020-bounce-safety.js';
import * as senders from './migrations/021-senders.js';
import * as issueRecords from './migrations/030-issue-records.js';
import * as emailFit from './migrations/040-email-fit.js';
import * as feedbackEvents from './migrations/050-feedback-events.js';
import * as apiKeys from './migrations/060-api-keys.js';
import * as dropArticleImages from './migrations/070-drop-article-images.js';
import * as compiledFrames from './migrations/074-compiled-frames.js';
import { BOOLEAN_COLUMNS } from './schema.generated.js';
import * as eventOutbox from './migrations/061-event-outbox.js';
import * as webhooks from './migrations/062-webhooks.js';
import * as clickTracking from './migrations/063-click-tracking.js';
import type { Database } from './schema.js';
import { SqliteBooleansPlugin } from './sqlite-booleans.js';

export type Db = Kysely<Database>;
export type { DialectName } from './migration-kit.js';

/** How long one statement waits for another process's write lock before giving up with a clear error. */
export const LOCK_WAIT_MS = 30_000;

/**
 * Migrations are listed here (not read from disk) so they run the same under tsx, vitest and
 * bundlers. Each is written against the migration kit (`migration-kit.ts`), which tells it the dialect.
 */
const migrations: Record<string, KitMigration> = {
  '001-initial': initial,
  '002-sending': sending,
  '003-check-lists': checkLists,
  '004-rate-limits': rateLimits,
  '010-health-probe': healthProbe,
  '015-subscriber-list': subscriberList,
  '016-unsubscribe-requests': unsubscribeRequests,
  '020-bounce-safety': bounceSafety,
  '021-senders': senders,
  '030-issue-records': issueRecords,
  '040-email-fit': emailFit,
  '050-feedback-events': feedbackEvents,
  '060-api-keys': apiKeys,
  '061-event-outbox': eventOutbox,
  '062-webhooks': webhooks,
  '063-click-tracking': clickTracking,
  '070-drop-article-images': dropArticleImages,
  '074-compiled-frames': compiledFrames,
};

class KitMigrationProvider implements MigrationProvider {
  constructor(private readonly dialect: DialectName) {}

  getMigrations(): Promise<Record<string, Migration>> {
    const kit = migrationKit(this.dialect);
    const bound: Record<string, Migration> = {};
    for (const [name, m] of Object.entries(migrations)) {
      const down = m.down;
      bound[name] = { up: (db) => m.up(db, kit), down: down ? (db) => down(db, kit) : undefined };
    }
    return Promise.resolve(bound);
  }
}

/**
 * Subscribers' addresses live in the database file and SQLite's -wal and -shm files beside it:
 * they are readable by the service's user alone (0600). SQLite creates -wal and -shm with the
 * database file's permissions, so creating that file 0600 first is enough for a new database;
 * files an older version left readable by others are narrowed.
 */
function ownerOnly(file: string): void {
  try {
    closeSync(openSync(file, 'wx', 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      if ((statSync(f).mode & 0o077) !== 0) chmodSync(f, 0o600);
    } catch (error) {
      // Absent (no -wal yet), or owned by another user: SQLite says what is wrong when it opens it.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'EPERM') throw error;
    }
  }
}

/**
 * Copies everything in SQLite's write-ahead log into the database file and truncates the log to
 * zero bytes, so rows just deleted (an erasure) survive nowhere on disk: the WAL otherwise keeps
 * the old pages until they happen to be overwritten. Waits up to `waitMs` for other processes'
 * readers and writers; false when they kept it from finishing. SQLite only.
 */
export async function truncateWal(db: Db, waitMs = 5_000): Promise<boolean> {
  // PostgreSQL keeps its own write-ahead log, recycled by the server; there is no file of ours.
  if (dialectOf(db) === 'postgres') return true;
  const deadline = Date.now() + waitMs;
  for (;;) {
    const { rows } = await sql<{ busy: number }>`PRAGMA wal_checkpoint(TRUNCATE)`.execute(db);
    if (rows[0]?.busy === 0) return true;
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
}

export interface OpenDatabaseOptions {
  /** Called with the error of every failed query (storage-health.ts watches for a failing disk). */
  onQueryError?: (error: unknown) => void;
  /** How long a statement waits for another process's write lock; LOCK_WAIT_MS unless given. */
  lockWaitMs?: number;
}

/** Which database `db` (opened by `openDatabase`) is, for the few statements that differ. */
export function dialectOf(db: Db): DialectName {
  const target = opened.get(db);
  if (!target) throw new Error('dialectOf: give it a database opened by openDatabase');
  return target.dialect;
}

/** `postgres://` or `postgresql://` selects PostgreSQL; anything else is a SQLite file path. */
export function databaseDialect(databaseUrl: string): DialectName {
  return /^postgres(ql)?:\/\//.test(databaseUrl) ? 'postgres' : 'sqlite';
}

interface Opened {
  dialect: DialectName;
  schema: string | undefined;
}
/** What `migrate` needs to know of a database `openDatabase` opened. */
const opened = new WeakMap<Db, Opened>();

export function openDatabase(databaseUrl: string, options: OpenDatabaseOptions = {}): Db {
  return databaseDialect(databaseUrl) === 'postgres'
    ? openPostgres(databaseUrl, options)
    : openSqlite(databaseUrl, options);
}

function queryErrors(options: OpenDatabaseOptions): KyselyConfig['log'] {
  return (event) => {
    if (event.level === 'error') options.onQueryError?.(event.error);
  };
}

function openPostgres(databaseUrl: string, options: OpenDatabaseOptions): Db {
  const target = parsePostgresUrl(databaseUrl);
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: createPostgresPool(target) }),
    log: queryErrors(options),
  });
  opened.set(db, { dialect: 'postgres', schema: target.schema });
  return db;
}

function openSqlite(databaseUrl: string, options: OpenDatabaseOptions): Db {
  if (databaseUrl !== ':memory:') {
    mkdirSync(path.dirname(path.resolve(databaseUrl)), { recursive: true, mode: 0o700 });
    ownerOnly(databaseUrl);
  }
  const sqlite = new SQLite(databaseUrl);
  // WAL lets the web server read while a send writes.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('synchronous = NORMAL');
  // better-sqlite3 builds SQLite with a 16 MB page cache, which a send fills as the list grows
  // (planning 100,000 deliveries: 18 MB of the sender's memory, 8 MB at 20,000). The pages a send
  // and the web touch are few, and the operating system caches the file besides; 4 MB keeps the
  // process's memory the same for any list size.
  sqlite.pragma('cache_size = -4000');
  // Erased subscribers' rows are overwritten on disk, not left in free pages.
  sqlite.pragma('secure_delete = ON');
  // A process waits for another's lock on timers (lock-waiting-sqlite.ts), never inside SQLite's
  // busy handler, which would stop its event loop for as long as it waits.
  sqlite.pragma('busy_timeout = 0');
  const db = new Kysely<Database>({
    dialect: new LockWaitingSqliteDialect(sqlite, { maxWaitMs: options.lockWaitMs ?? LOCK_WAIT_MS }),
    // Only when a boolean column exists: the plugin walks every query.
    plugins: BOOLEAN_COLUMNS.length > 0 ? [new SqliteBooleansPlugin(BOOLEAN_COLUMNS)] : [],
    log: queryErrors(options),
  });
  opened.set(db, { dialect: 'sqlite', schema: undefined });
  return db;
}

function migratorFor(db: Db): Migrator {
  const target = opened.get(db);
  if (!target) throw new Error('migrate: give it a database opened by openDatabase');
  return new Migrator({
    db,
    provider: new KitMigrationProvider(target.dialect),
    // Kysely creates this schema when missing; the tables follow the connection's search_path.
    migrationTableSchema: target.schema,
    // Each engineer's migrations have their own number range, so a database may have applied 030
    // before 010 exists: apply what is missing whatever its place in the order.
    allowUnorderedMigrations: true,
  });
}

/** The names of the migrations this code has and the database has not applied. */
export async function pendingMigrations(db: Db): Promise<string[]> {
  const all = await migratorFor(db).getMigrations();
  return all.filter((m) => m.executedAt === undefined).map((m) => m.name);
}

/** Applies the migrations not yet applied; returns their names. */
export async function migrate(db: Db): Promise<string[]> {
  const { error, results } = await migratorFor(db).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    const reason = error instanceof Error ? error.message : JSON.stringify(error);
    throw new Error(`Migration ${failed?.migrationName ?? ''} failed: ${reason}`);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Current time as the ISO-8601 UTC text every time column holds (and PostgreSQL's are read as). */
export function nowIso(): string {
  return new Date().toISOString();
}
