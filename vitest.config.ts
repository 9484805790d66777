import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Tests start real HTTPS servers and child processes; keep them generous but bounded.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    // One module graph per worker, not per file: loading Effect and the SDK again for each of
    // ~30 files cost ~25 s of the run on 2 cores. Tests share no module state they mutate
    // (spies are restored, each test builds its own layers and simulator).
    isolate: false,
  },
})
