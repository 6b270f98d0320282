import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['kernels-test/**/*.test.ts'],
    // Each test file opens its own GPU device per runtime; a software adapter on a 2-core
    // machine is slow, so files run one at a time and get generous timeouts.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default', './kernels-test/summary-reporter.ts'],
  },
});
