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

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, ...(withSample ? [] : [sampleTests])],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Browser and child-process tests are heavy on a 2-core machine.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
