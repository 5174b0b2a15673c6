// The PostgreSQL database of `npm run bench:send -- --db postgres`: BENCH_DATABASE_URL or
// DATABASE_URL when one is set (a `postgres://` URL; the benchmark makes schemas of its own there
// and drops them after), else a throwaway server that Debian's postgresql-common starts:
// the benchmark runs itself again under `pg_virtualenv`, which makes a temporary cluster, sets the
// PG* variables for it, and removes it when the benchmark ends. No setting is changed from
// PostgreSQL's defaults (fsync on, as a real server runs), except connections enough for the senders.
import { spawnSync } from 'node:child_process';
import { sql } from 'kysely';
import { openDatabase } from '../src/db/database.js';

const UNDER_VIRTUALENV = 'BENCH_UNDER_PG_VIRTUALENV';

/**
 * The base URL to use, or undefined after this process ran the whole benchmark again under
 * pg_virtualenv (the caller then exits with `process.exitCode`).
 */
export function postgresForBench(): string | undefined {
  const given = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL;
  if (given) {
    if (!/^postgres(ql)?:\/\//.test(given))
      throw new Error('BENCH_DATABASE_URL / DATABASE_URL: give a postgres:// URL');
    return given;
  }
  if (process.env[UNDER_VIRTUALENV] === '1') {
    const { PGUSER, PGPASSWORD, PGHOST, PGPORT, PGDATABASE } = process.env;
    return `postgres://${PGUSER}:${encodeURIComponent(PGPASSWORD ?? '')}@${PGHOST}:${PGPORT}/${PGDATABASE}`;
  }
  process.stdout.write('No BENCH_DATABASE_URL or DATABASE_URL: starting a throwaway PostgreSQL (pg_virtualenv)…\n');
  const rerun = spawnSync(
    'pg_virtualenv',
    ['-o', 'max_connections=200', process.execPath, ...process.execArgv, ...process.argv.slice(1)],
    { stdio: 'inherit', env: { ...process.env, [UNDER_VIRTUALENV]: '1' } },
  );
  if (rerun.error)
    throw new Error(
      `could not run pg_virtualenv (${rerun.error.message}): install postgresql-common, or set BENCH_DATABASE_URL=postgres://…`,
    );
  process.exitCode = rerun.status ?? 1;
  return undefined;
}

/** `base` with a schema of its own for one run (the service creates it on first use). */
export function schemaUrl(base: string, schema: string): string {
  const url = new URL(base);
  url.searchParams.set('schema', schema);
  return url.toString();
}

export async function dropSchema(base: string, schema: string): Promise<void> {
  const db = openDatabase(base);
  try {
    await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(db);
  } finally {
    await db.destroy();
  }
}
