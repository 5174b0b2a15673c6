import { existsSync } from 'node:fs';
import path from 'node:path';
import { configDefaults, defineConfig } from 'vitest/config';

// Tests named *.sample.test.ts check the publisher's real issue, which sits beside the project in
// CI (../shared/sample) and not in a clone of the project alone: there they are left out, with one
// line saying so. Every other test uses the project's own fixtures.
const SAMPLE_ISSUE = path.resolve(import.meta.dirname, '..', 'shared', 'sample', 'oct-nov-2020', 'issue.md');
const sampleTests = 'test/**/*.sample.test.ts';
const withSample = existsSync(SAMPLE_ISSUE);
if (!withSample) console.log(`Not running ${sampleTests}: the real sample issue ${SAMPLE_ISSUE} is absent.`);

// The suite runs on SQLite, and again on PostgreSQL when TEST_DATABASE_URL names a server (a role
// that may create databases): the `postgres` project's run makes a database of its own there, and
// each test environment a schema in it (test/postgres-setup.ts, test/helpers/test-database.ts).
const postgres = process.env.TEST_DATABASE_URL;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, ...(withSample ? [] : [sampleTests])],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Browser and child-process tests are heavy on a 2-core machine.
    maxWorkers: 2,
    minWorkers: 1,
    projects: [
      { extends: true, test: { name: 'sqlite', globalSetup: ['test/global-setup.ts'] } },
      ...(postgres
        ? [
            {
              extends: true as const,
              test: { name: 'postgres', globalSetup: ['test/global-setup.ts', 'test/postgres-setup.ts'] },
            },
          ]
        : []),
    ],
  },
});
