import { defineConfig } from 'vitest/config';

// Unit and integration tests live under test/ (mirroring pbx/ and operator/), whole-system ones under e2e/.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'e2e/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    coverage: {
      provider: 'v8',
      include: ['pbx/**/*.ts', 'operator/**/*.ts'],
      exclude: ['**/*.test.ts', 'pbx/main.ts', 'operator/main.ts'],
      reporter: ['text-summary', 'json-summary'],
      thresholds: { lines: 80 },
    },
  },
});
