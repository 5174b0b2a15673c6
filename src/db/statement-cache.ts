import type SQLite from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';
import { LRUCache } from 'lru-cache';

// kysely's SQLite dialect prepares every query it runs (`database.prepare(sql)`), and compiling SQL
// is most of what a short query costs: a fifth of the server's CPU on a one-click unsubscribe and a
// sixth on a cached issue page (bench:web profiles). Queries built by the code have a few hundred
// distinct texts, so the dialect is handed this object as its database: it keeps compiled statements
// by their text and hands the same one back. A statement runs to completion before the next caller
// gets the connection (`all` and `run` are synchronous), except one being iterated by a stream:
// that one is busy, and the same text gets a statement of its own meanwhile.

/** Distinct query texts kept compiled; least recently used out first. */
const MAX_STATEMENTS = 300;
/** Longer texts (multi-row inserts of imports, long `in (…)` lists) are compiled each time, not kept. */
const MAX_CACHED_SQL_LENGTH = 2000;

export class StatementCache implements SqliteDatabase {
  private readonly statements = new LRUCache<string, SQLite.Statement>({ max: MAX_STATEMENTS });
  private compiled = 0;

  constructor(private readonly sqlite: SQLite.Database) {}

  prepare(sql: string): SqliteStatement {
    const cached = this.statements.get(sql);
    if (cached && !cached.busy) return cached;
    this.compiled++;
    const statement = this.sqlite.prepare(sql);
    if (!cached && sql.length <= MAX_CACHED_SQL_LENGTH) this.statements.set(sql, statement);
    return statement;
  }

  /** How many statements are kept, and how many times SQL was compiled since the database opened. */
  stats(): { kept: number; compiled: number } {
    return { kept: this.statements.size, compiled: this.compiled };
  }

  close(): void {
    this.statements.clear();
    this.sqlite.close();
  }
}
