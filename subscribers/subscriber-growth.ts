import { sql, type RawBuilder } from 'kysely';
import { dialectOf, type Db } from '../src/db/database.js';
import { WITHDRAWN_STATUSES } from './subscriber-repository.js';

// How the list grew: who joined and who left, per day, read from each subscriber's own dates
// (`confirmed_at` is set when an address becomes active, `unsubscribed_at` when it leaves). A
// subscriber who left and came back counts once, on the day they came back.

export interface DailyChange {
  /** YYYY-MM-DD (UTC). */
  day: string;
  joined: number;
  left: number;
}

/** A time column's UTC day as YYYY-MM-DD: SQLite keeps ISO text, PostgreSQL a timestamptz. */
function utcDay(db: Db, column: 'confirmed_at' | 'unsubscribed_at'): RawBuilder<string> {
  return dialectOf(db) === 'postgres'
    ? sql<string>`to_char(${sql.ref(column)} at time zone 'UTC', 'YYYY-MM-DD')`
    : sql<string>`substr(${sql.ref(column)}, 1, 10)`;
}

/** Joins and departures per UTC day from `since` (an ISO instant) on; days with neither are absent. */
export async function subscriberChangesSince(db: Db, since: string): Promise<DailyChange[]> {
  const joined = await db
    .selectFrom('subscribers')
    .select(utcDay(db, 'confirmed_at').as('day'))
    .select((eb) => eb.fn.countAll<number | bigint>().as('n'))
    .where('confirmed_at', '>=', since)
    .groupBy('day')
    .execute();
  const left = await db
    .selectFrom('subscribers')
    .select(utcDay(db, 'unsubscribed_at').as('day'))
    .select((eb) => eb.fn.countAll<number | bigint>().as('n'))
    .where('unsubscribed_at', '>=', since)
    .where('status', 'in', WITHDRAWN_STATUSES)
    .groupBy('day')
    .execute();
  const days = new Map<string, DailyChange>();
  const at = (day: string): DailyChange => {
    const known = days.get(day);
    if (known) return known;
    const fresh = { day, joined: 0, left: 0 };
    days.set(day, fresh);
    return fresh;
  };
  for (const row of joined) at(row.day).joined += Number(row.n);
  for (const row of left) at(row.day).left += Number(row.n);
  return [...days.values()].sort((a, b) => a.day.localeCompare(b.day));
}
