import { ensureBuilt } from '../bin/build.js';

// Tests that start the command line as a real child process run the built JavaScript; building
// once here, before any test file runs, spares those children a build of their own, and two of
// them racing to build at the same time.
export default async function setup(): Promise<void> {
  await ensureBuilt();
}
