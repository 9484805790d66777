/**
 * The HTTP commands as a user runs them (spawned binary, rare smoke test): `demo --transport
 * http` prints a token that works, and SIGTERM ends it with exit 0; `hash-password` prints only
 * a hash that verifies the line it read.
 */
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import { verifyPassword } from "../../src/auth/password.js"
import { eventually } from "../support/cluster.js"

const BIN = path.resolve(import.meta.dirname, "../../dist/bin/proxmox-mcp.js")

describe("HTTP commands", () => {
  it("demo --transport http prints a working test token; SIGTERM exits 0", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "demo-http-"))
    const child = spawn(process.execPath, [BIN, "demo", "--transport", "http"], {
      env: { PATH: process.env.PATH ?? "", MCP_PORT: "0", AUDIT_LOG_PATH: path.join(dir, "audit.jsonl") },
      stdio: ["ignore", "ignore", "pipe"],
    })
    let stderr = ""
    child.stderr.on("data", (chunk) => {
      stderr += chunk
    })
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve))
    try {
      await eventually(() => /test token for 'admin'[^\n]*\n\S+/.test(stderr), 20_000)
      expect(stderr).toContain("SIMULATED")
      const url = /MCP over HTTP at (http:\/\/\S+)\/mcp/.exec(stderr)![1]!
      const token = /test token for 'admin'[^\n]*\n(\S+)/.exec(stderr)![1]!
      const nodes = await fetch(`${url}/mcp/v1/nodes`, { headers: { authorization: `Bearer ${token}` } })
      expect(nodes.status).toBe(200)
      expect(((await nodes.json()) as { total: number }).total).toBe(3)
      const without = await fetch(`${url}/mcp/v1/nodes`)
      expect(without.status).toBe(401)
    } finally {
      child.kill("SIGTERM")
    }
    expect(await exited).toBe(0)
    const events = fs
      .readFileSync(path.join(dir, "audit.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line).event)
    expect(events[0]).toBe("server.start")
    expect(events).toContain("auth.login")
    expect(events.at(-1)).toBe("server.stop")
  }, 40_000)

  it("hash-password reads one line and prints only its scrypt hash", async () => {
    const result = spawnSync(process.execPath, [BIN, "hash-password"], {
      input: "s3cret pass\nignored\n",
      encoding: "utf8",
    })
    expect(result.status).toBe(0)
    const hash = result.stdout.trim()
    expect(result.stdout.split("\n").filter((line) => line !== "")).toHaveLength(1)
    expect(await Effect.runPromise(verifyPassword("s3cret pass", hash))).toBe(true)
    expect(await Effect.runPromise(verifyPassword("s3cret pass\n", hash))).toBe(false)
    const empty = spawnSync(process.execPath, [BIN, "hash-password"], { input: "\n", encoding: "utf8" })
    expect(empty.status).toBe(2)
    expect(empty.stdout).toBe("")
  }, 20_000)
})
