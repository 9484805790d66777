import { defineConfig } from "vitest/config"

// Load smoke tests (`*.load.ts`): they spawn the binaries and drive 100 sessions, so they run on
// their own (`npm run test:load`, a step of .ci/run), not in `npm test`, where they would slow
// the suite and starve its timing-sensitive tests on a small machine.
export default defineConfig({
  test: {
    include: ["test/**/*.load.ts"],
    testTimeout: 120_000,
    pool: "forks",
    maxWorkers: 1,
  },
})
