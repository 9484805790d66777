/**
 * MCP over Streamable HTTP with a real SDK client on loopback: roles decide what is listed and
 * callable, sessions are bound to their user, DELETE ends them, idle ones expire (TestClock),
 * the cap holds, elicitation and progress work, stateless mode serves without sessions.
 */
import { describe, expect, it } from "@effect/vitest"
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { afterAll, beforeAll } from "vitest"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { startTestCluster } from "../support/cluster.js"
import { connectHttp, request, startHttp } from "../support/http.js"

let sim: RunningSimulator
beforeAll(async () => {
  sim = await startTestCluster()
})
afterAll(async () => {
  await sim.close()
})

const INIT = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
}
const MCP_HEADERS = { accept: "application/json, text/event-stream" }

const envelopeOf = (result: unknown) =>
  (
    result as {
      structuredContent: { ok: boolean; error?: { code: string; details?: unknown }; data?: unknown }
    }
  ).structuredContent

describe("MCP over HTTP", () => {
  it.scopedLive("tools/list shows each role only what it may call; a viewer cannot stop a VM", () =>
    Effect.gen(function* () {
      const server = yield* startHttp(sim)
      const admin = yield* connectHttp(server.base, yield* server.tokenFor("admin"))
      const viewer = yield* connectHttp(server.base, yield* server.tokenFor("viewer"))
      const adminTools = (yield* Effect.promise(() => admin.client.listTools())).tools.map((t) => t.name)
      const viewerTools = (yield* Effect.promise(() => viewer.client.listTools())).tools.map((t) => t.name)
      expect(adminTools).toContain("pve_stop_qemu_vm")
      expect(viewerTools).toContain("pve_list_qemu_vms")
      expect(viewerTools).not.toContain("pve_stop_qemu_vm")
      expect(viewerTools.length).toBeLessThan(adminTools.length)
      const refused = yield* Effect.promise(() =>
        viewer.client.callTool({ name: "pve_stop_qemu_vm", arguments: { vmid: 100, confirm: true } }).then(
          () => "ran",
          (error: Error) => error.message,
        ),
      )
      expect(refused).toMatch(/Unknown tool/)
      // The refusal is audited with the principal of the token.
      expect(
        server
          .records()
          .some(
            (r) =>
              r.event === "policy.denied" && r.principal.sub === "viewer" && r.tool === "pve_stop_qemu_vm",
          ),
      ).toBe(true)
    }),
  )

  it.scopedLive("an operator limited to /nodes/pve1/* acts on pve1 and cannot touch pve2", () =>
    Effect.gen(function* () {
      const server = yield* startHttp(sim, { env: { PVE_CONFIRM_MODE: "argument" } })
      const oper = yield* connectHttp(server.base, yield* server.tokenFor("oper"))
      const onPve1 = yield* Effect.promise(() =>
        oper.client.callTool({ name: "pve_get_qemu_status", arguments: { vmid: 100 } }),
      )
      expect(envelopeOf(onPve1).ok).toBe(true)
      for (const args of [{ vmid: 110 }, { vmid: 110, node: "pve2" }]) {
        const onPve2 = yield* Effect.promise(() =>
          oper.client.callTool({ name: "pve_start_qemu_vm", arguments: args }),
        )
        expect(envelopeOf(onPve2).error?.code).toBe("FORBIDDEN")
      }
      const read = yield* Effect.promise(() =>
        oper.client.callTool({ name: "pve_get_node_status", arguments: { node: "pve2" } }),
      )
      expect(envelopeOf(read).error?.code).toBe("FORBIDDEN")
      // Admin-only operations stay admin-only, whatever the tier.
      const tools = (yield* Effect.promise(() => oper.client.listTools())).tools.map((t) => t.name)
      expect(tools).not.toContain("pve_reset_qemu_vm")
      expect(tools).toContain("pve_start_qemu_vm")
    }),
  )

  it.scopedLive("elicitation and progress work over HTTP", () =>
    Effect.gen(function* () {
      const server = yield* startHttp(sim, { env: { PVE_CONFIRM_MODE: "auto" } })
      const asked: Array<string> = []
      const admin = yield* connectHttp(
        server.base,
        yield* server.tokenFor("admin"),
        { capabilities: { elicitation: {} } },
        (client) =>
          client.setRequestHandler(ElicitRequestSchema, async (req) => {
            asked.push(String(req.params.message))
            return { action: "accept", content: { confirm: true } }
          }),
      )
      const progress: Array<string> = []
      const result = yield* Effect.promise(() =>
        admin.client.callTool({ name: "pve_stop_qemu_vm", arguments: { vmid: 101, wait: true } }, undefined, {
          onprogress: (update) => void progress.push(String(update.message)),
        }),
      )
      expect(envelopeOf(result).ok).toBe(true)
      expect(asked).toHaveLength(1)
      expect(asked[0]).toContain("101")
      expect(progress.length).toBeGreaterThan(0)
    }),
  )

  it.scopedLive("a session belongs to the user who opened it; DELETE ends it", () =>
    Effect.gen(function* () {
      const server = yield* startHttp(sim)
      const admin = yield* server.tokenFor("admin")
      const viewer = yield* server.tokenFor("viewer")
      const opened = yield* request(`${server.base}/mcp`, { token: admin, body: INIT, headers: MCP_HEADERS })
      expect(opened.status).toBe(200)
      const session = opened.headers.get("mcp-session-id")!
      expect(server.sessions()).toBe(1)
      const list = { jsonrpc: "2.0", id: 2, method: "tools/list" }
      const foreign = yield* request(`${server.base}/mcp`, {
        token: viewer,
        body: list,
        headers: { ...MCP_HEADERS, "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" },
      })
      expect(foreign.status).toBe(403)
      const unauthenticated = yield* request(`${server.base}/mcp`, {
        body: list,
        headers: { ...MCP_HEADERS, "mcp-session-id": session },
      })
      expect(unauthenticated.status).toBe(401)
      const deleted = yield* request(`${server.base}/mcp`, {
        method: "DELETE",
        token: admin,
        headers: { "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" },
      })
      expect(deleted.status).toBe(200)
      expect(server.sessions()).toBe(0)
      const after = yield* request(`${server.base}/mcp`, {
        token: admin,
        body: list,
        headers: { ...MCP_HEADERS, "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" },
      })
      expect(after.status).toBe(404)
    }),
  )

  it.scoped("abandoned sessions expire after MCP_SESSION_IDLE_MS, not before (TestClock)", () =>
    Effect.gen(function* () {
      const server = yield* startHttp(sim, { env: { MCP_SESSION_IDLE_MS: "60000", JWT_TTL: "8h" } })
      const admin = yield* server.tokenFor("admin")
      for (let i = 0; i < 3; i++)
        yield* request(`${server.base}/mcp`, { token: admin, body: INIT, headers: MCP_HEADERS })
      expect(server.sessions()).toBe(3)
      yield* TestClock.adjust("45 seconds")
      expect(server.sessions()).toBe(3)
      yield* TestClock.adjust("45 seconds")
      expect(server.sessions()).toBe(0)
    }),
  )

  it.scopedLive("past MCP_MAX_SESSIONS a new session is refused with 503", () =>
    Effect.gen(function* () {
      const server = yield* startHttp(sim, { env: { MCP_MAX_SESSIONS: "2" } })
      const admin = yield* server.tokenFor("admin")
      const statuses: Array<number> = []
      for (let i = 0; i < 3; i++)
        statuses.push(
          (yield* request(`${server.base}/mcp`, { token: admin, body: INIT, headers: MCP_HEADERS })).status,
        )
      expect(statuses).toEqual([200, 200, 503])
    }),
  )

  it.scopedLive("stateless mode serves calls without sessions; no GET stream; confirmation by argument", () =>
    Effect.gen(function* () {
      const server = yield* startHttp(sim, { env: { MCP_HTTP_STATELESS: "true", PVE_CONFIRM_MODE: "auto" } })
      const admin = yield* server.tokenFor("admin")
      const client = yield* connectHttp(server.base, admin, { capabilities: { elicitation: {} } })
      const listed = yield* Effect.promise(() =>
        client.client.callTool({ name: "pve_list_nodes", arguments: {} }),
      )
      expect(envelopeOf(listed).ok).toBe(true)
      const unconfirmed = yield* Effect.promise(() =>
        client.client.callTool({ name: "pve_stop_qemu_vm", arguments: { vmid: 100 } }),
      )
      expect(envelopeOf(unconfirmed).error?.code).toBe("CONFIRMATION_REQUIRED")
      expect(server.sessions()).toBe(0)
      const get = yield* request(`${server.base}/mcp`, {
        token: admin,
        headers: { accept: "text/event-stream" },
      })
      expect(get.status).toBe(405)
      // A replica with the same JWT_SECRET accepts the token of a login it has not seen, and
      // Sutian's refresh works there; a logout there ends the login there.
      const replica = yield* startHttp(sim, { env: { MCP_HTTP_STATELESS: "true" } })
      const other = yield* connectHttp(replica.base, admin)
      const onReplica = yield* Effect.promise(() =>
        other.client.callTool({ name: "pve_list_nodes", arguments: {} }),
      )
      expect(envelopeOf(onReplica).ok).toBe(true)
      const refreshed = yield* request(`${replica.base}/auth/refresh`, { method: "POST", token: admin })
      expect(refreshed.status).toBe(200)
      expect((yield* request(`${replica.base}/auth/logout`, { method: "POST", token: admin })).status).toBe(
        200,
      )
      expect((yield* request(`${replica.base}/mcp/v1/operations`, { token: admin })).status).toBe(401)
    }),
  )
})
