/**
 * `run` in a terminal says what it serves: one line with the cluster, its nodes, the tier, the
 * number of tools and the audit path, once Proxmox answered; a warning with the fix when it
 * does not, and the server serves either way. Not in a terminal (an MCP client spawned it), it
 * writes nothing of the kind. In-process, with the server's own stdin/stdout streams and a
 * terminal the test reads.
 */
import * as net from "node:net"
import * as path from "node:path"
import { PassThrough } from "node:stream"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest"
import { releaseLock, tryLock } from "../../src/audit/lock.js"
import { lockPathOf, siblingPathOf } from "../../src/audit/paths.js"
import { cli } from "../../src/cli/main.js"
import { startLine, startWarning } from "../../src/cli/startup.js"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { tempDir } from "../audit/helpers.js"
import { api } from "../simulator/helpers.js"
import { startTestCluster } from "../support/cluster.js"
import { envFor } from "../support/mcp.js"
import { runInProcess } from "../support/streams.js"

let sim: RunningSimulator

beforeAll(async () => {
  sim = await startTestCluster()
})
afterAll(async () => {
  await sim.close()
})

const auditPath = () => path.join(tempDir("startup-"), "audit.jsonl")

/** A loopback port nothing listens on. */
const closedPort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

/** Every line on stdout is a JSON-RPC message: nothing else ever goes there. */
const onlyProtocol = (stdout: string) => {
  const lines = stdout.split("\n").filter((line) => line !== "")
  expect(lines.length).toBeGreaterThan(0)
  for (const line of lines) expect(JSON.parse(line)).toMatchObject({ jsonrpc: "2.0" })
}

describe("proxmox-mcp run: the start line in a terminal", () => {
  it("names the cluster, its nodes, the tier, the tool count and the audit path", async () => {
    const audit = auditPath()
    const run = await runInProcess(
      [],
      { ...envFor(sim), PVE_ACCESS_TIER: "read-execute", PVE_TOOLSETS: "all", AUDIT_LOG_PATH: audit },
      { interactive: true },
    )
    const line = await run.firstTerminalWrite
    const { tools } = await run.client.listTools()
    expect(line).toBe(
      `proxmox-mcp: serving cluster 'sim-cluster' (nodes ${sim.nodes.join(", ")}), tier read-execute, ` +
        `${tools.length} tools, audit ${audit}\n`,
    )
    expect(run.terminal).toHaveLength(1)
    onlyProtocol(run.stdout())
    expect(await run.close()).toBe(0)
  })

  it("names the file records really go to when another writer holds the configured log", async () => {
    const audit = auditPath()
    // Held by this process, as another running server would hold it.
    expect(tryLock(lockPathOf(audit)).held).toBe(false)
    try {
      const run = await runInProcess(
        [],
        { ...envFor(sim), PVE_TOOLSETS: "all", AUDIT_LOG_PATH: audit },
        { interactive: true },
      )
      const line = await run.firstTerminalWrite
      expect(line).toContain(`, audit ${siblingPathOf(audit, process.pid, 1)}\n`)
      expect(await run.close()).toBe(0)
    } finally {
      releaseLock(lockPathOf(audit))
    }
  })

  it("says how many tools are listed at first when toolsets narrow the list, and shows offline nodes", async () => {
    sim.cluster.setFault(sim.nodes[2]!, { kind: "down" })
    try {
      const run = await runInProcess(
        [],
        { ...envFor(sim), AUDIT_LOG_PATH: auditPath() },
        { interactive: true },
      )
      const line = await run.firstTerminalWrite
      const { tools } = await run.client.listTools()
      const callable = /, (\d+) tools \((\d+) listed at first: PVE_TOOLSETS=default\)/.exec(line)
      expect(callable, line).not.toBeNull()
      expect(Number(callable![2])).toBe(tools.length)
      expect(Number(callable![1])).toBeGreaterThan(tools.length)
      expect(line).toContain(`(nodes ${sim.nodes.slice(0, 2).join(", ")}; offline: ${sim.nodes[2]})`)
      expect(line).toContain("tier read-only")
      expect(await run.close()).toBe(0)
    } finally {
      sim.cluster.setFault(sim.nodes[2]!, null)
    }
  })

  it("a token that may not read /cluster/status (no Sys.Audit on /): the nodes from /nodes, and why the name is missing", async () => {
    // Through the API, with the simulator's full token: a user with a VM role on /vms only.
    const made = await api(sim, { method: "POST", path: "/access/users", form: { userid: "vmonly@pve" } })
    expect(made.status, made.text).toBe(200)
    const created = await api(sim, {
      method: "POST",
      path: "/access/users/vmonly@pve/token/mcp",
      form: { privsep: 0 },
    })
    expect(created.status, created.text).toBe(200)
    const granted = await api(sim, {
      method: "PUT",
      path: "/access/acl",
      form: { path: "/vms", roles: "PVEVMUser", users: "vmonly@pve" },
    })
    expect(granted.status, granted.text).toBe(200)
    const token = { secret: String(created.json.data.value) }
    const run = await runInProcess(
      [],
      {
        ...envFor(sim),
        PROXMOX_TOKEN_ID: "vmonly@pve!mcp",
        PROXMOX_TOKEN_SECRET: token.secret,
        AUDIT_LOG_PATH: auditPath(),
      },
      { interactive: true },
    )
    const line = await run.firstTerminalWrite
    expect(line).toContain(
      `serving Proxmox VE (nodes ${sim.nodes.join(", ")}; cluster name and quorum not shown: the token lacks Sys.Audit on /)`,
    )
    expect(await run.close()).toBe(0)
  })

  it("warns with the fix when Proxmox does not answer, and keeps serving", async () => {
    const port = await closedPort()
    const run = await runInProcess(
      [],
      { ...envFor(sim), PROXMOX_HOST: "127.0.0.1", PROXMOX_PORT: String(port), AUDIT_LOG_PATH: auditPath() },
      { interactive: true },
    )
    const warning = await run.firstTerminalWrite
    expect(warning).toContain("WARNING: Proxmox did not answer: CONNECTION_REFUSED")
    expect(warning).toContain("check PROXMOX_HOST and PROXMOX_PORT")
    expect(warning).toContain("run `proxmox-mcp doctor`")
    expect(warning).toContain("Serving anyway: tier read-only")
    // The server answers: the list, and a call with Proxmox's failure as a tool result.
    const { tools } = await run.client.listTools()
    expect(tools.map((tool) => tool.name)).toContain("pve_list_nodes")
    const result = await run.client.callTool({ name: "pve_list_nodes", arguments: {} })
    expect(result.isError).toBe(true)
    expect(result.structuredContent).toMatchObject({ ok: false, error: { code: "CONNECTION_REFUSED" } })
    onlyProtocol(run.stdout())
    expect(await run.close()).toBe(0)
  })

  it("an unpinned self-signed certificate: the warning carries the line that pins it", async () => {
    const { PROXMOX_TLS_FINGERPRINTS: _pin, ...unpinned } = envFor(sim)
    const run = await runInProcess([], { ...unpinned, AUDIT_LOG_PATH: auditPath() }, { interactive: true })
    const warning = await run.firstTerminalWrite
    expect(warning).toContain("TLS_ERROR")
    expect(warning).toContain(`PROXMOX_TLS_FINGERPRINTS=${sim.fingerprint}`)
    expect(await run.close()).toBe(0)
  })
})

describe("proxmox-mcp run: not in a terminal", () => {
  it("writes no start line, and stdout carries only the protocol", async () => {
    const run = await runInProcess(
      [],
      { ...envFor(sim), AUDIT_LOG_PATH: auditPath() },
      { interactive: false },
    )
    const result = await run.client.callTool({ name: "pve_list_nodes", arguments: {} })
    expect(result.isError).toBeFalsy()
    expect(await run.close()).toBe(0)
    expect(run.terminal).toEqual([])
    onlyProtocol(run.stdout())
  })
})

describe("proxmox-mcp run --transport http", () => {
  it("prints the same start line in a terminal", async () => {
    const audit = auditPath()
    const written: Array<string> = []
    let firstWrite: (text: string) => void = () => {}
    const first = new Promise<string>((resolve) => {
      firstWrite = resolve
    })
    const terminal = {
      interactive: true,
      write: (text: string) => {
        written.push(text)
        firstWrite(text)
      },
    }
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true)
    const fiber = Effect.runFork(
      cli(
        ["run", "--transport", "http"],
        { ...envFor(sim), MCP_AUTH: "none", MCP_PORT: "0", PVE_ACCESS_TIER: "full", AUDIT_LOG_PATH: audit },
        { stdin: new PassThrough(), stdout: new PassThrough(), terminal },
      ),
    )
    try {
      const line = await first
      expect(line).toMatch(
        new RegExp(
          `^proxmox-mcp: serving cluster 'sim-cluster' \\(nodes ${sim.nodes.join(", ")}\\), tier full, \\d+ tools, audit ${audit}\n$`,
        ),
      )
      expect(written).toHaveLength(1)
    } finally {
      await Effect.runPromise(Fiber.interrupt(fiber))
      stderr.mockRestore()
    }
  })
})

/** Any C0 control character (ESC included): what could drive the operator's terminal. */
const hasControl = (text: string) => [...text].some((char) => char.charCodeAt(0) < 0x20)

describe("the start line's text", () => {
  const facts = { tier: "read-only" as const, tools: 3, auditPath: "/var/audit.jsonl" }

  it("a standalone node, and a token that may not read the cluster's name", () => {
    expect(startLine({ quorate: true, nodes: [{ name: "pve", online: true }] }, facts)).toBe(
      "proxmox-mcp: serving standalone node pve, tier read-only, 3 tools, audit /var/audit.jsonl",
    )
    expect(
      startLine(
        {
          quorate: true,
          nodes: [
            { name: "a", online: true },
            { name: "b", online: false },
          ],
          note: "cluster name and quorum not shown: the token lacks Sys.Audit on /",
        },
        facts,
      ),
    ).toContain("serving Proxmox VE (nodes a; offline: b; cluster name and quorum not shown")
  })

  it("names from Proxmox reach the terminal without control characters", () => {
    const line = startLine(
      { name: "evil\u001b]0;owned\u0007", quorate: false, nodes: [{ name: "pve1\u001b[2J", online: true }] },
      facts,
    )
    expect(hasControl(line)).toBe(false)
    expect(line).toContain("cluster 'evil]0;owned' (node pve1[2J; NO QUORUM: changes will fail)")
    const warning = startWarning({ code: "PROXMOX_AUTH_FAILED", message: "401 bad\u001b[31m" }, facts)
    expect(hasControl(warning.replaceAll("\n", ""))).toBe(false)
    expect(warning).toContain("check PROXMOX_TOKEN_ID (user@realm!token) and PROXMOX_TOKEN_SECRET")
  })
})
