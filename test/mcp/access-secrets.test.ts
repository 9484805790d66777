/**
 * Secrets of the access tools (passwords, a new API token's value) never reach the audit log or
 * the server log; the token's value reaches the caller, once. One session of the real binary
 * (stdio, LOG_LEVEL=debug, hash-chained audit file) runs a table of access calls.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { runCli } from "../support/cli.js"
import { startTestCluster } from "../support/cluster.js"
import { connectStdio, envFor } from "../support/mcp.js"

let sim: RunningSimulator
beforeAll(async () => {
  sim = await startTestCluster({ perNodeEndpoints: false })
})
afterAll(async () => {
  await sim.close()
})

interface Envelope {
  readonly ok: boolean
  readonly data?: unknown
  readonly error?: { readonly code: string }
}

/** Each call, the secrets it carries, and whether it succeeds. */
const CASES: ReadonlyArray<{
  readonly tool: string
  readonly args: Record<string, unknown>
  readonly secrets: ReadonlyArray<string>
  readonly ok: boolean
}> = [
  {
    tool: "pve_create_user",
    args: { userid: "alice@pve", password: "Alice-initial-pass-1", email: "alice@example.com" },
    secrets: ["Alice-initial-pass-1"],
    ok: true,
  },
  {
    // A password where the tool takes none: refused, but audited with its arguments.
    tool: "pve_update_user",
    args: { userid: "alice@pve", email: "a@example.com", password: "Alice-second-pass-2", confirm: true },
    secrets: ["Alice-second-pass-2"],
    ok: false,
  },
  {
    // A password in free text.
    tool: "pve_update_user",
    args: { userid: "alice@pve", comment: "temporary password=Alice-third-pass-3", confirm: true },
    secrets: ["Alice-third-pass-3"],
    ok: true,
  },
  {
    tool: "pve_create_api_token",
    args: { userid: "alice@pve", tokenid: "ci", privsep: true },
    secrets: [],
    ok: true,
  },
  { tool: "pve_list_api_tokens", args: { userid: "alice@pve" }, secrets: [], ok: true },
  { tool: "pve_list_users", args: { full: true }, secrets: [], ok: true },
  {
    tool: "pve_update_acl",
    args: { path: "/vms", roles: "PVEVMUser", tokens: "alice@pve!ci", confirm: true },
    secrets: [],
    ok: true,
  },
  { tool: "pve_list_acls", args: {}, secrets: [], ok: true },
  {
    tool: "pve_create_user",
    args: { userid: "bob@pve", password: "short" },
    secrets: ["short"],
    ok: false,
  },
  {
    tool: "pve_delete_api_token",
    args: { userid: "alice@pve", tokenid: "ci", confirm: true },
    secrets: [],
    ok: true,
  },
  { tool: "pve_delete_user", args: { userid: "alice@pve", confirm: true }, secrets: [], ok: true },
]

describe("access tools keep secrets out of the audit and the server log", () => {
  it("passwords and the new token's value appear in neither; the value reaches the caller once", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pmcp-access-secrets-"))
    const auditPath = path.join(dir, "audit.jsonl")
    const { client, stderr } = await connectStdio(["run"], {
      ...envFor(sim),
      PVE_ACCESS_TIER: "full",
      PVE_MODULE_MODE: "advanced",
      PVE_CONFIRM_MODE: "argument",
      AUDIT_LOG_PATH: auditPath,
      LOG_LEVEL: "debug",
    })
    const answers: Array<string> = []
    const secrets: Array<string> = []
    let tokenValue: string | undefined
    for (const { tool, args, secrets: carried, ok } of CASES) {
      const result = await client.callTool({ name: tool, arguments: args })
      const envelope = result.structuredContent as unknown as Envelope
      expect(envelope.ok, `${tool} ${JSON.stringify(envelope.error)}`).toBe(ok)
      if (tool === "pve_create_api_token") tokenValue = (envelope.data as { value: string }).value
      answers.push(JSON.stringify(result))
      secrets.push(...carried.filter((secret) => secret.length >= 8))
    }
    await client.close()
    expect(tokenValue).toMatch(/^[0-9a-f-]{36}$/)
    secrets.push(tokenValue ?? "")

    const audit = fs.readFileSync(auditPath, "utf8")
    const log = stderr()
    // The checks have something to check: every call is in the audit and in the debug log.
    for (const { tool } of CASES) {
      expect(audit).toContain(tool)
      expect(log).toContain(`tool call ${tool}`)
    }
    for (const secret of secrets) {
      expect(audit.includes(secret), `audit holds ${secret.slice(0, 6)}...`).toBe(false)
      expect(log.includes(secret), `server log holds ${secret.slice(0, 6)}...`).toBe(false)
    }
    // The token's value went to the caller in the one answer that created it, nowhere else.
    expect(answers.filter((answer) => answer.includes(tokenValue ?? "-")).length).toBe(1)
    for (const password of secrets.slice(0, -1))
      expect(
        answers.some((answer) => answer.includes(password)),
        "an answer holds a password",
      ).toBe(false)

    const verify = await runCli(["audit", "verify", auditPath])
    expect(verify.status, verify.stdout + verify.stderr).toBe(0)
  })
})
