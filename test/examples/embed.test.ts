/** examples/embed.ts runs as written: its output shows each call's typed result. */
import * as Effect from "effect/Effect"
import { describe, expect, it, vi } from "vitest"
import { main } from "../../examples/embed.js"

describe("examples/embed.ts", () => {
  it("lists nodes, reads a VM and catches UnknownNode", async () => {
    const lines: Array<string> = []
    const log = vi
      .spyOn(console, "log")
      .mockImplementation((...args: Array<unknown>) => void lines.push(args.join(" ")))
    try {
      await Effect.runPromise(main)
    } finally {
      log.mockRestore()
    }
    expect(lines[0]).toBe("nodes: pve1, pve2, pve3")
    expect(lines[1]).toMatch(/^vm 100: \{.*"status":"running"/)
    expect(lines[2]).toBe("node pve9: unknown; known nodes: pve1, pve2, pve3")
  })
})
