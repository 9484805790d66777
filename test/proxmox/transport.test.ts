/**
 * The Node transport against the simulator: an answer whole with its reason phrase, a refused
 * connection as a `send` failure, an answer past the size cap as a `read` failure (the request
 * is dropped), and the timeout a timer of the request under the live clock.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeProxmoxAgent } from "../../src/proxmox/agent.js"
import { type Exchange, makeNode } from "../../src/proxmox/transport.js"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { configFor, startTestCluster } from "../support/cluster.js"

let sim: RunningSimulator
let scope: Scope.CloseableScope
let agentOf: Awaited<ReturnType<typeof makeAgent>>

const makeAgent = () => Effect.runPromise(Scope.extend(makeProxmoxAgent(configFor(sim)), scope))

beforeAll(async () => {
  sim = await startTestCluster()
  scope = Effect.runSync(Scope.make())
  agentOf = await makeAgent()
})
afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  await sim.close()
})

const exchange = (overrides: Partial<Exchange> = {}): Exchange => {
  const endpoint = configFor(sim).endpoints[0]!
  return {
    method: "GET",
    host: endpoint.host,
    port: endpoint.port,
    path: "/api2/json/nodes",
    authorization: `PVEAPIToken=${endpoint.tokenId}=${Redacted.value(endpoint.tokenSecret)}`,
    timeoutMs: 5_000,
    ...overrides,
  }
}

describe("the Node transport", () => {
  it("returns the whole answer with its status and reason phrase", async () => {
    const answer = await Effect.runPromise(makeNode(agentOf).exchange(exchange()))
    expect(answer.status).toBe(200)
    expect(JSON.parse(answer.text).data.length).toBe(sim.nodes.length)
    const missing = await Effect.runPromise(
      makeNode(agentOf).exchange(exchange({ path: "/api2/json/nodes/pve1/qemu/999999/status/current" })),
    )
    expect(missing.status).toBe(500)
    expect(missing.statusMessage).toMatch(/does not exist/)
  })

  it("an answer larger than the cap fails as read, not as an answer", async () => {
    const failure = await Effect.runPromise(
      Effect.flip(makeNode(agentOf, { maxAnswerBytes: 64 }).exchange(exchange())),
    )
    expect(failure).toMatchObject({ _tag: "ExchangeFailed", stage: "read" })
    expect(failure.message).toContain("larger than 64 bytes")
  })

  it("a refused connection fails as send", async () => {
    const failure = await Effect.runPromise(
      Effect.flip(makeNode(agentOf).exchange(exchange({ host: "127.0.0.1", port: 1 }))),
    )
    expect(failure).toMatchObject({ stage: "send" })
    expect(failure.message).toContain("ECONNREFUSED")
  })

  it("under the live clock the timeout is the request's own timer", async () => {
    sim.cluster.setFault("pve1", { kind: "slow", delayMs: 2_000 })
    try {
      const failure = await Effect.runPromise(
        Effect.flip(
          makeNode(agentOf).exchange(exchange({ path: "/api2/json/nodes/pve1/status", timeoutMs: 100 })),
        ),
      )
      expect(failure).toMatchObject({ stage: "timeout" })
    } finally {
      sim.cluster.setFault("pve1", null)
    }
  })
})
