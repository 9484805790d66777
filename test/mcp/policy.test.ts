/**
 * Policy seen by a real MCP client (in-process, over the SDK's InMemoryTransport, settings read
 * from environment variables as `proxmox-mcp run` reads them): what is listed under each
 * setting, protected guests, and confirmation by elicitation (accept runs the call; decline and
 * cancel do not).
 */
import type { Client, ClientOptions } from "@modelcontextprotocol/sdk/client/index.js"
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { startTestCluster } from "../support/cluster.js"
import { connectInProcess } from "../support/server.js"

let sim: RunningSimulator
const sessions: Array<{ close: () => Promise<void> }> = []

beforeAll(async () => {
  sim = await startTestCluster({ perNodeEndpoints: false })
})
afterAll(async () => {
  for (const session of sessions) await session.close()
  await sim.close()
})

type ElicitAnswer = "accept" | "decline" | "cancel"

const connect = async (
  env: Record<string, string>,
  elicitation?: { answer: ElicitAnswer; asked: Array<string> },
  clientOptions: ClientOptions = elicitation === undefined ? {} : { capabilities: { elicitation: {} } },
) => {
  const session = await connectInProcess(sim, { env }, clientOptions, (client) => {
    if (elicitation === undefined) return
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      elicitation.asked.push(String((request.params as { message?: unknown }).message))
      return elicitation.answer === "accept"
        ? { action: "accept", content: { confirm: true } }
        : { action: elicitation.answer }
    })
  })
  sessions.push(session)
  return { client: session.client, audit: session.records }
}

const listed = async (client: Client) => (await client.listTools()).tools.map((t) => t.name)

const call = async (client: Client, name: string, args: Record<string, unknown>) => {
  const result = await client.callTool({ name, arguments: args })
  return result.structuredContent as {
    ok: boolean
    error?: { code: string; hint?: string; details?: Record<string, unknown> }
  }
}

describe("exposure", () => {
  it("the default tier exposes no state-changing tool", async () => {
    const { client } = await connect({})
    const { tools } = await client.listTools()
    expect(tools.length).toBeGreaterThan(0)
    expect(tools.filter((t) => t.annotations?.readOnlyHint !== true)).toEqual([])
  })

  it("a whitelisted full tool stays hidden under read-only", async () => {
    const { client } = await connect({
      PVE_TOOL_WHITELIST: "pve_stop_task,pve_list_nodes",
      PVE_LIST_ALIASES: "true",
    })
    expect(await listed(client)).toEqual(["pve_list_nodes", "listNodes"])
    await expect(client.callTool({ name: "pve_stop_task", arguments: {} })).rejects.toThrow(/Unknown tool/)
  })

  it("blacklisting a canonical name removes its alias, and an alias its canonical tool", async () => {
    const { client } = await connect({
      PVE_ACCESS_TIER: "full",
      PVE_TOOL_BLACKLIST: "pve_stop_qemu_vm,startContainer",
    })
    const names = await listed(client)
    for (const hidden of ["pve_stop_qemu_vm", "stopVM", "startContainer", "pve_start_lxc_container"]) {
      expect(names).not.toContain(hidden)
    }
    expect(names).toContain("pve_start_qemu_vm")
  })

  it("DENIED_OPERATIONS=vm.stop blocks pve_stop_qemu_vm and stopVM, and the refusal is audited", async () => {
    const { client, audit } = await connect({ PVE_ACCESS_TIER: "full", DENIED_OPERATIONS: "vm.stop" })
    const names = await listed(client)
    expect(names).not.toContain("pve_stop_qemu_vm")
    expect(names).not.toContain("stopVM")
    await expect(
      client.callTool({ name: "stopVM", arguments: { vmid: 100, confirm: true } }),
    ).rejects.toThrow(/Unknown tool/)
    expect(sim.cluster.getGuest(100)?.status).toBe("running")
    expect(audit()).toContainEqual(
      expect.objectContaining({
        event: "policy.denied",
        tool: "stopVM",
        rule: "DENIED_OPERATIONS",
        decision: "denied",
      }),
    )
  })
})

describe("unknown tools", () => {
  it("a huge unknown name is echoed back cut to a few hundred characters", async () => {
    const { client } = await connect({})
    const error = await client
      .callTool({ name: "x".repeat(9 * 1024 * 1024), arguments: {} })
      .catch((e: Error) => e)
    expect(error).toBeInstanceOf(Error)
    expect((error as Error).message).toMatch(/Unknown tool: x+… \(9437184 characters\)/)
    expect((error as Error).message.length).toBeLessThan(400)
  })
})

describe("protected guests", () => {
  it("cannot stop a protected vmid or tag under tier full even with confirm: true", async () => {
    sim.cluster.addGuest({
      vmid: 7001,
      type: "qemu",
      node: "pve1",
      name: "tagged",
      status: "running",
      tags: "critical",
    })
    const { client } = await connect({
      PVE_ACCESS_TIER: "full",
      PVE_CONFIRM_MODE: "argument",
      PVE_PROTECTED_VMIDS: "100-105",
      PVE_PROTECTED_TAGS: "Critical",
    })
    expect(await call(client, "pve_stop_qemu_vm", { vmid: 101, confirm: true })).toMatchObject({
      ok: false,
      error: { code: "PROTECTED_GUEST" },
    })
    expect(await call(client, "pve_stop_qemu_vm", { vmid: 7001, confirm: true })).toMatchObject({
      ok: false,
      error: { code: "PROTECTED_GUEST", details: { rule: "PVE_PROTECTED_TAGS" } },
    })
    expect(sim.cluster.getGuest(101)?.status).toBe("running")
    expect(sim.cluster.getGuest(7001)?.status).toBe("running")
  })
})

describe("confirmation by elicitation", () => {
  it.each(["accept", "decline", "cancel"] as const)("%s", async (answer) => {
    const vmid = 7100 + ["accept", "decline", "cancel"].indexOf(answer)
    sim.cluster.addGuest({ vmid, type: "qemu", node: "pve2", name: `e-${answer}`, status: "running" })
    const asked: Array<string> = []
    const { client, audit } = await connect({ PVE_ACCESS_TIER: "full" }, { answer, asked })
    const result = await call(client, "pve_stop_qemu_vm", { vmid, wait: true })
    expect(asked).toHaveLength(1)
    expect(asked[0]).toContain(`VM ${vmid}`)
    if (answer === "accept") {
      expect(result.ok).toBe(true)
      expect(sim.cluster.getGuest(vmid)?.status).toBe("stopped")
    } else {
      expect(result).toMatchObject({ ok: false, error: { code: "CONFIRMATION_DECLINED" } })
      expect(sim.cluster.getGuest(vmid)?.status).toBe("running")
      expect(audit()).toContainEqual(
        expect.objectContaining({ event: "policy.denied", decision: "declined" }),
      )
    }
  })

  it("a client without elicitation falls back to confirm: true in auto mode", async () => {
    sim.cluster.addGuest({ vmid: 7110, type: "qemu", node: "pve2", name: "fallback", status: "running" })
    const { client } = await connect({ PVE_ACCESS_TIER: "full" })
    const refused = await call(client, "pve_stop_qemu_vm", { vmid: 7110 })
    expect(refused).toMatchObject({ ok: false, error: { code: "CONFIRMATION_REQUIRED" } })
    expect((await call(client, "pve_stop_qemu_vm", { vmid: 7110, confirm: true, wait: true })).ok).toBe(true)
  })

  it("a client that can only do URL elicitation is treated as one without elicitation", async () => {
    const { client } = await connect({ PVE_ACCESS_TIER: "full" }, undefined, {
      capabilities: { elicitation: { url: {} } },
    })
    expect(await call(client, "pve_stop_qemu_vm", { vmid: 100 })).toMatchObject({
      ok: false,
      error: { code: "CONFIRMATION_REQUIRED" },
    })
  })

  it("a client without elicitation in elicit mode gets CONFIRMATION_REQUIRED with a hint", async () => {
    const { client } = await connect({ PVE_ACCESS_TIER: "full", PVE_CONFIRM_MODE: "elicit" })
    const refused = await call(client, "pve_stop_qemu_vm", { vmid: 100, confirm: true })
    expect(refused).toMatchObject({ ok: false, error: { code: "CONFIRMATION_REQUIRED" } })
    expect(refused.error?.hint).toMatch(/elicitation/)
  })
})
