import { availableParallelism } from "node:os"
import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Tests start real HTTPS servers and child processes; keep them generous but bounded.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Forks, not threads: a few tests spawn and signal processes and capture process.stdout;
    // both pools measured the same here.
    pool: "forks",
    // One worker per core, not vitest's default of cores - 1: most test time is spent waiting
    // on sockets, task polls and child processes, and on 2 cores the default is a single worker
    // (vitest ~40 s; with 2 workers ~25 s; 3 workers were no faster).
    maxWorkers: availableParallelism(),
    // One module graph per worker, not per file: loading Effect and the SDK again for each of
    // ~30 files cost ~25 s of the run on 2 cores. Tests share no module state they mutate
    // (spies are restored, each test builds its own layers and simulator).
    isolate: false,
  },
})
