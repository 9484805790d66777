/**
 * The API layer under load, against the simulator: the connector keeps to `maxSockets`, identical
 * concurrent reads share one request (and when they must not), and a read on a hung node is
 * bounded by its deadline without failing over to endpoints that proxy to the same node.
 */
import { Clock, Effect, Either, Fiber } from "effect"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import type { UpstreamCall } from "../../src/audit/port.js"
import { UpstreamLog } from "../../src/audit/upstream.js"
import { type ApiRequest, fresh, ProxmoxApi } from "../../src/proxmox/api.js"
import type { RunningSimulator } from "../../src/simulator/index.js"
import {
  callTool,
  configFor,
  okData,
  runtimeFor,
  runUnderTestClock,
  startTestCluster,
  type TestRuntime,
} from "../support/cluster.js"

let sim: RunningSimulator
let runtime: TestRuntime

const send = (rt: TestRuntime, request: ApiRequest) =>
  rt.runPromise(Effect.either(Effect.flatMap(ProxmoxApi, (api) => api.request(request))))

const requestsTo = (path: string) => sim.cluster.requests.filter((r) => r.path === path)

beforeAll(async () => {
  sim = await startTestCluster()
  runtime = runtimeFor(configFor(sim))
})
afterAll(async () => {
  await runtime.dispose()
  await sim.close()
})
beforeEach(() => {
  for (const node of sim.nodes) sim.cluster.setFault(node, null)
  sim.cluster.clearRequests()
})

describe("connections", () => {
  it("16 concurrent requests open at most maxSockets (8) pinned connections", async () => {
    // A fresh runtime: its agent has no connection yet. Slow answers keep all 16 in flight.
    const rt = runtimeFor(configFor(sim))
    sim.cluster.setFault("pve1", { kind: "slow", delayMs: 100 })
    try {
      const before = sim.connections()
      // Different timeouts make different requests, so none of them shares another's answer.
      const results = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          send(rt, { method: "GET", path: "/version", timeoutMs: 5_000 + i }),
        ),
      )
      expect(results.every(Either.isRight)).toBe(true)
      expect(requestsTo("/version")).toHaveLength(16)
      const opened = sim.connections() - before
      expect(opened).toBeGreaterThanOrEqual(1)
      expect(opened).toBeLessThanOrEqual(8)
    } finally {
      await rt.dispose()
    }
  })
})

describe("coalescing", () => {
  it("100 identical concurrent pve_list_cluster_resources send 1 request", async () => {
    sim.cluster.setFault("pve1", { kind: "slow", delayMs: 100 })
    const envelopes = await Promise.all(
      Array.from({ length: 100 }, () => callTool(runtime, "pve_list_cluster_resources").run()),
    )
    expect(envelopes.every((e) => e.ok)).toBe(true)
    expect(new Set(envelopes.map((e) => JSON.stringify(okData(e)))).size).toBe(1)
    expect(requestsTo("/cluster/resources")).toHaveLength(1)
  })

  it("different parameters are different requests; a read after the answer sends its own", async () => {
    await Promise.all([
      send(runtime, { method: "GET", path: "/cluster/resources", params: { type: "vm" } }),
      send(runtime, { method: "GET", path: "/cluster/resources", params: { type: "node" } }),
    ])
    await send(runtime, { method: "GET", path: "/cluster/resources", params: { type: "vm" } })
    expect(requestsTo("/cluster/resources").map((r) => r.query.type)).toEqual(["vm", "node", "vm"])
  })

  it("a write ends the sharing: a read after it never gets an answer sent before it", async () => {
    sim.cluster.setFault("pve1", { kind: "slow", delayMs: 200 })
    const status = {
      method: "GET",
      path: "/nodes/{node}/qemu/{vmid}/status/current",
      pathParams: { node: "pve1", vmid: 102 },
    } as const
    const program = Effect.gen(function* () {
      const api = yield* ProxmoxApi
      const early = yield* Effect.fork(api.request(status))
      yield* Effect.sleep("20 millis")
      yield* api.request({
        method: "POST",
        path: "/nodes/{node}/qemu/{vmid}/status/start",
        pathParams: { node: "pve1", vmid: 102 },
      })
      const late = yield* api.request(status)
      yield* Fiber.join(early)
      return late
    })
    await runtime.runPromise(program)
    expect(requestsTo("/nodes/pve1/qemu/102/status/current")).toHaveLength(2)
  })

  it("fresh reads send their own request", async () => {
    sim.cluster.setFault("pve1", { kind: "slow", delayMs: 100 })
    const request = { method: "GET", path: "/nodes" } as const
    await runtime.runPromise(
      Effect.flatMap(ProxmoxApi, (api) =>
        Effect.all([api.request(request), fresh(api.request(request))], { concurrency: "unbounded" }),
      ),
    )
    expect(requestsTo("/nodes")).toHaveLength(2)
  })

  it("a shared read whose caller was cancelled still answers the others", async () => {
    sim.cluster.setFault("pve1", { kind: "slow", delayMs: 200 })
    const request = { method: "GET", path: "/nodes" } as const
    const result = await runtime.runPromise(
      Effect.gen(function* () {
        const api = yield* ProxmoxApi
        const leader = yield* Effect.fork(api.request(request))
        yield* Effect.sleep("20 millis")
        const follower = yield* Effect.fork(api.request(request))
        yield* Effect.sleep("20 millis")
        yield* Fiber.interrupt(leader)
        return yield* Fiber.join(follower)
      }),
    )
    expect(Array.isArray(result)).toBe(true)
    // The leader's request was abandoned; the follower sent its own.
    expect(requestsTo("/nodes")).toHaveLength(2)
  })
})

describe("a node whose endpoint drops connections", () => {
  it("nothing was sent: a read and a mutation fail over, the mutation is not OUTCOME_UNKNOWN", async () => {
    // A fresh runtime: no kept-alive connection to pve1, each request needs a new handshake.
    const rt = runtimeFor(configFor(sim))
    sim.cluster.setFault("pve1", { kind: "down" })
    try {
      const read = await send(rt, {
        method: "GET",
        path: "/nodes/{node}/status",
        pathParams: { node: "pve1" },
      })
      // pve1's endpoint dropped the connection during the handshake; another endpoint answered
      // for pve1 (595: it cannot reach pve1 either).
      expect(Either.isLeft(read) && read.left).toMatchObject({ code: "HOST_UNREACHABLE", status: 595 })
      const mutation = await send(rt, {
        method: "POST",
        path: "/nodes/{node}/qemu/{vmid}/status/start",
        pathParams: { node: "pve1", vmid: 101 },
      })
      expect(Either.isLeft(mutation) && mutation.left).toMatchObject({
        _tag: "ProxmoxError",
        code: "HOST_UNREACHABLE",
        status: 595,
      })
      const answeredElsewhere = sim.cluster.requests.filter((r) => r.endpointNode !== "pve1")
      expect(answeredElsewhere.map((r) => r.path)).toContain("/nodes/pve1/qemu/101/status/start")
    } finally {
      await rt.dispose()
    }
  })
})

describe("a hung node", () => {
  it("a read for it ends within its deadline, on its own endpoint only (TestClock)", async () => {
    const rt = runtimeFor(configFor(sim, { requestTimeoutMs: 300, readDeadlineMs: 1_000 }))
    sim.cluster.setFault("pve2", { kind: "slow", delayMs: 60_000 })
    try {
      const tries: Array<UpstreamCall> = []
      const { error, elapsed } = await runUnderTestClock(
        rt,
        Effect.gen(function* () {
          const started = yield* Clock.currentTimeMillis
          const log = yield* UpstreamLog
          const error = yield* Effect.flip(
            log.collect(tries)(
              Effect.flatMap(ProxmoxApi, (api) =>
                api.request({ method: "GET", path: "/nodes/{node}/status", pathParams: { node: "pve2" } }),
              ),
            ),
          )
          return { error, elapsed: (yield* Clock.currentTimeMillis) - started }
        }),
        "50 millis",
      )
      expect(error).toMatchObject({ code: "TIMEOUT" })
      expect(elapsed).toBeLessThanOrEqual(1_000)
      // Retried (each try as the audit lists it), but never through another endpoint: pve1 and
      // pve3 would proxy to pve2 too.
      expect(tries.length).toBeGreaterThanOrEqual(2)
      expect(tries.every((t) => t.node === "pve2" && t.status === 0)).toBe(true)
      expect(requestsTo("/nodes/pve2/status").every((r) => r.endpointNode === "pve2")).toBe(true)
    } finally {
      await rt.dispose()
    }
  })
})
