import { Effect, Either, Redacted } from "effect"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import type { UpstreamCall } from "../../src/audit/port.js"
import { UpstreamLog } from "../../src/audit/upstream.js"
import { type ApiRequest, ProxmoxApi } from "../../src/proxmox/api.js"
import type { RunningSimulator } from "../../src/simulator/index.js"
import {
  configFor,
  runtimeFor,
  runUnderTestClock,
  startTestCluster,
  type TestRuntime,
} from "../support/cluster.js"

let sim: RunningSimulator
let runtime: TestRuntime

const send = (rt: TestRuntime, request: ApiRequest) =>
  rt.runPromise(Effect.either(Effect.flatMap(ProxmoxApi, (api) => api.request(request))))

const failure = async (rt: TestRuntime, request: ApiRequest) => {
  const result = await send(rt, request)
  if (Either.isRight(result)) throw new Error(`expected a failure, got ${JSON.stringify(result.right)}`)
  return result.left
}

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

describe("TLS", () => {
  it("accepts the pinned fingerprint of a self-signed certificate", async () => {
    const result = await send(runtime, { method: "GET", path: "/version" })
    expect(Either.isRight(result)).toBe(true)
  })

  it("rejects a wrong fingerprint before any request is sent", async () => {
    const wrong = sim.fingerprint.replace(/^../, sim.fingerprint.startsWith("00") ? "11" : "00")
    const rt = runtimeFor(configFor(sim, { endpoint: { fingerprint: wrong } }))
    try {
      const error = await failure(rt, { method: "GET", path: "/nodes" })
      expect(error).toMatchObject({ _tag: "ProxmoxError", code: "TLS_ERROR" })
      expect(error.message).toContain("pinned")
      // The hint names the certificate the endpoint shows and the exact line to pin it.
      expect((error as { hint?: string }).hint).toMatch(
        new RegExp(`PROXMOX_TLS_FINGERPRINTS=(pve\\d=)?${sim.fingerprint}`),
      )
      expect(sim.cluster.requests).toHaveLength(0)
    } finally {
      await rt.dispose()
    }
  })

  it("rejects a self-signed certificate without a pin or CA", async () => {
    const rt = runtimeFor(configFor(sim, { endpoint: { fingerprint: undefined as unknown as string } }))
    try {
      const error = await failure(rt, { method: "GET", path: "/nodes" })
      expect(error).toMatchObject({ code: "TLS_ERROR" })
      expect((error as { hint?: string }).hint).toContain(`fingerprint is ${sim.fingerprint}`)
      expect(sim.cluster.requests).toHaveLength(0)
    } finally {
      await rt.dispose()
    }
  })

  it("verifies against PROXMOX_CA_FILE contents", async () => {
    const base = configFor(sim)
    const rt = runtimeFor({
      ...base,
      endpoints: base.endpoints.map(({ fingerprint: _fp, ...e }) => e),
      tls: { verify: true, ca: sim.caPem },
    })
    try {
      expect(Either.isRight(await send(rt, { method: "GET", path: "/version" }))).toBe(true)
    } finally {
      await rt.dispose()
    }
  })
})

// PVE 8.4 and 9 put the error text in the body and the status line; 8.0-8.3 only in the status
// line (WIRE.md 2.2). Every mapping must hold for both.
describe.each([
  { messageInBody: true, server: "PVE 8.4+" },
  { messageInBody: false, server: "PVE 8.0-8.3, text in the status line only" },
])("status to error mapping, $server", ({ messageInBody }) => {
  let modeSim: RunningSimulator
  let modeRuntime: TestRuntime
  beforeAll(async () => {
    modeSim = await startTestCluster({ messageInBody })
    modeRuntime = runtimeFor(configFor(modeSim))
  })
  afterAll(async () => {
    await modeRuntime.dispose()
    await modeSim.close()
  })

  it("400 keeps PVE's message and per-parameter errors", async () => {
    const error = await failure(modeRuntime, {
      method: "GET",
      path: "/cluster/nextid",
      params: { vmid: 100 },
    })
    expect(error).toMatchObject({ _tag: "ProxmoxError", code: "PROXMOX_REQUEST_REJECTED", status: 400 })
    expect(error._tag === "ProxmoxError" && error.errors?.vmid).toMatch(/already exists/)
  })

  it("400 for an unknown parameter names it", async () => {
    const error = await failure(modeRuntime, {
      method: "GET",
      path: "/nodes/{node}/qemu",
      pathParams: { node: "pve1" },
      params: { bogus: 1 },
    })
    expect(error).toMatchObject({ code: "PROXMOX_REQUEST_REJECTED", status: 400 })
    expect(error._tag === "ProxmoxError" && error.errors?.bogus).toMatch(/not defined in schema/)
  })

  it("500 'does not exist' is PROXMOX_NOT_FOUND with PVE's reason", async () => {
    const error = await failure(modeRuntime, {
      method: "GET",
      path: "/nodes/{node}/qemu/{vmid}/status/current",
      pathParams: { node: "pve1", vmid: 999 },
    })
    expect(error).toMatchObject({ code: "PROXMOX_NOT_FOUND", status: 500 })
    expect(error.message).toMatch(/999\.conf' does not exist/)
  })

  it("501 for an unknown path", async () => {
    const error = await failure(modeRuntime, {
      method: "GET",
      path: "/nodes/{node}/bogus",
      pathParams: { node: "pve1" },
    })
    expect(error).toMatchObject({ code: "PROXMOX_REQUEST_REJECTED", status: 501 })
    expect(error.message).toMatch(/not implemented/)
  })

  it("401 for a bad token", async () => {
    const rt = runtimeFor(configFor(modeSim, { endpoint: { tokenSecret: Redacted.make("wrong") } }))
    try {
      expect(await failure(rt, { method: "GET", path: "/nodes" })).toMatchObject({
        code: "PROXMOX_AUTH_FAILED",
        status: 401,
      })
    } finally {
      await rt.dispose()
    }
  })

  it("403 carries the privilege-separation hint", async () => {
    const rt = runtimeFor(
      configFor(modeSim, {
        endpoint: {
          tokenId: modeSim.readOnlyToken.tokenId,
          tokenSecret: Redacted.make(modeSim.readOnlyToken.tokenSecret),
        },
      }),
    )
    try {
      const error = await failure(rt, {
        method: "POST",
        path: "/nodes/{node}/qemu/{vmid}/status/start",
        pathParams: { node: "pve1", vmid: 102 },
      })
      expect(error).toMatchObject({ code: "PROXMOX_ACL_FORBIDDEN", status: 403 })
      expect(error.message).toMatch(/Permission check failed/)
      expect(error._tag === "ProxmoxError" && error.hint).toMatch(/privilege separation/)
    } finally {
      await rt.dispose()
    }
  })

  it("no quorum is NO_QUORUM", async () => {
    modeSim.cluster.setQuorum(false)
    try {
      const error = await failure(modeRuntime, {
        method: "POST",
        path: "/nodes/{node}/qemu/{vmid}/status/start",
        pathParams: { node: "pve1", vmid: 102 },
      })
      expect(error).toMatchObject({ code: "NO_QUORUM" })
    } finally {
      modeSim.cluster.setQuorum(true)
    }
  })
})

describe("retries", () => {
  it("retries a transient read failure", async () => {
    sim.cluster.setFault("pve1", { kind: "596", count: 1 })
    const result = await send(runtime, {
      method: "GET",
      path: "/nodes/{node}/status",
      pathParams: { node: "pve1" },
    })
    expect(Either.isRight(result)).toBe(true)
    expect(requestsTo("/nodes/pve1/status").map((r) => r.status)).toEqual([596, 200])
  })

  it("does not retry a 4xx", async () => {
    await failure(runtime, { method: "GET", path: "/cluster/nextid", params: { vmid: 100 } })
    expect(requestsTo("/cluster/nextid")).toHaveLength(1)
  })

  it("never resends a mutation after a 596: OUTCOME_UNKNOWN", async () => {
    sim.cluster.setFault("pve1", { kind: "596", count: 1 })
    const error = await failure(runtime, {
      method: "POST",
      path: "/nodes/{node}/qemu/{vmid}/status/start",
      pathParams: { node: "pve1", vmid: 102 },
    })
    expect(error).toMatchObject({ _tag: "OutcomeUnknown" })
    expect(requestsTo("/nodes/pve1/qemu/102/status/start")).toHaveLength(1)
  })

  it("retries a mutation that PVE refused with a lock timeout (nothing was done)", async () => {
    sim.cluster.setFault("pve1", { kind: "lock-timeout", count: 1 })
    const result = await send(runtime, {
      method: "POST",
      path: "/nodes/{node}/qemu/{vmid}/status/start",
      pathParams: { node: "pve1", vmid: 102 },
    })
    expect(Either.isRight(result)).toBe(true)
    expect(requestsTo("/nodes/pve1/qemu/102/status/start").map((r) => r.status)).toEqual([500, 200])
  })
})

describe("timeouts and failover", () => {
  it("a read that gets no answer in time is TIMEOUT, after its retries (TestClock)", async () => {
    const rt = runtimeFor(configFor(sim, { requestTimeoutMs: 200 }))
    sim.cluster.setFault("pve2", { kind: "slow", delayMs: 800 })
    try {
      // Every try, as the call's audit record lists them (a try that timed out has status 0). The
      // simulator may see fewer: the test clock can pass a try's timeout before it arrives there.
      const tries: Array<UpstreamCall> = []
      // Time passes only when the test moves the clock: each timeout and back-off fires then.
      const error = await runUnderTestClock(
        rt,
        Effect.flip(
          Effect.flatMap(UpstreamLog, (log) =>
            log.collect(tries)(
              Effect.flatMap(ProxmoxApi, (api) =>
                api.request({ method: "GET", path: "/nodes/{node}/status", pathParams: { node: "pve2" } }),
              ),
            ),
          ),
        ),
      )
      expect(error).toMatchObject({ code: "TIMEOUT" })
      // The first try and three more, all to pve2's own endpoint: the others would proxy to pve2.
      expect(tries).toEqual(
        Array.from({ length: 4 }, () => ({
          node: "pve2",
          method: "GET",
          path: "/nodes/pve2/status",
          status: 0,
        })),
      )
      expect(requestsTo("/nodes/pve2/status").length).toBeGreaterThanOrEqual(1)
    } finally {
      await rt.dispose()
    }
  })

  it("a mutation that gets no answer in time is OUTCOME_UNKNOWN and is not resent", async () => {
    const rt = runtimeFor(configFor(sim, { requestTimeoutMs: 200 }))
    sim.cluster.setFault("pve2", { kind: "slow", delayMs: 800 })
    try {
      const error = await failure(rt, {
        method: "POST",
        path: "/nodes/{node}/qemu/{vmid}/status/start",
        pathParams: { node: "pve2", vmid: 110 },
      })
      expect(error).toMatchObject({ _tag: "OutcomeUnknown" })
      expect(requestsTo("/nodes/pve2/qemu/110/status/start")).toHaveLength(1)
    } finally {
      await rt.dispose()
    }
  })

  it("fails over to another endpoint when one is down", async () => {
    sim.cluster.setFault("pve1", { kind: "down" })
    const result = await send(runtime, { method: "GET", path: "/cluster/resources" })
    expect(Either.isRight(result)).toBe(true)
    expect(requestsTo("/cluster/resources").some((r) => r.endpointNode !== "pve1" && r.status === 200)).toBe(
      true,
    )
  })
})
