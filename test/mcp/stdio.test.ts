/**
 * End to end: the SDK's real MCP client talks to the built `proxmox-mcp` binary over stdio,
 * once in demo mode, and once against a simulated endpoint configured only by environment
 * variables with its certificate pinned by fingerprint, shut down by SIGTERM. Everything that
 * needs no process of its own runs in-process, against the same server layer.
 */
import * as fs from "node:fs"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { runCli } from "../support/cli.js"
import { eventually, startTestCluster } from "../support/cluster.js"
import { auditAfterStop, connectStdio, envFor, tempAuditPath } from "../support/mcp.js"
import { connectClient, connectInProcess, startServer } from "../support/server.js"

interface Envelope {
  ok: boolean
  data?: Record<string, unknown>
  error?: { code: string; message: string; hint?: string; impact?: string }
  meta: Record<string, unknown>
}

const connect = (args: Array<string>, env: Record<string, string>) => connectStdio(args, env)

const callTool = async (
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
  progress?: Array<unknown>,
) => {
  const result = await client.callTool(
    { name, arguments: args },
    undefined,
    progress === undefined ? {} : { onprogress: (p) => void progress.push(p) },
  )
  const envelope = result.structuredContent as unknown as Envelope
  // The text block carries the same JSON for clients that ignore structuredContent.
  expect(JSON.parse((result.content as Array<{ text: string }>)[0]!.text)).toEqual(envelope)
  expect(result.isError === true).toBe(!envelope.ok)
  return envelope
}

/** The flow the core issue asks for, against any server. */
const coreFlow = async (client: Client, vmid: number) => {
  const listed = await client.listTools()
  const names = listed.tools.map((t) => t.name)
  expect(names).toEqual(expect.arrayContaining(["pve_list_nodes", "pve_start_qemu_vm"]))

  const nodes = await callTool(client, "pve_list_nodes")
  expect(nodes.ok).toBe(true)
  expect((nodes.data as unknown as Array<{ node: string }>).map((n) => n.node)).toContain("pve1")

  const status = await callTool(client, "pve_get_qemu_status", { vmid })
  expect(status).toMatchObject({ ok: true, data: { status: "stopped" } })

  const progress: Array<unknown> = []
  const started = await callTool(client, "pve_start_qemu_vm", { vmid, wait: true }, progress)
  expect(started).toMatchObject({ ok: true, data: { exitstatus: "OK", success: true, status: "stopped" } })
  expect(progress.length).toBeGreaterThanOrEqual(1)

  const refused = await callTool(client, "pve_stop_qemu_vm", { vmid })
  expect(refused).toMatchObject({ ok: false, error: { code: "CONFIRMATION_REQUIRED" } })
  expect(refused.error?.hint).toBeTruthy()
  expect(refused.error?.impact).toBeTruthy()

  const stopped = await callTool(client, "pve_stop_qemu_vm", { vmid, confirm: true, wait: true })
  expect(stopped).toMatchObject({ ok: true, data: { exitstatus: "OK" } })
}

describe("proxmox-mcp demo over stdio", () => {
  let session: Awaited<ReturnType<typeof connect>>
  beforeAll(async () => {
    session = await connect(["demo"], {})
  })
  afterAll(async () => {
    await session.client.close()
  })

  it("says SIMULATED on stderr and runs the core flow", async () => {
    expect(session.stderr()).toContain("SIMULATED")
    await coreFlow(session.client, 102)
  })

  it("an unknown tool is a protocol error", async () => {
    await expect(session.client.callTool({ name: "pve_no_such_tool", arguments: {} })).rejects.toThrow(
      /Unknown tool/,
    )
  })

  it("tools carry annotations, _meta and flat object schemas", async () => {
    const { tools } = await session.client.listTools()
    const stop = tools.find((t) => t.name === "pve_stop_qemu_vm")!
    expect(stop.annotations).toMatchObject({
      readOnlyHint: false,
      destructiveHint: true,
      openWorldHint: false,
    })
    expect(stop._meta).toMatchObject({ category: "qemu", accessTier: "read-execute", confirmRequired: true })
    expect(stop.inputSchema).toMatchObject({ type: "object" })
    expect(stop.inputSchema).not.toHaveProperty("$schema")
    expect(stop).not.toHaveProperty("outputSchema")
    // Aliases and legacy tools are callable but not listed unless PVE_LIST_ALIASES=true.
    expect(tools.map((t) => t.name)).not.toContain("stopVM")
    expect(tools.map((t) => t.name)).not.toContain("listVMs")
  })

  it("removes its temporary audit directory when it ends", async () => {
    const match = /audit log: (\S+)\/audit\.jsonl \(removed on exit\)/.exec(session.stderr())
    expect(match).not.toBeNull()
    const dir = match![1]!
    expect(fs.existsSync(dir)).toBe(true)
    await session.client.close()
    await eventually(() => !fs.existsSync(dir))
  })
})

describe("the server in-process, settings from the environment", () => {
  let sim: RunningSimulator
  let session: Awaited<ReturnType<typeof connectInProcess>>
  beforeAll(async () => {
    sim = await startTestCluster({ perNodeEndpoints: false, taskDurationMs: 300 })
    session = await connectInProcess(sim, {
      env: { PVE_ACCESS_TIER: "full", PVE_LIST_ALIASES: "true", PVE_CONFIRM_MODE: "argument" },
    })
  })
  afterAll(async () => {
    await session?.close()
    await sim?.close()
  })

  it("lists aliases and legacy tools with PVE_LIST_ALIASES=true, marked deprecated", async () => {
    const { tools } = await session.client.listTools()
    const alias = tools.find((t) => t.name === "stopVM")!
    expect(alias._meta).toMatchObject({ aliasFor: "pve_stop_qemu_vm", deprecated: true })
    expect(tools.find((t) => t.name === "listVMs")?._meta).toMatchObject({ deprecated: true })
  })

  it("runs the core flow", async () => {
    await coreFlow(session.client, 110)
    expect(sim.cluster.getGuest(110)?.status).toBe("stopped")
    expect(sim.cluster.requests.some((r) => r.path === "/nodes/pve2/qemu/110/status/start")).toBe(true)
  })

  it("cancelling a wait call stops the Proxmox task", async () => {
    sim.cluster.setTaskDurationMs(10_000)
    try {
      const controller = new AbortController()
      const pending = session.client.callTool(
        { name: "pve_start_qemu_vm", arguments: { vmid: 120, wait: true } },
        undefined,
        {
          signal: controller.signal,
        },
      )
      await eventually(() => sim.cluster.listTasks().some((t) => t.id === "120" && t.status === "running"))
      controller.abort("changed my mind")
      await expect(pending).rejects.toThrow()
      await eventually(() => sim.cluster.listTasks().some((t) => t.id === "120" && t.stoppedByDelete))
      expect(sim.cluster.getGuest(120)?.status).toBe("stopped")
    } finally {
      sim.cluster.setTaskDurationMs(300)
    }
  })
})

describe("proxmox-mcp run, configured by environment, certificate pinned", () => {
  it("SIGTERM lets a running call finish, completes its audit record, then records server.stop", async () => {
    const sim = await startTestCluster({ perNodeEndpoints: false, taskDurationMs: 800 })
    try {
      sim.cluster.addGuest({ vmid: 5030, type: "qemu", node: "pve1", name: "draining", status: "stopped" })
      const auditPath = tempAuditPath()
      const session = await connectStdio(["run"], {
        ...envFor(sim),
        PVE_ACCESS_TIER: "full",
        AUDIT_LOG_PATH: auditPath,
      })
      const pending = session.client.callTool({
        name: "pve_start_qemu_vm",
        arguments: { vmid: 5030, wait: true },
      })
      await eventually(() => sim.cluster.listTasks().some((t) => t.id === "5030" && t.status === "running"))
      process.kill(session.pid, "SIGTERM")
      const result = await pending
      expect(result.structuredContent).toMatchObject({ ok: true, data: { exitstatus: "OK" } })
      const events = await auditAfterStop(auditPath, eventually)
      expect(events.map((e) => e.event)).toEqual([
        "server.start",
        "tool.started",
        "tool.completed",
        "server.stop",
      ])
      expect(events[2]?.outcome).toEqual({ ok: true })
      expect(sim.cluster.getGuest(5030)?.status).toBe("running")
      // Spawned by a client, stderr is a pipe, not a terminal: no start line (test/cli/startup.test.ts).
      expect(session.stderr()).not.toContain("proxmox-mcp: serving")
    } finally {
      await sim.close()
    }
  })
})

describe("client going away (in-process)", () => {
  it("closing the connection lets a running call finish and leaves its task running, then records server.stop", async () => {
    const sim = await startTestCluster({ perNodeEndpoints: false, taskDurationMs: 600 })
    try {
      sim.cluster.addGuest({ vmid: 5031, type: "qemu", node: "pve1", name: "left", status: "stopped" })
      const server = await startServer(sim, { env: { PVE_ACCESS_TIER: "full" } })
      const { client, serving } = await connectClient(server)
      client
        .callTool({ name: "pve_start_qemu_vm", arguments: { vmid: 5031, wait: true } })
        .catch(() => "the client is gone; no answer expected")
      await eventually(() => sim.cluster.listTasks().some((t) => t.id === "5031" && t.status === "running"))
      await client.close()
      await serving // the connection is over
      await server.runtime.dispose() // what the binary does next: shut down, letting calls finish
      expect(server.records().map((e) => e.event)).toEqual([
        "server.start",
        "tool.started",
        "tool.completed",
        "server.stop",
      ])
      const task = sim.cluster.listTasks().find((t) => t.id === "5031")
      expect(task?.stoppedByDelete).toBe(false)
      expect(sim.cluster.getGuest(5031)?.status).toBe("running")
    } finally {
      await sim.close()
    }
  })

  it("once the server is shutting down no new call is taken; the running one finishes", async () => {
    const sim = await startTestCluster({ perNodeEndpoints: false, taskDurationMs: 600 })
    try {
      sim.cluster.addGuest({ vmid: 5032, type: "qemu", node: "pve1", name: "busy", status: "stopped" })
      sim.cluster.addGuest({ vmid: 5033, type: "qemu", node: "pve1", name: "late", status: "stopped" })
      const server = await startServer(sim, { env: { PVE_ACCESS_TIER: "full" } })
      const { client } = await connectClient(server)
      const pending = client.callTool({ name: "pve_start_qemu_vm", arguments: { vmid: 5032, wait: true } })
      await eventually(() => sim.cluster.listTasks().some((t) => t.id === "5032" && t.status === "running"))
      // SIGTERM runs exactly this: the release of the server's layer.
      const stopping = server.runtime.dispose()
      await expect(client.callTool({ name: "pve_start_qemu_vm", arguments: { vmid: 5033 } })).rejects.toThrow(
        /shutting down/,
      )
      expect((await pending).structuredContent).toMatchObject({ ok: true })
      await stopping
      expect(sim.cluster.listTasks().some((t) => t.id === "5033")).toBe(false)
      expect(server.records().at(-1)?.event).toBe("server.stop")
    } finally {
      await sim.close()
    }
  })
})

describe("proxmox-mcp run with a bad configuration", () => {
  it("exits 2 naming the variable", async () => {
    const result = await runCli(["run"], { PROXMOX_HOST: "pve.lan", PROXMOX_TOKEN_ID: "root@pam!x" })
    expect(result.status).toBe(2)
    expect(result.stderr).toContain("PROXMOX_TOKEN_SECRET")
    expect(result.stdout).toBe("")
  })
})
