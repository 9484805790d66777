/**
 * Sutian's REST API over real HTTP: the same policy and audit as MCP calls, `resource` grants
 * nothing, a missing node is the first configured node, every dotted operation of Sutian's
 * table answers in Sutian's shape.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { afterAll, beforeAll } from "vitest"
import { SUTIAN_OPERATIONS } from "../../src/policy/operations.js"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { startTestCluster } from "../support/cluster.js"
import { request, startHttp } from "../support/http.js"

let sim: RunningSimulator
beforeAll(async () => {
  sim = await startTestCluster()
})
afterAll(async () => {
  await sim.close()
})

describe("REST compatibility (/mcp/v1)", () => {
  it.scopedLive("a viewer cannot stop a VM over /mcp/v1/call, even with resource 'qemu/list'", () =>
    Effect.gen(function* () {
      const server = yield* startHttp(sim, { env: { PVE_CONFIRM_MODE: "argument" } })
      const viewer = yield* server.tokenFor("viewer")
      const answer = yield* request(`${server.base}/mcp/v1/call`, {
        token: viewer,
        body: {
          method: "vm.stop",
          params: { node: "pve1", vmid: "100", confirm: true },
          resource: "qemu/list",
        },
      })
      expect(answer.status).toBe(403)
      expect(typeof answer.body.detail).toBe("string")
      const denied = server.records().find((r) => r.event === "policy.denied" && r.principal.sub === "viewer")
      expect(denied?.principal.transport).toBe("rest")
      // The VM is still running.
      const status = yield* request(`${server.base}/mcp/v1/call`, {
        token: viewer,
        body: { method: "vm.status", params: { node: "pve1", vmid: "100" } },
      })
      expect(status.status).toBe(200)
      expect((status.body.data as { status: string }).status).toBe("running")
    }),
  )

  it.scopedLive(
    "an operator limited to /nodes/pve1/* cannot act on pve2 over REST; admin-only stays admin-only",
    () =>
      Effect.gen(function* () {
        const server = yield* startHttp(sim, { env: { PVE_CONFIRM_MODE: "argument" } })
        const oper = yield* server.tokenFor("oper")
        const pve2 = yield* request(`${server.base}/mcp/v1/call`, {
          token: oper,
          body: { method: "vm.start", params: { node: "pve2", vmid: 110 }, resource: "*" },
        })
        expect(pve2.status).toBe(403)
        const reset = yield* request(`${server.base}/mcp/v1/call`, {
          token: oper,
          body: { method: "vm.reset", params: { node: "pve1", vmid: 100, confirm: true } },
        })
        expect(reset.status).toBe(403)
        const ops = yield* request(`${server.base}/mcp/v1/operations`, { token: oper })
        expect(ops.body.admin_only).toEqual(["vm.create", "vm.clone", "vm.modify", "vm.reset"])
        expect(ops.body.allowed).toContain("vm.start")
        expect(ops.body.denied).toContain("vm.reset")
        expect(ops.body.total_allowed).toBe((ops.body.allowed as Array<string>).length)
      }),
  )

  it.scopedLive("params.node omitted: the call goes to the first configured node, never to '{node}'", () =>
    Effect.gen(function* () {
      const server = yield* startHttp(sim)
      const admin = yield* server.tokenFor("admin")
      const answer = yield* request(`${server.base}/mcp/v1/call`, {
        token: admin,
        body: { method: "vm.list", params: {}, resource: "*/qemu/*" },
      })
      expect(answer.status).toBe(200)
      expect(answer.body).toMatchObject({ success: true, error: null, operation: "vm.list" })
      const record = server.records().find((r) => r.tool === "pve_list_qemu_vms")
      expect(record?.upstream?.map((u) => u.path)).toContain("/nodes/pve1/qemu")
      expect(JSON.stringify(server.records())).not.toContain("{node}")
    }),
  )

  it.scopedLive("every dotted operation of Sutian's table answers in Sutian's shape", () =>
    Effect.gen(function* () {
      const server = yield* startHttp(sim, { env: { PVE_ACCESS_TIER: "read-only" } })
      const admin = yield* server.tokenFor("admin")
      for (const operation of Object.keys(SUTIAN_OPERATIONS)) {
        const answer = yield* request(`${server.base}/mcp/v1/call`, {
          token: admin,
          body: { method: operation, params: { node: "pve1", vmid: "100", storage: "local" } },
        })
        expect([200, 400, 403], operation).toContain(answer.status)
        if (answer.status === 200) {
          expect(Object.keys(answer.body).sort(), operation).toEqual([
            "data",
            "error",
            "operation",
            "success",
          ])
          expect(answer.body.operation).toBe(operation)
        } else expect(typeof answer.body.detail, operation).toBe("string")
      }
      const unknown = yield* request(`${server.base}/mcp/v1/call`, {
        token: admin,
        body: { method: "vm.explode" },
      })
      expect(unknown.status).toBe(400)
      const malformed = yield* request(`${server.base}/mcp/v1/call`, { token: admin, body: { params: {} } })
      expect(malformed.status).toBe(400)
    }),
  )

  it.scopedLive("/mcp/v1/nodes and /mcp/v1/cluster/members name nodes, never hosts or ports", () =>
    Effect.gen(function* () {
      const server = yield* startHttp(sim)
      const viewer = yield* server.tokenFor("viewer")
      const nodes = yield* request(`${server.base}/mcp/v1/nodes`, { token: viewer })
      expect(nodes.status).toBe(200)
      expect(nodes.body.total).toBe(3)
      expect((nodes.body.nodes as Array<{ name: string }>).map((n) => n.name).sort()).toEqual([
        "pve1",
        "pve2",
        "pve3",
      ])
      const members = yield* request(`${server.base}/mcp/v1/cluster/members`, { token: viewer })
      expect(members.status).toBe(200)
      expect(members.body.total).toBe(3)
      expect(typeof members.body.queried_via).toBe("string")
      const text = JSON.stringify([nodes.body, members.body])
      expect(text).not.toContain("127.0.0.1")
      expect(text).not.toContain(String(sim.port))
    }),
  )
})
