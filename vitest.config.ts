import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Tests start real HTTPS servers and child processes; keep them generous but bounded.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
  },
})
