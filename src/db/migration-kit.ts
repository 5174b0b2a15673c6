import { sql, type ColumnDefinitionBuilder, type CreateTableBuilder, type Expression, type Kysely } from 'kysely';

export type DialectName = 'sqlite' | 'postgres';

/**
 * What a migration needs to know about the database it runs on. Kysely gives migrations no dialect
 * on purpose; ours get this kit as a second argument, and every difference between SQLite and
 * PostgreSQL in the schema is decided here, once:
 *
 * - `id`: SQLite's `integer primary key autoincrement`, PostgreSQL's identity column.
 * - `text`: compared and ordered byte by byte on both: SQLite's default BINARY collation, and
 *   `COLLATE "C"` on PostgreSQL (whose database default follows the server's locale, so `ORDER BY`,
 *   `<` and `lower()` would otherwise differ between the two and between servers).
 * - `time`: ISO-8601 UTC text on SQLite, `timestamptz(3)` on PostgreSQL; the driver hands both back
 *   as the same ISO text (see `postgres-pool.ts`), so code compares and sorts them alike.
 * - `json`: text holding JSON on both: repositories parse it at their edge and SQL treats it as text
 *   (`LIKE` works on both); PostgreSQL's json types would come back parsed from the driver.
 * - `boolean`: PostgreSQL's boolean; on SQLite a column declared `boolean` holding 0 or 1, turned
 *   back into true/false by the SQLite booleans plugin.
 * - `float`: an 8-byte float on both (SQLite's `real`; PostgreSQL's `real` would be 4 bytes, about
 *   7 digits: a token bucket or a rate kept in it would drift).
 */
export interface MigrationKit {
  readonly dialect: DialectName;
  /** `.addColumn('id', 'integer', kit.id)`: an integer primary key the database numbers. */
  readonly id: (column: ColumnDefinitionBuilder) => ColumnDefinitionBuilder;
  readonly text: DataTypeExpression;
  readonly time: DataTypeExpression;
  readonly json: DataTypeExpression;
  readonly boolean: DataTypeExpression;
  readonly float: DataTypeExpression;
  /**
   * A CHECK constraint named `<table>_<column>_check` keeping `column` to `values`, for a table being
   * created: `.$call(kit.oneOf('issues', 'status', ['draft', 'sent']))`.
   */
  oneOf(table: string, column: string, values: readonly string[]): <B extends AnyCreateTable>(builder: B) => B;
  /**
   * Sets (adds or replaces) the `<table>_<column>_check` constraint of an existing table. Rows whose
   * value is outside `values` stop the migration with an error naming them (NULL passes a CHECK, as
   * SQL has it: add `notNull()` to the column to refuse it). On SQLite, which cannot
   * alter a constraint, the table is rebuilt in one transaction (indexes kept, foreign keys checked).
   */
  setOneOf(db: Kysely<unknown>, table: string, column: string, values: readonly string[]): Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any table and column names
type AnyCreateTable = CreateTableBuilder<any, any>;
/** A column type as `addColumn` takes it (kysely does not export the name). */
type DataTypeExpression = Parameters<CreateTableBuilder<string, string>['addColumn']>[1];

/** A migration written against the kit; `src/db/database.ts` lists them. */
export interface KitMigration {
  up: (db: Kysely<unknown>, kit: MigrationKit) => Promise<void>;
  down?: (db: Kysely<unknown>, kit: MigrationKit) => Promise<void>;
}

export function checkName(table: string, column: string): string {
  return `${table}_${column}_check`;
}

function inList(column: string, values: readonly string[]): Expression<unknown> {
  if (values.length === 0) throw new Error(`${column}: a CHECK needs at least one allowed value`);
  return sql`${sql.ref(column)} in (${sql.join(values.map((v) => sql.lit(v)))})`;
}

export function migrationKit(dialect: DialectName): MigrationKit {
  const postgres = dialect === 'postgres';
  return {
    dialect,
    id: postgres ? (c) => c.primaryKey().generatedByDefaultAsIdentity() : (c) => c.primaryKey().autoIncrement(),
    text: postgres ? sql`text collate "C"` : 'text',
    time: postgres ? sql`timestamptz(3)` : 'text',
    json: postgres ? sql`text collate "C"` : 'text',
    boolean: 'boolean',
    float: postgres ? 'double precision' : 'real',
    oneOf: (table, column, values) => (builder) =>
      builder.addCheckConstraint(checkName(table, column), inList(column, values)) as typeof builder,
    setOneOf: async (db, table, column, values) => {
      await refuseValuesOutside(db, table, column, values);
      if (postgres) {
        const name = checkName(table, column);
        await sql`alter table ${sql.table(table)} drop constraint if exists ${sql.ref(name)}`.execute(db);
        await sql`alter table ${sql.table(table)} add constraint ${sql.ref(name)} check (${inList(column, values)})`.execute(
          db,
        );
      } else {
        await rebuildSqliteTable(db, table, (create) => withSqliteCheck(create, table, column, values));
      }
    },
  };
}

async function refuseValuesOutside(
  db: Kysely<unknown>,
  table: string,
  column: string,
  values: readonly string[],
): Promise<void> {
  const bad = await sql<{ value: string; n: number }>`
    select ${sql.ref(column)} as value, count(*) as n from ${sql.table(table)}
    where not (${inList(column, values)})
    group by ${sql.ref(column)}`.execute(db);
  if (bad.rows.length === 0) return;
  const found = bad.rows.map((r) => `'${r.value}' (${Number(r.n)} rows)`).join(', ');
  throw new Error(
    `${table}.${column} holds values outside ${values.map((v) => `'${v}'`).join(', ')}: ${found}. ` +
      `Correct those rows, then run the migration again.`,
  );
}

/** The CREATE TABLE text with the named CHECK constraint replaced, or added before the last `)`. */
export function withSqliteCheck(create: string, table: string, column: string, values: readonly string[]): string {
  const name = checkName(table, column);
  const list = values.map((v) => `'${v.replaceAll("'", "''")}'`).join(', ');
  const constraint = `constraint "${name}" check ("${column}" in (${list}))`;
  const start = create.indexOf(`constraint "${name}" check (`);
  if (start === -1) {
    const end = create.lastIndexOf(')');
    return `${create.slice(0, end)}, ${constraint}${create.slice(end)}`;
  }
  // Find the parenthesis closing `check (`; values are quoted, and quotes inside them are doubled.
  let depth = 0;
  let inQuote = false;
  for (let i = create.indexOf('(', start); i < create.length; i++) {
    const ch = create[i];
    if (ch === "'") inQuote = !inQuote;
    else if (!inQuote && ch === '(') depth++;
    else if (!inQuote && ch === ')' && --depth === 0) return create.slice(0, start) + constraint + create.slice(i + 1);
  }
  throw new Error(`${table}: cannot read the CREATE TABLE text of constraint ${name}`);
}

/**
 * SQLite's way to change a table's constraints (https://sqlite.org/lang_altertable.html, "Making
 * Other Kinds Of Table Schema Changes"): create the new table, copy the rows, drop the old one,
 * rename, recreate its indexes, with foreign keys off so dropping cascades nothing, and checked
 * before commit.
 */
async function rebuildSqliteTable(
  db: Kysely<unknown>,
  table: string,
  change: (create: string) => string,
): Promise<void> {
  const objects = await sql<{ type: string; name: string; sql: string | null }>`
    select type, name, sql from sqlite_master where tbl_name = ${table} order by rowid`.execute(db);
  const create = objects.rows.find((o) => o.type === 'table' && o.name === table)?.sql;
  if (!create) throw new Error(`${table}: no such table`);
  const others = objects.rows.filter((o) => o.name !== table && o.sql !== null);
  const renamed = `${table}__rebuild`;
  const newCreate = change(create).replace(/^CREATE TABLE "?[A-Za-z0-9_]+"?/, `CREATE TABLE "${renamed}"`);
  const fkOn = (await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(db)).rows[0]?.foreign_keys === 1;
  await sql`pragma foreign_keys = off`.execute(db);
  try {
    await db.transaction().execute(async (trx) => {
      await sql.raw(newCreate).execute(trx);
      await sql`insert into ${sql.table(renamed)} select * from ${sql.table(table)}`.execute(trx);
      await sql`drop table ${sql.table(table)}`.execute(trx);
      await sql`alter table ${sql.table(renamed)} rename to ${sql.table(table)}`.execute(trx);
      for (const o of others) await sql.raw(o.sql ?? '').execute(trx);
      const broken = await sql`pragma foreign_key_check`.execute(trx);
      if (broken.rows.length > 0) throw new Error(`${table}: rebuilding it would break foreign keys`);
    });
  } finally {
    if (fkOn) await sql`pragma foreign_keys = on`.execute(db);
  }
}
