// The review card's tests: node (no DOM; @hubspot/ui-extensions/testing renders to its own tree).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  oxc: { jsx: { runtime: 'automatic' } },
  test: {
    environment: 'node',
    include: ['src/app/cards/__tests__/**/*.test.{ts,tsx}'],
    setupFiles: ['src/app/cards/__tests__/setup.ts'],
    pool: 'threads',
    maxWorkers: 1,
  },
});
