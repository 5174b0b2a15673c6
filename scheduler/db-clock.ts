import { PostgresAdapter, sql, type Kysely, type RawBuilder } from 'kysely';

// One clock for every sender: the database's. Leases, takeovers and the shared rate limit compare
// times in epoch milliseconds taken inside the SQL statement itself, so a sender whose own clock
// runs ahead (or behind) decides nothing with it. On SQLite the database's clock is the machine's
// (SQLite runs in the process, and every process sharing the file shares the machine).

/** True when the database is PostgreSQL (advisory locks, SKIP LOCKED); false for SQLite. */
export function isPostgres<DB>(db: Kysely<DB>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/**
 * The database's time now, in epoch milliseconds, as a SQL expression that keeps one value for the
 * whole statement (SQLite's 'now' is fixed per statement; PostgreSQL's statement_timestamp() too).
 */
export function dbNowMs<DB>(db: Kysely<DB>): RawBuilder<number> {
  return isPostgres(db)
    ? sql<number>`(extract(epoch from statement_timestamp()) * 1000)::bigint`
    : sql<number>`cast((julianday('now') - 2440587.5) * 86400000.0 as integer)`;
}

/**
 * The database's time `afterMs` from now (negative: before), as a time column holds it: ISO-8601
 * UTC text with milliseconds on SQLite (the form `toISOString()` writes, so text order is time
 * order), timestamptz on PostgreSQL. One value for the whole statement, as with `dbNowMs`.
 */
export function dbTimeAfter<DB>(db: Kysely<DB>, afterMs: number): RawBuilder<string> {
  return isPostgres(db)
    ? sql<string>`(statement_timestamp() + cast(${afterMs} as double precision) * interval '1 millisecond')`
    : sql<string>`strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ${`${afterMs / 1000} seconds`})`;
}

/** Reads the database's clock (epoch ms). */
export async function readDbNowMs<DB>(db: Kysely<DB>): Promise<number> {
  const { rows } = await sql<{ now: number | string }>`select ${dbNowMs(db)} as now`.execute(db);
  return Number(rows[0]?.now);
}
