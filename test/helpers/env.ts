/**
 * Where the tests find the machine's real services. Override with TEST_DATABASE_URL / TEST_REDIS_URL.
 * (Test-only: product code reads settings through src/config.)
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
