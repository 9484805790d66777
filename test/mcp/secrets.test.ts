/**
 * After a session that handled a known token secret, a password and a JWT, none of them
 * appears in the audit files or on stderr (issue: audit trail, "secret-free").
 */

import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { runCli } from "../support/cli.js"
import { startTestCluster } from "../support/cluster.js"
import { connectStdio, envFor } from "../support/mcp.js"

const PASSWORD = "Tr0ub4dor&3-known-password"
const JWT =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsInJvbGUiOiJhZG1pbiJ9.c2lnbmF0dXJlLW9mLWEtdGVzdC1qd3Q"

let sim: RunningSimulator
beforeAll(async () => {
  sim = await startTestCluster({ perNodeEndpoints: false })
})
afterAll(async () => {
  await sim.close()
})

describe("secrets stay out of the audit log and stderr", () => {
  it("token secret, password and JWT never appear", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pmcp-secrets-"))
    const auditPath = path.join(dir, "audit.jsonl")
    const { client, stderr: stderrOf } = await connectStdio(["run"], {
      ...envFor(sim),
      PVE_ACCESS_TIER: "full",
      PVE_CONFIRM_MODE: "argument",
      AUDIT_LOG_PATH: auditPath,
      LOG_LEVEL: "debug",
    })
    // Secrets in arguments (refused as unknown parameters, but audited with their arguments),
    // in a free-text position, the token secret where no key says "secret" (an argument, and a
    // guest name coming back from Proxmox), and a normal successful call and mutation.
    sim.cluster.addGuest({
      vmid: 8001,
      type: "qemu",
      node: "pve1",
      name: `vm-${sim.tokenSecret}`,
      status: "stopped",
    })
    const calls: Array<[string, Record<string, unknown>]> = [
      ["pve_get_node_status", { node: "pve1", password: PASSWORD, note: JWT }],
      ["pve_get_node_status", { node: `x ${JWT}` }],
      ["pve_get_node_status", { node: "pve1", note: sim.tokenSecret }],
      ["pve_list_qemu_vms", { node: "pve1" }],
      ["pve_get_qemu_status", { vmid: 8001 }],
      ["pve_get_qemu_config", { vmid: 100 }],
      ["pve_start_qemu_vm", { vmid: 102, wait: true }],
    ]
    const results: Array<unknown> = []
    for (const [name, args] of calls) results.push(await client.callTool({ name, arguments: args }))
    await client.close()
    const answered = JSON.stringify(results)
    expect(answered).toContain("vm-[REDACTED]")
    const stderr = stderrOf()
    // LOG_LEVEL=debug logs every call with its arguments: the check below has something to check.
    expect(stderr).toContain("tool call pve_get_node_status")
    // ... and every request sent upstream: method, path, status, duration, endpoint.
    expect(stderr).toMatch(/upstream GET \/nodes -> 200.*"durationMs"/)

    const files = fs.readdirSync(dir).map((f) => path.join(dir, f))
    const audit = files.map((f) => fs.readFileSync(f, "utf8")).join("\n")
    expect(audit).toContain("pve_start_qemu_vm")
    expect(audit).toContain("[REDACTED]")
    for (const secret of [sim.tokenSecret, PASSWORD, JWT]) {
      expect(audit.includes(secret), "audit log holds a secret").toBe(false)
      expect(stderr.includes(secret), "stderr holds a secret").toBe(false)
      expect(answered.includes(secret), "a tool result holds a secret").toBe(false)
    }
    // The log the session left behind verifies.
    const verify = await runCli(["audit", "verify", auditPath])
    expect(verify.status, verify.stdout + verify.stderr).toBe(0)
  })

  it("an unwritable audit path stops the server at start", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pmcp-unwritable-"))
    const blocker = path.join(dir, "not-a-dir")
    fs.writeFileSync(blocker, "")
    // In-process: the server fails while its layers are built, before it reads stdin.
    const result = await runCli(["run"], {
      ...envFor(sim),
      AUDIT_LOG_PATH: path.join(blocker, "audit.jsonl"),
    })
    expect(result.status).not.toBe(0)
    expect(result.stderr).toMatch(/audit/i)
    expect(result.stdout).toBe("")
  })
})
