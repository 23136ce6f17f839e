import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // No global set-up: the files that use PostgreSQL or Redis ask for them (test/helpers/services.ts),
    // so the pure unit tests run without either; ./dev test provides both (test/with-services.ts).
  },
});
