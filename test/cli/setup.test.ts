/**
 * `proxmox-mcp setup` with flags (no terminal) against the simulated cluster: the config file is
 * written 0600 in a git-ignored directory with the pinned fingerprint, the client files reference
 * it, and `doctor` accepts the result.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startSimulator } from "../../src/simulator/index.js"
import type { RunningSimulator } from "../../src/simulator/types.js"
import { tempDir } from "../audit/helpers.js"
import { runCli } from "../support/cli.js"

let sim: RunningSimulator

beforeAll(async () => {
  sim = await startSimulator({ nodes: ["pve1"] })
})
afterAll(async () => {
  await sim.close()
})

const hostArg = () => `${sim.endpoints[0]!.host}:${sim.endpoints[0]!.port}`

describe("proxmox-mcp setup", () => {
  it("writes a pinned config file 0600 and client files that point at it; doctor accepts it", async () => {
    const dir = tempDir("setup-")
    const home = tempDir("setup-home-")
    const config = path.join(dir, ".proxmox-mcp", "config.json")
    const env = {
      PROXMOX_TOKEN_SECRET: sim.tokenSecret,
      HOME: home,
      XDG_CONFIG_HOME: path.join(home, ".config"),
      AUDIT_LOG_PATH: path.join(dir, "audit.jsonl"),
    }
    const result = await runCli(
      [
        "setup",
        "--host",
        hostArg(),
        "--token-id",
        sim.tokenId,
        "--tier",
        "read-execute",
        "--pin-observed",
        "--config",
        config,
        "--dir",
        dir,
        "--client",
        "vscode",
        "--client",
        "claude-code",
        "--client",
        "claude-desktop",
      ],
      env,
    )
    expect(result.stderr).toContain(sim.fingerprint)
    expect(result.stderr).toMatch(/all good/)
    expect(result.status).toBe(0)
    expect(fs.statSync(config).mode & 0o777).toBe(0o600)
    expect(fs.readFileSync(path.join(dir, ".proxmox-mcp", ".gitignore"), "utf8")).toMatch(/^\*$/m)
    expect(JSON.parse(fs.readFileSync(config, "utf8"))).toEqual({
      PROXMOX_HOST: sim.endpoints[0]!.host,
      PROXMOX_PORT: String(sim.endpoints[0]!.port),
      PROXMOX_TOKEN_ID: sim.tokenId,
      PROXMOX_TOKEN_SECRET: sim.tokenSecret,
      PVE_ACCESS_TIER: "read-execute",
      PROXMOX_TLS_FINGERPRINTS: sim.fingerprint,
    })
    const vscode = JSON.parse(fs.readFileSync(path.join(dir, ".vscode", "mcp.json"), "utf8"))
    expect(vscode.servers.proxmox).toMatchObject({ type: "stdio", env: { PROXMOX_MCP_CONFIG: config } })
    expect(vscode.servers.proxmox.args[0]).toMatch(/bin[/\\]proxmox-mcp\.js$/)
    const claudeCode = JSON.parse(fs.readFileSync(path.join(dir, ".mcp.json"), "utf8"))
    expect(claudeCode.mcpServers.proxmox.env).toEqual({ PROXMOX_MCP_CONFIG: config })
    const desktop = path.join(home, ".config", "Claude", "claude_desktop_config.json")
    if (process.platform === "linux") expect(fs.existsSync(desktop)).toBe(true)
    // No secret is copied into a client file.
    for (const file of [path.join(dir, ".vscode", "mcp.json"), path.join(dir, ".mcp.json")])
      expect(fs.readFileSync(file, "utf8")).not.toContain(sim.tokenSecret)
    const doctor = await runCli(["doctor"], {
      PROXMOX_MCP_CONFIG: config,
      AUDIT_LOG_PATH: env.AUDIT_LOG_PATH,
    })
    expect(doctor.status).toBe(0)
  })

  it("keeps the other servers of an existing client file", async () => {
    const dir = tempDir("setup-")
    fs.writeFileSync(path.join(dir, ".mcp.json"), JSON.stringify({ mcpServers: { other: { command: "x" } } }))
    const result = await runCli(
      [
        "setup",
        "--host",
        hostArg(),
        "--token-id",
        sim.tokenId,
        "--pin",
        sim.fingerprint.toLowerCase().replace(/:/g, ""),
        "--config",
        path.join(dir, "c.json"),
        "--dir",
        dir,
        "--client",
        "claude-code",
      ],
      { PROXMOX_TOKEN_SECRET: sim.tokenSecret, AUDIT_LOG_PATH: path.join(dir, "audit.jsonl") },
    )
    expect(result.status).toBe(0)
    const merged = JSON.parse(fs.readFileSync(path.join(dir, ".mcp.json"), "utf8"))
    expect(Object.keys(merged.mcpServers)).toEqual(["other", "proxmox"])
    expect(JSON.parse(fs.readFileSync(path.join(dir, "c.json"), "utf8")).PROXMOX_TLS_FINGERPRINTS).toBe(
      sim.fingerprint,
    )
  })

  it("without a terminal, a self-signed certificate is not pinned silently", async () => {
    const dir = tempDir("setup-")
    const result = await runCli(
      ["setup", "--host", hostArg(), "--token-id", sim.tokenId, "--config", path.join(dir, "c.json")],
      { PROXMOX_TOKEN_SECRET: sim.tokenSecret },
    )
    expect(result.status).toBe(2)
    expect(result.stderr).toContain(sim.fingerprint)
    expect(result.stderr).toMatch(/pass --pin-observed to pin it/)
    expect(fs.existsSync(path.join(dir, "c.json"))).toBe(false)
  })

  it("says what is missing, and an unreachable host exits 1", async () => {
    const missing = await runCli(["setup", "--host", hostArg()], {})
    expect(missing.status).toBe(2)
    expect(missing.stderr).toMatch(/--token-id is required when setup runs without a terminal/)
    const unreachable = await runCli(["setup", "--host", "127.0.0.1:1", "--token-id", sim.tokenId], {
      PROXMOX_TOKEN_SECRET: "x",
    })
    expect(unreachable.status).toBe(1)
    expect(unreachable.stderr).toMatch(/cannot reach 127\.0\.0\.1:1/)
  })

  it("--print-config prints one client's configuration and writes nothing", async () => {
    const dir = tempDir("setup-")
    const result = await runCli(
      ["setup", "--print-config", "vscode", "--config", path.join(dir, "c.json"), "--dir", dir],
      {},
    )
    expect(result.status).toBe(0)
    const json = JSON.parse(result.stdout.split("\n").slice(1).join("\n"))
    expect(json.servers.proxmox.env.PROXMOX_MCP_CONFIG).toBe(path.join(dir, "c.json"))
    expect(fs.readdirSync(dir)).toEqual([])
  })
})
