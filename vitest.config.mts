import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One Azurite for the whole run (blob, queue, table); see the file for the endpoints it provides.
    globalSetup: ['test/support/azurite-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
