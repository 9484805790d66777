/** Shared fixtures for the audit tests: temporary directories, sample entries, log capture. */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Logger } from "effect"
import type { AuditEntry, AuditPrincipal, AuditRecord } from "../../src/audit/port.js"

export const tempDir = (prefix = "audit-test-") => fs.mkdtempSync(path.join(os.tmpdir(), prefix))

export const readLines = (file: string): Array<string> =>
  fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "")

export const readRecords = (file: string): Array<AuditRecord> =>
  readLines(file).map((line) => JSON.parse(line) as AuditRecord)

export const principal: AuditPrincipal = {
  sub: "alice",
  role: "operator",
  transport: "http",
  ip: "192.0.2.7",
}
export const stdioPrincipal: AuditPrincipal = { sub: "local", role: "admin", transport: "stdio" }

/** A read: one `tool.call` record. */
export const readCall = (n: number): AuditEntry => ({
  event: "tool.call",
  principal,
  tool: "pve_get_vm_status",
  args: { node: "pve1", vmid: 100 + n },
  target: { node: "pve1", type: "qemu", vmid: 100 + n },
  decision: "allowed",
  outcome: { ok: true },
  durationMs: 12,
  upstream: [
    { node: "pve1", method: "GET", path: `/nodes/pve1/qemu/${100 + n}/status/current`, status: 200 },
  ],
})

/** One entry of every event kind, with the fields SPEC section 8 gives each. */
export const everyEventKind = (): ReadonlyArray<AuditEntry> => {
  const id = "6f1c2a9e-3c1b-4b8e-9a57-0d6f5e3f2a10"
  return [
    { event: "server.start", principal: stdioPrincipal, detail: "proxmox-mcp 0.1.0" },
    readCall(1),
    {
      event: "tool.started",
      id,
      principal,
      tool: "pve_start_vm",
      aliasOf: "pve_vm_start",
      args: { node: "pve1", vmid: 101, confirm: true },
      target: { node: "pve1", type: "qemu", vmid: 101 },
      decision: "allowed",
    },
    {
      event: "tool.completed",
      id,
      principal,
      tool: "pve_start_vm",
      aliasOf: "pve_vm_start",
      args: { node: "pve1", vmid: 101, confirm: true },
      target: { node: "pve1", type: "qemu", vmid: 101 },
      decision: "allowed",
      outcome: { ok: false, code: "TASK_FAILED" },
      durationMs: 2040,
      upstream: [
        {
          node: "pve1",
          method: "POST",
          path: "/nodes/pve1/qemu/101/status/start",
          status: 200,
          upid: "UPID:pve1:0000ABCD:00012345:65A1B2C3:qmstart:101:alice@pve!mcp:",
        },
      ],
    },
    {
      event: "policy.denied",
      principal,
      tool: "pve_delete_vm",
      args: { node: "pve1", vmid: 150 },
      target: { node: "pve1", type: "qemu", vmid: 150 },
      decision: "denied",
      rule: "PVE_PROTECTED_VMIDS=100-199",
      outcome: { ok: false, code: "PROTECTED_GUEST" },
    },
    {
      event: "policy.denied",
      principal,
      tool: "pve_stop_vm",
      decision: "confirmation_required",
      outcome: { ok: false, code: "CONFIRMATION_REQUIRED" },
    },
    { event: "policy.denied", principal, tool: "pve_stop_vm", decision: "declined" },
    { event: "auth.login", principal, outcome: { ok: true } },
    {
      event: "auth.login_failed",
      principal,
      outcome: { ok: false, code: "BAD_CREDENTIALS" },
      detail: "bad password",
    },
    { event: "auth.refresh", principal, outcome: { ok: true } },
    {
      event: "auth.refresh_reuse",
      principal,
      outcome: { ok: false },
      detail: "refresh token reused: family revoked",
    },
    { event: "auth.logout", principal, outcome: { ok: true } },
    { event: "server.stop", principal: stdioPrincipal },
  ]
}

/** Collects log messages (what the stderr logger would print) while `effect` runs. */
export const captureLogs = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const messages: Array<string> = []
    const logger = Logger.make(({ logLevel, message }) => {
      const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
      messages.push(`${logLevel.label} ${text}`)
    })
    const result = yield* effect.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    return { result, messages }
  })
