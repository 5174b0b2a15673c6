// `npm run db:types`: writes src/db/schema.generated.ts, the schema's TypeScript types, from what
// the migrations build on a fresh in-memory SQLite database. Run it after writing a migration;
// test/db/schema-types.test.ts fails until the committed file matches (on PostgreSQL too).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import prettier from 'prettier';
import { PROJECT_ROOT } from '../src/config/config.js';
import { migrate, openDatabase, type DialectName } from '../src/db/database.js';
import { describeSchema, renderSchemaTypes } from '../src/db/schema-types.js';

export const GENERATED_FILE = path.join(PROJECT_ROOT, 'src', 'db', 'schema.generated.ts');

/** The generated file's text for the database `db` reaches, formatted as the project formats code. */
export async function schemaTypesOf(db: Kysely<unknown>, dialect: DialectName): Promise<string> {
  const text = renderSchemaTypes(await describeSchema(db, dialect));
  const options = await prettier.resolveConfig(GENERATED_FILE);
  return prettier.format(text, { ...options, filepath: GENERATED_FILE });
}

async function main(): Promise<void> {
  const db = openDatabase(':memory:');
  try {
    await migrate(db);
    writeFileSync(GENERATED_FILE, await schemaTypesOf(db as unknown as Kysely<unknown>, 'sqlite'));
    console.log(`wrote ${path.relative(process.cwd(), GENERATED_FILE)}`);
  } finally {
    await db.destroy();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) await main();
