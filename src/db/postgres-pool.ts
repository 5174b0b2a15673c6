import os from 'node:os';
import pg from 'pg';

/** Type ids (pg_type.oid) whose values the pool hands back in the same shape SQLite does. */
const INT8 = 20; // count(*), sum(integer), bigint
const NUMERIC = 1700; // avg(), sum(bigint)
const TIMESTAMP = 1114;
const TIMESTAMPTZ = 1184;

const defaultTimestamp = pg.types.getTypeParser(TIMESTAMPTZ, 'text') as (value: string) => Date;

function safeInteger(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`PostgreSQL returned ${value}, beyond a safe JavaScript integer`);
  return n;
}

/**
 * The driver's readings, per pool (never pg's global table): counts and bigints as numbers, as
 * better-sqlite3 returns them (pg gives strings, since a bigint may exceed 2^53: ours are row
 * counts and ids, and one that did would fail loudly here); times as ISO-8601 UTC text, the form
 * SQLite columns hold, so code reads the same string from both (timestamptz(3) keeps the
 * milliseconds JavaScript has).
 */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (format === undefined || format === 'text') {
      if (oid === INT8) return safeInteger;
      if (oid === NUMERIC) return Number;
      if (oid === TIMESTAMPTZ) return (value: string) => defaultTimestamp(value).toISOString();
      // The session runs in UTC (below), so a plain timestamp is read as UTC too.
      if (oid === TIMESTAMP) return (value: string) => defaultTimestamp(`${value}+00`).toISOString();
    }
    return pg.types.getTypeParser(oid, format) as (value: string) => unknown;
  }) as pg.CustomTypesConfig['getTypeParser'],
};

export interface PostgresTarget {
  /** The URL given to the driver, without the parameters read here. */
  connectionString: string;
  /** `?schema=name`: the service keeps its tables in that schema, creating it when missing. */
  schema: string | undefined;
  /** libpq's startup `options`, the URL's own `?options=` first. */
  options: string;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Reads a `postgres://` DATABASE_URL; `schema` and `options` are taken out, the rest goes to pg. */
export function parsePostgresUrl(databaseUrl: string): PostgresTarget {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new Error('DATABASE_URL: not a valid URL; write it as postgres://user:password@host:5432/database');
  }
  const schema = url.searchParams.get('schema') ?? undefined;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new Error(`DATABASE_URL: schema "${schema}" must be lower-case letters, digits and _ (63 at most)`);
  }
  const own = url.searchParams.get('options');
  url.searchParams.delete('schema');
  url.searchParams.delete('options');
  // UTC sessions: a time written without an offset means UTC, as in the ISO text SQLite keeps.
  const options = [own, '-c TimeZone=UTC', schema ? `-c search_path=${schema}` : undefined]
    .filter((o): o is string => Boolean(o))
    .join(' ');
  return { connectionString: url.toString(), schema, options };
}

export function createPostgresPool(target: PostgresTarget): pg.Pool {
  const pool = new pg.Pool({
    connectionString: target.connectionString,
    options: target.options,
    types,
    // Names the process in pg_stat_activity (host and pid, as `newsletter workers` shows senders),
    // so an operator (or a test) can tell which process holds a connection or a lock; 63 bytes kept.
    application_name: `newsletter ${os.hostname()}:${process.pid}`.slice(0, 63),
  });
  // A connection the server ends while a caller holds it between queries (the scheduler's lock
  // connection, when the server restarts or an operator runs pg_terminate_backend) emits 'error'
  // with no listener, which Node turns into an uncaught exception that ends the whole process. The
  // holder learns of it at its next query instead (the client refuses to be queried), and the pool
  // discards the client when it comes back.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}
