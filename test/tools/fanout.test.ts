/**
 * A cluster-wide read over many nodes (issue 8): every node asked once, at most
 * FAN_OUT_CONCURRENCY at a time (all 50 here, in one wave); a dead node is a warning next to the others' answers and costs
 * its one failed request, not the back-offs of retries. (How long it takes is the benchmark's
 * business, not a test's: `npm run bench` reports the fan-out against the slowest node.)
 */
import { it as itEffect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { FAN_OUT_CONCURRENCY, perNode } from "../../src/tools/fanout.js"
import {
  callTool,
  configFor,
  okData,
  runtimeFor,
  startTestCluster,
  type TestRuntime,
} from "../support/cluster.js"

const NODES = Array.from({ length: 50 }, (_, i) => `pve${i + 1}`)
const DEAD = "pve7"

let sim: RunningSimulator
let runtime: TestRuntime

beforeAll(async () => {
  // Every node's own endpoint (PROXMOX_NODES), so only the fan-out bounds how many are asked at once.
  sim = await startTestCluster({ nodes: NODES, seed: "empty" })
  NODES.forEach((node, i) => {
    sim.cluster.addGuest({ vmid: 1000 + i, type: "qemu", node, name: `vm-${node}`, status: "running" })
  })
  runtime = runtimeFor(configFor(sim))
})
afterAll(async () => {
  await runtime.dispose()
  await sim.close()
})

describe("perNode", () => {
  itEffect.effect("never runs more reads at once than its bound", () =>
    Effect.gen(function* () {
      let running = 0
      let most = 0
      const nodes = Array.from({ length: 20 }, (_, i) => `n${i}`)
      const fanOut = yield* perNode(
        nodes,
        (node) =>
          Effect.gen(function* () {
            running++
            most = Math.max(most, running)
            yield* Effect.yieldNow()
            running--
            if (node === "n3") return yield* Effect.fail({ message: "gone" })
            return node
          }),
        4,
      )
      expect(most).toBe(4)
      expect(fanOut.answers.map((a) => a.node)).toEqual(nodes.filter((n) => n !== "n3"))
      expect(fanOut.warnings).toEqual(["node n3 did not answer: gone"])
    }),
  )
})

describe("a fan-out over 50 nodes with one dead", () => {
  it("answers with every healthy node's guests and one warning; the dead node is asked once", async () => {
    sim.cluster.setFault(DEAD, { kind: "down" })
    sim.cluster.clearRequests()
    const envelope = await callTool(runtime, "listVMs").run()
    const guests = okData(envelope) as ReadonlyArray<{ readonly node: string; readonly vmid: number }>
    expect(new Set(guests.map((guest) => guest.node))).toEqual(new Set(NODES.filter((n) => n !== DEAD)))
    expect(envelope.meta.warnings).toEqual([expect.stringContaining(`node ${DEAD} did not answer`)])
    const lists = sim.cluster.requests.filter((r) => /^\/nodes\/[^/]+\/qemu$/.test(r.path))
    // Every node once, the dead one too: no retry of its 595.
    expect(lists.map((r) => r.path).sort()).toEqual(NODES.map((node) => `/nodes/${node}/qemu`).sort())
  })

  it("asks them all at once (one wave), each node's own endpoint", async () => {
    // Every node answers after 50 ms, so the requests in flight overlap and can be counted.
    for (const node of NODES) sim.cluster.setFault(node, { kind: "slow", delayMs: 50 })
    sim.cluster.clearRequests()
    // Requests in flight (answered ones have their status), sampled while the call runs.
    let most = 0
    const sampler = setInterval(() => {
      const inFlight = sim.cluster.requests.filter((r) => r.status === 0 && r.path.endsWith("/qemu")).length
      most = Math.max(most, inFlight)
    }, 5)
    try {
      const envelope = await callTool(runtime, "listVMs").run()
      expect(okData(envelope)).toHaveLength(NODES.length)
      expect(most).toBeGreaterThan(FAN_OUT_CONCURRENCY / 8)
      expect(most).toBeLessThanOrEqual(Math.min(NODES.length, FAN_OUT_CONCURRENCY))
      const endpoints = sim.cluster.requests.filter((r) => r.path.endsWith("/qemu"))
      expect(endpoints.every((r) => r.path === `/nodes/${r.endpointNode}/qemu`)).toBe(true)
    } finally {
      clearInterval(sampler)
      for (const node of NODES) sim.cluster.setFault(node, null)
    }
  })
})
