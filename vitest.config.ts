import { existsSync } from 'node:fs';
import path from 'node:path';
import { configDefaults, defineConfig } from 'vitest/config';
import { unsupportedNodeMessage } from './bin/node-version.js';

// Before anything runs: on an unsupported Node the test processes would crash without saying why.
const unsupportedNode = unsupportedNodeMessage('npm test', process.versions.node);
if (unsupportedNode) {
  process.stderr.write(unsupportedNode);
  process.exit(1);
}

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

// The PostgreSQL run is the database-touching part of the suite: every test that reads or writes
// the service's database, except those whose subject is not the database (what a page looks like
// in Chromium, how an email renders or reaches a mail client, SMTP and DKIM on the wire, pure
// functions). Those run the same queries as tests kept in the run, and would double CI's time
// for nothing the second database could change. README, "Tests", says which.
const NOT_ON_POSTGRES = [
  'test/architecture/**',
  'test/build/**',
  'test/config/**',
  'test/cli/node-flags.test.ts',
  'test/render/**',
  'test/mail/**',
  'test/**/*browser*.test.ts',
  'test/editors/journey.test.ts',
  'test/editors/preview.test.ts',
  'test/scheduler/dkim.test.ts',
  'test/scheduler/email-budget.test.ts',
  'test/scheduler/email-spam.test.ts',
  'test/scheduler/encoded-edition.test.ts',
  'test/scheduler/schedule.test.ts',
  'test/scheduler/send-manager.test.ts',
  'test/scheduler/smtp-failures.test.ts',
  'test/scheduler/bounces/bounce-address.test.ts',
  'test/scheduler/bounces/returned-mail.test.ts',
  'test/subscribers/csv-encoding.test.ts',
  'test/subscribers/csv-formula.test.ts',
  'test/subscribers/tokens.test.ts',
  'test/tracking/click-token.test.ts',
  'test/tracking/click-recorder.test.ts',
  'test/tracking/machine-clicks.test.ts',
  'test/db/sqlite-booleans.test.ts',
  'test/db/lock-waiting-sqlite.test.ts',
  'test/db/statement-cache.test.ts',
  'test/helpers/eventually.test.ts',
  // A SQLite file on a small tmpfs that fills up: the disk under a PostgreSQL server is not the test's.
  'test/db/storage-health.test.ts',
  // The Node runtime surviving load, HTTP body parsing and limits, logging, page caches, file reading.
  'test/app/survival.test.ts',
  'test/http/form-body.test.ts',
  'test/editors/form-limits.test.ts',
  'test/log/**',
  // SQLite's own files on disk (WAL, modes) and SQLite's write lock under a long import.
  'test/subscribers/erasure.test.ts',
  'test/subscribers/unsubscribe-under-load.test.ts',
  'test/web/encoded-pages.test.ts',
  'test/content/content-file.test.ts',
  'test/content/front-matter.test.ts',
  sampleTests,
];

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
              test: {
                name: 'postgres',
                globalSetup: ['test/global-setup.ts', 'test/postgres-setup.ts'],
                exclude: [...configDefaults.exclude, ...NOT_ON_POSTGRES],
              },
            },
          ]
        : []),
    ],
  },
});
