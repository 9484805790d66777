/**
 * The transport closing for its own reasons is a disconnect, not the client cancelling: a
 * message over the SDK's 10 MiB stdio line cap closes the transport while a `wait: true` call
 * runs. The call must finish (no DELETE of its Proxmox task) and its audit record must come
 * before `server.stop`. Real stdio transport over in-process pipes, raw JSON-RPC lines.
 */
import { PassThrough } from "node:stream"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { serveStdio } from "../../src/mcp/stdio.js"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { eventually, startTestCluster } from "../support/cluster.js"
import { startServer } from "../support/server.js"

let sim: RunningSimulator

beforeAll(async () => {
  sim = await startTestCluster({ taskDurationMs: 1_000 })
})
afterAll(async () => {
  await sim?.close()
})

describe("a transport that closes on its own", () => {
  it("an 11 MB message during a wait: true call: the task is not stopped, the call's record precedes server.stop", async () => {
    sim.cluster.addGuest({ vmid: 7001, type: "qemu", node: "pve1", name: "big-message", status: "stopped" })
    const server = await startServer(sim, { env: { PVE_ACCESS_TIER: "full" } })
    const stdin = new PassThrough()
    const stdout = new PassThrough()
    const lines: Array<Record<string, unknown>> = []
    let buffered = ""
    stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString()
      for (let i = buffered.indexOf("\n"); i >= 0; i = buffered.indexOf("\n")) {
        lines.push(JSON.parse(buffered.slice(0, i)))
        buffered = buffered.slice(i + 1)
      }
    })
    const send = (message: unknown) => stdin.write(`${JSON.stringify(message)}\n`)
    const served = server.runtime.runPromise(serveStdio(stdin, stdout))

    send({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
    })
    await eventually(() => lines.some((l) => l.id === 1))
    send({ jsonrpc: "2.0", method: "notifications/initialized" })
    send({
      jsonrpc: "2.0",
      id: 2,
      method: "tools/call",
      params: { name: "pve_start_qemu_vm", arguments: { vmid: 7001, wait: true } },
    })
    // The task has started; now a line larger than the transport accepts.
    await eventually(() => sim.cluster.requests.some((r) => r.path === "/nodes/pve1/qemu/7001/status/start"))
    stdin.write(
      `{"jsonrpc":"2.0","method":"notifications/message","params":{"pad":"${"x".repeat(11 * 1024 * 1024)}`,
    )
    await served // the transport closed: serving ends

    await server.runtime.dispose() // the server shuts down: the running call may finish first
    expect(sim.cluster.requests.filter((r) => r.method === "DELETE")).toEqual([])
    expect(sim.cluster.getGuest(7001)?.status).toBe("running")
    const events = server.records().map((r) => `${r.event}${r.tool === undefined ? "" : `:${r.tool}`}`)
    const completed = events.indexOf("tool.completed:pve_start_qemu_vm")
    expect(completed).toBeGreaterThan(0)
    expect(events.indexOf("server.stop")).toBeGreaterThan(completed)
    const record = server.records()[completed]!
    expect(record.outcome).toEqual({ ok: true })
  })
})
