import { ensureBuilt } from '../bin/build.js';

// Tests that start the command line as a real child process run the built JavaScript; building
// once here, before any test file runs, spares those children a build of their own, and two of
// them racing to build at the same time. (Each project runs this; after the first it finds the
// build current and does nothing.)
export default async function setup(): Promise<void> {
  if (!process.env.TEST_DATABASE_URL) {
    console.log(
      'PostgreSQL run skipped: set TEST_DATABASE_URL=postgres://user:password@localhost:5432/postgres to run the suite on PostgreSQL too (README, "Tests").',
    );
  }
  await ensureBuilt();
}
