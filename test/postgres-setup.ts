import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TestProject } from 'vitest/node';

/**
 * The `postgres` project's run gets a database of its own on the server TEST_DATABASE_URL names
 * (its role needs CREATEDB), dropped when the run ends; each test environment makes a schema in it.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) throw new Error('the postgres project runs only with TEST_DATABASE_URL set');
  const name = `newsletter_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } catch (error) {
    await admin.end();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`TEST_DATABASE_URL: cannot create a test database (${reason}); the role needs CREATEDB`, {
      cause: error,
    });
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  project.provide('postgresUrl', url.toString());
  return async () => {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  };
}
