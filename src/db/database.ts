import SQLite from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kysely, Migrator, type Migration, type MigrationProvider } from 'kysely';
import { LockWaitingSqliteDialect } from './lock-waiting-sqlite.js';
import * as initial from './migrations/001-initial.js';
import * as sending from './migrations/002-sending.js';
import * as healthProbe from './migrations/010-health-probe.js';
import * as subscriberList from './migrations/015-subscriber-list.js';
import * as bounceSafety from './migrations/020-bounce-safety.js';
import * as issueRecords from './migrations/030-issue-records.js';
import * as emailFit from './migrations/040-email-fit.js';
import * as feedbackEvents from './migrations/050-feedback-events.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

/** How long one statement waits for another process's write lock before giving up with a clear error. */
export const LOCK_WAIT_MS = 30_000;

/** Migrations are listed here (not read from disk) so they run the same under tsx, vitest and bundlers. */
const migrations: Record<string, Migration> = {
  '001-initial': initial,
  '002-sending': sending,
  '010-health-probe': healthProbe,
  '015-subscriber-list': subscriberList,
  '020-bounce-safety': bounceSafety,
  '030-issue-records': issueRecords,
  '040-email-fit': emailFit,
  '050-feedback-events': feedbackEvents,
};

class StaticMigrationProvider implements MigrationProvider {
  getMigrations(): Promise<Record<string, Migration>> {
    return Promise.resolve(migrations);
  }
}

export interface OpenDatabaseOptions {
  /** Called with the error of every failed query (storage-health.ts watches for a failing disk). */
  onQueryError?: (error: unknown) => void;
}

export function openDatabase(databaseUrl: string, options: OpenDatabaseOptions = {}): Db {
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new Error('DATABASE_URL: PostgreSQL is not supported yet; use a SQLite file path');
  }
  if (databaseUrl !== ':memory:') mkdirSync(path.dirname(path.resolve(databaseUrl)), { recursive: true });
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
  return new Kysely<Database>({
    dialect: new LockWaitingSqliteDialect(sqlite, { maxWaitMs: LOCK_WAIT_MS }),
    log: (event) => {
      if (event.level === 'error') options.onQueryError?.(event.error);
    },
  });
}

export async function migrate(db: Db): Promise<string[]> {
  // Each engineer's migrations have their own number range, so a database may have applied 030
  // before 010 exists: apply what is missing whatever its place in the order.
  const migrator = new Migrator({ db, provider: new StaticMigrationProvider(), allowUnorderedMigrations: true });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    const reason = error instanceof Error ? error.message : JSON.stringify(error);
    throw new Error(`Migration ${failed?.migrationName ?? ''} failed: ${reason}`);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Current time as the ISO-8601 UTC text every time column holds. */
export function nowIso(): string {
  return new Date().toISOString();
}
