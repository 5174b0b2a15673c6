import type SQLite from 'better-sqlite3';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteDialect,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type QueryCompiler,
  type QueryResult,
} from 'kysely';
import { StatementCache } from './statement-cache.js';

// SQLite lets one writer in at a time. better-sqlite3 waits for a lock held by another process
// inside SQLite's busy handler, which sleeps on the JavaScript thread: a web server waiting there
// answers nothing at all (an import in another process held /healthz for seconds). So the busy
// timeout is 0 and the waiting happens here instead, on timers, between attempts:
//
// - a statement outside a transaction that meets a lock is tried again after a short pause;
// - every transaction starts with BEGIN IMMEDIATE, so it takes the write lock at its first
//   statement or not at all, and waiting for it is the same retried statement. (A deferred
//   transaction that reads and then writes can fail with SQLITE_BUSY half-way, where trying the
//   statement again cannot help.)
//
// The pauses are short (1 to 8 ms) so a writer gets in as soon as the lock holder lets go;
// writers that hold the lock for long stretches (imports) pause between their transactions.
//
// The process has one connection, handed to one caller at a time. A caller waiting for another
// process's lock gives the connection back during each pause: in WAL mode reads never wait for the
// writer, so the pages and /healthz of a web server go on answering while its unsubscribes wait for
// an import's batch to end (before, every query of the server queued behind the one waiting writer).

/** The database stayed locked by another process for longer than the caller was willing to wait. */
export class DatabaseBusyError extends Error {
  constructor(waitedMs: number) {
    super(
      `The database stayed locked by another process for ${Math.round(waitedMs / 1000)} s (a long import or send?); nothing was written by this step. Try again when it has finished.`,
    );
  }
}

export interface LockWaitOptions {
  /** How long one statement may wait for a lock before DatabaseBusyError. */
  maxWaitMs: number;
}

const PAUSES_MS = [1, 1, 2, 2, 4, 4, 8];

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_'));
}

/**
 * Runs `attempt` until it does not meet a lock, pausing on timers in between (through `pause`, which
 * may do other work meanwhile; a plain sleep unless given).
 */
export async function retryWhileLocked<T>(
  attempt: () => Promise<T> | T,
  options: LockWaitOptions,
  pause: (ms: number) => Promise<unknown> = sleep,
): Promise<T> {
  const started = performance.now();
  for (let tries = 0; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isBusy(error)) throw error;
      const waited = performance.now() - started;
      if (waited >= options.maxWaitMs) throw new DatabaseBusyError(waited);
      const pauseMs = PAUSES_MS[Math.min(tries, PAUSES_MS.length - 1)] as number;
      await pause(pauseMs * (0.5 + Math.random()));
    }
  }
}

/** Hands the process's one connection to one caller at a time, first come first served. */
class ConnectionTurns {
  private held = false;
  private readonly waiting: (() => void)[] = [];

  async take(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  give(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.held = false;
  }
}

class LockWaitingConnection implements DatabaseConnection {
  constructor(
    readonly inner: DatabaseConnection,
    private readonly sqlite: SQLite.Database,
    private readonly options: LockWaitOptions,
    private readonly turns: ConnectionTurns,
  ) {}

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    // Inside a transaction the write lock is already held (BEGIN IMMEDIATE).
    if (this.sqlite.inTransaction) return this.inner.executeQuery<R>(query);
    return this.untilUnlocked(() => this.inner.executeQuery<R>(query));
  }

  /** Runs `attempt` until it meets no lock, giving the connection to others while it pauses. */
  untilUnlocked<T>(attempt: () => Promise<T>): Promise<T> {
    return retryWhileLocked(attempt, this.options, async (ms) => {
      // No transaction is open (a BEGIN that met the lock opened none): nothing of this caller's
      // state lives on the connection while another caller uses it.
      this.turns.give();
      try {
        await sleep(ms);
      } finally {
        await this.turns.take();
      }
    });
  }

  streamQuery<R>(query: CompiledQuery, chunkSize: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

class LockWaitingDriver implements Driver {
  private readonly turns = new ConnectionTurns();
  private readonly wrapped = new WeakMap<DatabaseConnection, LockWaitingConnection>();

  constructor(
    private readonly inner: Driver,
    private readonly sqlite: SQLite.Database,
    private readonly options: LockWaitOptions,
  ) {}

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.turns.take();
    const connection = await this.inner.acquireConnection();
    let wrapper = this.wrapped.get(connection);
    if (!wrapper) {
      wrapper = new LockWaitingConnection(connection, this.sqlite, this.options, this.turns);
      this.wrapped.set(connection, wrapper);
    }
    return wrapper;
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    const begin = CompiledQuery.raw('begin immediate');
    if (connection instanceof LockWaitingConnection)
      await connection.untilUnlocked(() => connection.inner.executeQuery(begin));
    else await connection.executeQuery(begin);
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    // SQLite ends a transaction by itself on some errors (SQLITE_FULL, SQLITE_IOERR); a ROLLBACK
    // then fails with "cannot rollback - no transaction is active", and that error would replace
    // the real one. Roll back only a transaction that is still open.
    if (this.sqlite.inTransaction) await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']) {
    await this.inner.savepoint?.(connection, name, compile);
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']) {
    await this.inner.rollbackToSavepoint?.(connection, name, compile);
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']) {
    await this.inner.releaseSavepoint?.(connection, name, compile);
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    try {
      await this.inner.releaseConnection(connection instanceof LockWaitingConnection ? connection.inner : connection);
    } finally {
      this.turns.give();
    }
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

class CallerQueuingSqliteAdapter extends SqliteAdapter {
  // kysely queues callers of a single-connection dialect for the whole time they hold the
  // connection, a lock wait included; this driver queues them itself and lets others in meanwhile.
  override get supportsMultipleConnections(): boolean {
    return true;
  }
}

/**
 * kysely's SQLite dialect with lock waits on timers instead of SQLite's blocking busy handler, and
 * compiled statements kept for reuse (statement-cache.ts).
 */
export class LockWaitingSqliteDialect extends SqliteDialect {
  constructor(
    private readonly sqlite: SQLite.Database,
    private readonly options: LockWaitOptions,
  ) {
    super({ database: new StatementCache(sqlite) });
  }

  override createDriver(): Driver {
    return new LockWaitingDriver(super.createDriver(), this.sqlite, this.options);
  }

  /** The driver hands out its one connection itself (ConnectionTurns), so kysely need not queue callers. */
  override createAdapter(): DialectAdapter {
    return new CallerQueuingSqliteAdapter();
  }
}
