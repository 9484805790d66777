/**
 * Smoke test of the binaries: the simulated cluster in one process (`simulator`), the server in
 * another (`run --transport http`, ADMIN_PASSWORD login, the NODE_OPTIONS of deploy/compose.yaml),
 * so the measured RSS is the server's alone. 100 concurrent MCP sessions with the SDK client, each
 * listing tools and calling one, keep the server's peak RSS (VmHWM) under 150 MB. Linux only.
 * (Idle expiry of abandoned sessions is shown in-process on a TestClock: mcp.test.ts.)
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { afterAll, describe, expect, it } from "vitest"
import { eventually } from "../support/cluster.js"

const ROOT = path.resolve(import.meta.dirname, "../..")
const BIN = path.join(ROOT, "dist/bin/proxmox-mcp.js")
const linux = process.platform === "linux" && fs.existsSync("/proc/self/status")
const children: Array<ChildProcess> = []
afterAll(() => {
  for (const child of children) child.kill("SIGTERM")
})

const peakRssMb = (pid: number) =>
  Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) / 1024

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = net.createServer()
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address()
      probe.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

/** The memory flags the deployment files give Node. */
const deployedNodeOptions = () =>
  /NODE_OPTIONS: "([^"]+)"/.exec(fs.readFileSync(path.join(ROOT, "deploy/compose.yaml"), "utf8"))?.[1] ?? ""

const startServer = async () => {
  const sim = spawn(process.execPath, [BIN, "simulator"], { stdio: ["ignore", "pipe", "ignore"] })
  children.push(sim)
  let line = ""
  sim.stdout?.on("data", (chunk) => {
    line += chunk
  })
  await eventually(() => line.includes("\n"), 20_000)
  const cluster = JSON.parse(line)
  const port = await freePort()
  const password = "load-test-admin-password"
  const server = spawn(process.execPath, [BIN, "run", "--transport", "http"], {
    env: {
      PATH: process.env.PATH ?? "",
      NODE_OPTIONS: deployedNodeOptions(),
      MCP_PORT: String(port),
      MCP_RATE_LIMIT_MAX: "100000",
      JWT_SECRET: "load-test-secret-of-at-least-32-characters",
      ADMIN_PASSWORD: password,
      PVE_ACCESS_TIER: "read-only",
      PROXMOX_HOST: cluster.host,
      PROXMOX_PORT: String(cluster.port),
      PROXMOX_TOKEN_ID: cluster.tokenId,
      PROXMOX_TOKEN_SECRET: cluster.tokenSecret,
      PROXMOX_TLS_FINGERPRINTS: cluster.fingerprint,
      AUDIT_LOG_PATH: path.join(fs.mkdtempSync(path.join(os.tmpdir(), "http-load-")), "audit.jsonl"),
    },
    stdio: ["ignore", "ignore", "ignore"],
  })
  children.push(server)
  const base = `http://127.0.0.1:${port}`
  let token: string | undefined
  const login = async () => {
    try {
      const response = await fetch(`${base}/auth/token`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "admin", password }),
      })
      token = ((await response.json()) as { access_token?: string }).access_token
    } catch {}
  }
  const deadline = Date.now() + 20_000
  while (token === undefined && Date.now() < deadline) {
    await login()
    if (token === undefined) await new Promise((resolve) => setTimeout(resolve, 200))
  }
  if (token === undefined) throw new Error("the server did not start")
  return { base, token, pid: server.pid! }
}

describe.skipIf(!linux)("HTTP under load (binary smoke test)", () => {
  it("100 concurrent sessions with calls keep the server's peak RSS under 150 MB", async () => {
    expect(deployedNodeOptions()).toContain("--max-old-space-size")
    const server = await startServer()
    const clients = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const transport = new StreamableHTTPClientTransport(new URL(`${server.base}/mcp`), {
          requestInit: { headers: { authorization: `Bearer ${server.token}` } },
        })
        const client = new Client({ name: "load", version: "0" })
        await client.connect(transport)
        return client
      }),
    )
    const results = await Promise.all(
      clients.map(async (client, i) => {
        await client.listTools()
        return client.callTool({ name: "pve_get_qemu_status", arguments: { vmid: [100, 101, 110][i % 3] } })
      }),
    )
    expect(results.every((result) => result.isError !== true)).toBe(true)
    const peak = peakRssMb(server.pid)
    console.log(`100 HTTP sessions with calls: server peak RSS ${peak.toFixed(1)} MB`)
    expect(peak).toBeLessThan(150)
    await Promise.all(clients.map((client) => client.close()))
  }, 90_000)
})
