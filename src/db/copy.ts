import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.js';
import { databaseDialect, migrate, openDatabase, pendingMigrations, type DialectName } from './database.js';

/** Any table, any columns: the copy moves rows it does not interpret. */
type AnyTables = Record<string, Record<string, unknown>>;
type Row = Record<string, unknown>;

export class CopyError extends Error {}

export interface CopyOptions {
  /** The SQLite database file to copy from (left as it is). */
  from: string;
  /** The database to copy into: a postgres:// URL (or another SQLite file). */
  to: string;
  /** Delete what the target holds first; without it a target holding rows is refused. */
  replace?: boolean;
  /** Told each table as it is copied. */
  progress?: (table: string, rows: number) => void;
}

export interface TableCount {
  table: string;
  rows: number;
}

/** Rows per INSERT: PostgreSQL takes at most 65,535 parameters in one statement. */
const PARAMETERS_PER_INSERT = 30_000;

/** A database URL fit to print: the password is left out. */
export function redactUrl(url: string): string {
  if (databaseDialect(url) !== 'postgres') return url;
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://…';
  }
}

/**
 * Copies every row of a SQLite database into another database (PostgreSQL, to move a publication
 * over). The source is read in one read transaction, a consistent snapshot even while the service
 * still writes to it; the target is written in one transaction that commits only when every table
 * holds as many rows as the source's snapshot did, so a failure leaves the target as it was.
 */
export async function copyDatabase(options: CopyOptions): Promise<TableCount[]> {
  if (databaseDialect(options.from) !== 'sqlite') {
    throw new CopyError(`--from must be a SQLite database file (got ${redactUrl(options.from)})`);
  }
  if (options.from === options.to) throw new CopyError('--from and --to name the same database');
  const source = openDatabase(options.from);
  const target = openDatabase(options.to);
  try {
    const missing = await pendingMigrations(source);
    if (missing.length > 0) {
      throw new CopyError(
        `${options.from} lacks migrations ${missing.join(', ')}: run \`DATABASE_URL=${options.from} newsletter migrate\` first`,
      );
    }
    await migrate(target);
    // A read snapshot of the source, not a write transaction (this project's SQLite transactions
    // take the write lock): a service still running beside the copy keeps writing, but what it
    // writes after the snapshot is not copied (README: stop it first).
    return await source.connection().execute(async (from) => {
      await sql`begin deferred`.execute(from);
      try {
        return await target.transaction().execute((to) => copyTables(from, to, databaseDialect(options.to), options));
      } finally {
        await sql`rollback`.execute(from);
      }
    });
  } finally {
    await source.destroy();
    await target.destroy();
  }
}

async function copyTables(
  source: Kysely<Database>,
  target: Transaction<Database>,
  targetDialect: DialectName,
  options: CopyOptions,
): Promise<TableCount[]> {
  const tables = await tablesInCopyOrder(source);
  const held = await countRows(target, tables);
  // Rows the migrations themselves write (health_probe's one row) do not make a target "used".
  const seeded = new Map((await rowsMigrationsWrite(tables)).map((t) => [t.table, t.rows]));
  const nonEmpty = held.filter((t) => t.rows > (seeded.get(t.table) ?? 0));
  if (nonEmpty.length > 0 && !options.replace) {
    throw new CopyError(
      `the target already holds rows (${nonEmpty.map((t) => `${t.table}: ${t.rows}`).join(', ')}); ` +
        'copy into an empty database, or pass --replace to delete them first',
    );
  }
  // The source's rows replace them, seeded ones included.
  for (const table of [...tables].reverse()) await sql`delete from ${sql.table(table)}`.execute(target);
  const dynamicSource = source as unknown as Kysely<AnyTables>;
  const dynamicTarget = target as unknown as Kysely<AnyTables>;
  for (const table of tables) {
    let batch: Row[] = [];
    let copied = 0;
    let perInsert = 0;
    for await (const row of dynamicSource.selectFrom(table).selectAll().stream()) {
      perInsert ||= Math.max(1, Math.min(1000, Math.floor(PARAMETERS_PER_INSERT / Object.keys(row).length)));
      batch.push(row);
      if (batch.length === perInsert) {
        await insertBatch(dynamicTarget, table, batch);
        copied += batch.length;
        batch = [];
      }
    }
    if (batch.length > 0) await insertBatch(dynamicTarget, table, batch);
    options.progress?.(table, copied + batch.length);
  }
  if (targetDialect === 'postgres') await restartIdentities(target);
  const wanted = await countRows(source, tables);
  const got = await countRows(target, tables);
  const differ = wanted.filter((w, i) => got[i]?.rows !== w.rows);
  if (differ.length > 0) {
    throw new CopyError(
      `row counts differ after the copy (${differ.map((d) => d.table).join(', ')}); nothing was committed`,
    );
  }
  return wanted;
}

/**
 * Inserts a batch under a savepoint; when the target refuses it, finds the row it refuses (one at a
 * time, each under its own savepoint) and names it: the first column (its key) and the reason.
 */
async function insertBatch(target: Kysely<AnyTables>, table: string, rows: Row[]): Promise<void> {
  await sql`savepoint copy_batch`.execute(target);
  try {
    await target.insertInto(table).values(rows).execute();
    await sql`release savepoint copy_batch`.execute(target);
    return;
  } catch {
    await sql`rollback to savepoint copy_batch`.execute(target);
  }
  // Row by row, each one kept as it goes in: PostgreSQL ends a transaction at its first error.
  for (const row of rows) {
    await sql`release savepoint copy_batch`.execute(target);
    await sql`savepoint copy_batch`.execute(target);
    try {
      await target.insertInto(table).values(row).execute();
    } catch (error) {
      const [key, value] = Object.entries(row)[0] ?? ['row', '?'];
      const reason = error instanceof Error ? error.message : String(error);
      throw new CopyError(
        `${table}: the target refused the row ${key} = ${String(value)}: ${reason}. ` +
          'Correct that row in the source (or the value the message names), then copy again; nothing was committed.',
        { cause: error },
      );
    }
  }
  await sql`release savepoint copy_batch`.execute(target);
}

/** The source's tables, each after the tables its foreign keys point to. */
async function tablesInCopyOrder(source: Kysely<Database>): Promise<string[]> {
  const tables = (await source.introspection.getTables()).filter((t) => !t.isView).map((t) => t.name);
  const parents = new Map<string, Set<string>>();
  for (const table of tables) {
    const keys = await sql<{ parent: string }>`select "table" as parent from pragma_foreign_key_list(${table})`.execute(
      source,
    );
    parents.set(table, new Set(keys.rows.map((k) => k.parent).filter((p) => p !== table)));
  }
  const ordered: string[] = [];
  const visit = (table: string, path: string[]) => {
    if (ordered.includes(table)) return;
    if (path.includes(table)) throw new CopyError(`foreign keys form a cycle: ${[...path, table].join(' → ')}`);
    for (const parent of [...(parents.get(table) ?? [])].sort()) visit(parent, [...path, table]);
    ordered.push(table);
  };
  for (const table of [...tables].sort()) visit(table, []);
  return ordered;
}

/** What a freshly migrated database holds, per table: the rows the migrations write themselves. */
async function rowsMigrationsWrite(tables: string[]): Promise<TableCount[]> {
  const fresh = openDatabase(':memory:');
  try {
    await migrate(fresh);
    return await countRows(fresh, tables);
  } finally {
    await fresh.destroy();
  }
}

async function countRows(db: Kysely<Database>, tables: string[]): Promise<TableCount[]> {
  const counts: TableCount[] = [];
  for (const table of tables) {
    const result = await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(db);
    counts.push({ table, rows: Number(result.rows[0]?.n ?? 0) });
  }
  return counts;
}

/** PostgreSQL identities continue after the highest id copied (explicit ids do not advance them). */
async function restartIdentities(target: Kysely<Database>): Promise<void> {
  const identities = await sql<{ table_name: string; column_name: string }>`
    select table_name, column_name from information_schema.columns
    where table_schema = current_schema() and is_identity = 'YES'`.execute(target);
  for (const { table_name: table, column_name: column } of identities.rows) {
    await sql`select setval(pg_get_serial_sequence(${`"${table}"`}, ${column}),
      coalesce((select max(${sql.ref(column)}) from ${sql.table(table)}), 0) + 1, false)`.execute(target);
  }
}
