import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's own PostgreSQL database (test/postgres-setup.ts), in the `postgres` project only. */
    postgresUrl: string | undefined;
  }
}

/** Which database this test file runs on: its vitest project's. */
export function testDialect(): 'sqlite' | 'postgres' {
  return inject('postgresUrl') ? 'postgres' : 'sqlite';
}

/**
 * A DATABASE_URL for one test environment on PostgreSQL: a schema of its own in the run's
 * database (the service creates it on first use), so tests never see each other's rows.
 * Undefined on SQLite, where each environment has its own file.
 */
export function testDatabaseUrl(): string | undefined {
  const base = inject('postgresUrl');
  if (!base) return undefined;
  const url = new URL(base);
  url.searchParams.set('schema', `t_${randomBytes(8).toString('hex')}`);
  return url.toString();
}
