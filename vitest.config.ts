import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites spawn real server processes; keep parallelism modest on a 2-core machine.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
