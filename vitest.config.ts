import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Browser and child-process tests are heavy on a 2-core machine.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
