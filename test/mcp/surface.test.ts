/**
 * Context economy (issue 15): toolsets, `pve_enable_toolset` with `tools/list_changed`, discovery
 * mode (search -> describe -> call) for every tool of the catalog under the same policy,
 * confirmation and audit as a direct call, and the `tools/list` sizes printed for CI's log.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { builtin } from "../../src/tools/catalog.js"
import { startTestCluster } from "../support/cluster.js"
import { connectInProcess } from "../support/server.js"

const MAX_LIST_BYTES = 20 * 1024

interface Envelope {
  readonly ok: boolean
  readonly data?: unknown
  readonly error?: { readonly code: string; readonly message: string }
  readonly meta: Record<string, unknown>
}

let sim: RunningSimulator

beforeAll(async () => {
  sim = await startTestCluster()
})
afterAll(async () => {
  await sim?.close()
})

const call = async (client: Client, name: string, args: Record<string, unknown> = {}) =>
  (await client.callTool({ name, arguments: args })).structuredContent as unknown as Envelope

const listed = async (client: Client) => {
  const { tools } = await client.listTools()
  return { names: tools.map((t) => t.name), bytes: Buffer.byteLength(JSON.stringify({ tools })) }
}

describe("toolsets", () => {
  it("the default surface is the everyday set plus pve_enable_toolset, under 20 KB", async () => {
    const session = await connectInProcess(sim, { env: { PVE_ACCESS_TIER: "full", PVE_TOOLSETS: "default" } })
    const { names, bytes } = await listed(session.client)
    console.log(`tools/list, default toolset at tier full: ${names.length} tools, ${bytes} bytes`)
    expect(bytes).toBeLessThan(MAX_LIST_BYTES)
    expect(names).toEqual(
      expect.arrayContaining([
        "pve_list_nodes",
        "pve_stop_qemu_vm",
        "pve_get_task_log",
        "pve_enable_toolset",
      ]),
    )
    expect(names).not.toContain("pve_get_storage_status")
    // Listing is not permission: an unlisted tool the policy allows is callable by name.
    const status = await call(session.client, "pve_get_storage_status", { node: "pve1", storage: "local" })
    expect(status.ok).toBe(true)
    await session.close()
  })

  it("pve_enable_toolset lists a toolset and notifies the client", async () => {
    let notified = 0
    const session = await connectInProcess(sim, { env: { PVE_TOOLSETS: "default" } }, {}, (client) =>
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => void notified++),
    )
    const enabled = await call(session.client, "pve_enable_toolset", { toolset: "storage" })
    expect(enabled).toMatchObject({ ok: true, data: { toolset: "storage" } })
    expect((enabled.data as { tools: Array<string> }).tools).toContain("pve_get_storage_status")
    const { names } = await listed(session.client)
    expect(names).toContain("pve_get_storage_status")
    await expect.poll(() => notified).toBe(1)
    await session.close()
  })

  it("refuses a toolset the policy excludes, and an unknown one", async () => {
    const session = await connectInProcess(sim, {
      env: { PVE_TOOLSETS: "default", PVE_CATEGORIES: "nodes,qemu,lxc,tasks,cluster" },
    })
    expect(await call(session.client, "pve_enable_toolset", { toolset: "storage" })).toMatchObject({
      ok: false,
      error: { code: "FORBIDDEN" },
    })
    expect(await call(session.client, "pve_enable_toolset", { toolset: "kitchen" })).toMatchObject({
      ok: false,
      error: { code: "INVALID_INPUT" },
    })
    expect((await listed(session.client)).names).not.toContain("pve_get_storage_status")
    await session.close()
  })

  it("prints the list size of each tier with every toolset", async () => {
    for (const tier of ["read-only", "read-execute", "full"]) {
      const session = await connectInProcess(sim, {
        env: { PVE_ACCESS_TIER: tier, PVE_TOOLSETS: "all", PVE_MODULE_MODE: "advanced" },
      })
      const { names, bytes } = await listed(session.client)
      console.log(`tools/list, all toolsets at tier ${tier}: ${names.length} tools, ${bytes} bytes`)
      expect(names).not.toContain("pve_enable_toolset")
      await session.close()
    }
  })
})

describe("discovery mode", () => {
  let session: Awaited<ReturnType<typeof connectInProcess>>
  beforeAll(async () => {
    session = await connectInProcess(sim, {
      env: {
        PVE_TOOL_MODE: "discovery",
        PVE_ACCESS_TIER: "full",
        PVE_MODULE_MODE: "advanced",
        PVE_CONFIRM_MODE: "argument",
      },
    })
  })
  afterAll(async () => {
    await session?.close()
  })

  it("lists three tools, under 20 KB", async () => {
    const { names, bytes } = await listed(session.client)
    console.log(`tools/list, discovery mode: ${names.length} tools, ${bytes} bytes`)
    expect(names).toEqual(["pve_search_tools", "pve_describe_tool", "pve_call_tool"])
    expect(bytes).toBeLessThan(MAX_LIST_BYTES)
  })

  it("ranks by meaning: 'stop vm' finds pve_stop_qemu_vm first among the stop tools", async () => {
    const found = await call(session.client, "pve_search_tools", { query: "stop vm" })
    const names = (found.data as Array<{ name: string }>).map((hit) => hit.name)
    expect(names[0]).toBe("pve_stop_qemu_vm")
    const storage = await call(session.client, "pve_search_tools", { query: "status", category: "storage" })
    expect((storage.data as Array<{ category: string }>).every((hit) => hit.category === "storage")).toBe(
      true,
    )
  })

  it("reaches every tool of the catalog: search by name, describe, call as a direct call does", async () => {
    // Every tool this session may call: all but the remote ones, hidden while SSH is not configured.
    const tools = builtin.entries.filter(
      (entry) =>
        entry.aliasFor === undefined && entry.tool.deprecated !== true && entry.tool.category !== "remote",
    )
    for (const entry of tools) {
      const name = entry.name
      const found = await call(session.client, "pve_search_tools", { query: name, limit: 3 })
      expect((found.data as Array<{ name: string }>)[0]?.name, `search ${name}`).toBe(name)
      const described = await call(session.client, "pve_describe_tool", { name })
      expect(described, `describe ${name}`).toMatchObject({
        ok: true,
        data: { name, inputSchema: { type: "object" } },
      })
      // Empty arguments: reads without required input answer, the rest refuse before sending.
      const through = await call(session.client, "pve_call_tool", { name, arguments: {} })
      const direct = await call(session.client, name, {})
      const { meta: _a, ...throughRest } = through
      const { meta: _b, ...directRest } = direct
      // Live data moves between the two calls (timestamps, uptime, counters): numbers are
      // compared as numbers, not by value; everything else must be identical.
      const shape = (value: unknown) => JSON.stringify(value).replace(/\d+(\.\d+)?/g, "#")
      expect(shape(throughRest), `call ${name}`).toBe(shape(directRest))
    }
  })

  it("confirmation and audit are those of a direct call, under the real tool name", async () => {
    const refused = await call(session.client, "pve_call_tool", {
      name: "pve_stop_qemu_vm",
      arguments: { vmid: 100 },
    })
    expect(refused).toMatchObject({ ok: false, error: { code: "CONFIRMATION_REQUIRED" } })
    const last = session.records().at(-1)!
    expect(last).toMatchObject({
      event: "policy.denied",
      tool: "pve_stop_qemu_vm",
      decision: "confirmation_required",
    })
  })

  it("unknown names and the meta tools themselves are refused with a result the model can act on", async () => {
    expect(await call(session.client, "pve_call_tool", { name: "pve_no_such_tool" })).toMatchObject({
      ok: false,
      error: { code: "UNKNOWN_TOOL" },
    })
    expect(await call(session.client, "pve_call_tool", { name: "pve_call_tool" })).toMatchObject({
      ok: false,
      error: { code: "INVALID_INPUT" },
    })
    expect(await call(session.client, "pve_describe_tool", { name: "nope" })).toMatchObject({
      ok: false,
      error: { code: "UNKNOWN_TOOL" },
    })
  })
})

describe("discovery mode under a narrower policy", () => {
  it("finds, describes and calls only what the policy allows; a refusal is audited", async () => {
    const session = await connectInProcess(sim, {
      env: { PVE_TOOL_MODE: "discovery", PVE_ACCESS_TIER: "read-only" },
    })
    const found = await call(session.client, "pve_search_tools", { query: "stop", limit: 50 })
    expect((found.data as Array<{ tier: string }>).every((hit) => hit.tier === "read-only")).toBe(true)
    expect(await call(session.client, "pve_describe_tool", { name: "pve_stop_qemu_vm" })).toMatchObject({
      error: { code: "UNKNOWN_TOOL" },
    })
    expect(
      await call(session.client, "pve_call_tool", { name: "pve_stop_qemu_vm", arguments: { vmid: 100 } }),
    ).toMatchObject({
      error: { code: "UNKNOWN_TOOL" },
    })
    expect(session.records().at(-1)).toMatchObject({
      event: "policy.denied",
      tool: "pve_stop_qemu_vm",
      decision: "denied",
    })
    await session.close()
  })
})
