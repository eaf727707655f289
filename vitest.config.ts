import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // One throwaway PostgreSQL cluster per run, for the store's tests on that backend.
    globalSetup: ['test/setup/global.ts'],
  },
});
