/**
 * After a run that handled a known token secret, a password and a JWT, none of them is anywhere
 * in the audit files or in what the logger printed (SPEC section 8: audit records and logs never
 * contain a secret).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger, Redacted } from "effect"
import { makeFile } from "../../src/audit/file.js"
import { makeMemory } from "../../src/audit/memory.js"
import { rotatedPathOf } from "../../src/audit/paths.js"
import type { AuditEntry } from "../../src/audit/port.js"
import { makeRedactor } from "../../src/domain/redact.js"
import { principal, tempDir } from "./helpers.js"

const TOKEN_SECRET = "5d2f8c1a-93b4-4e7f-8a6d-1c0b9e8f7a6d"
const PASSWORD = "Tr0ub4dor&3-horse"
const JWT =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsInNpZCI6IngifQ.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk"
const PRIVATE_KEY =
  "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAq7BFUAkGA1UE\n-----END RSA PRIVATE KEY-----"
const SECRETS = [
  TOKEN_SECRET,
  PASSWORD,
  JWT,
  "MIIEowIBAAKCAQEAq7BFUAkGA1UE",
  "ci-pass-9",
  "new-token-value-42",
]

/** What a busy server would hand the audit log: secrets by key, inside text, and unannounced. */
const leakyEntries = (): ReadonlyArray<AuditEntry> => [
  { event: "auth.login", principal, args: { username: "alice", password: PASSWORD } },
  { event: "auth.login_failed", principal, detail: `bad password '${PASSWORD}' for alice` },
  {
    event: "auth.refresh",
    principal,
    args: { refresh_token: "opaque-refresh-1", authorization: `Bearer ${JWT}` },
  },
  { event: "auth.refresh_reuse", principal, detail: `reused token ${JWT}` },
  {
    event: "tool.started",
    principal,
    tool: "pve_update_vm_config",
    args: { node: "pve1", vmid: 100, cipassword: "ci-pass-9", description: `deployed by ${TOKEN_SECRET}` },
  },
  {
    event: "tool.completed",
    principal,
    tool: "pve_create_token",
    args: { userid: "bob@pve", tokenid: "ci", note: `header PVEAPIToken=root@pam!mcp=${TOKEN_SECRET}` },
    detail: JSON.stringify({ "full-tokenid": "bob@pve!ci", value: "new-token-value-42" }),
    outcome: { ok: true },
  },
  { event: "tool.call", principal, tool: "pve_ssh_exec", args: { key: PRIVATE_KEY, text: PASSWORD } },
]

describe("no secret reaches the audit log or the logs", () => {
  it.scopedLive("file sink with the deployment's known secrets, across rotation", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const file = path.join(dir, "audit.jsonl")
      const redactor = makeRedactor({ knownSecrets: [Redacted.make(TOKEN_SECRET), PASSWORD] })
      const printed: Array<string> = []
      // The stderr logger of the CLI is a JSON logger; the redactor cleans each line it prints.
      const logger = Logger.map(Logger.jsonLogger, (line) => {
        printed.push(redactor.line(line))
      })
      yield* Effect.gen(function* () {
        const audit = yield* makeFile({ path: file, redactor, maxBytes: 1_500 })
        for (const entry of leakyEntries()) yield* audit.write(entry, { durable: true })
        yield* audit.flush
        yield* Effect.logError(`upstream rejected PVEAPIToken=root@pam!mcp=${TOKEN_SECRET}`, {
          password: PASSWORD,
          jwt: JWT,
        })
      }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))

      expect(fs.existsSync(rotatedPathOf(file, 1))).toBe(true)
      const everything = fs
        .readdirSync(dir)
        .map((name) => fs.readFileSync(path.join(dir, name), "utf8"))
        .join("\n")
      expect(everything).toContain("[REDACTED]")
      expect(everything).toContain("root@pam!mcp")
      expect(printed.join("\n")).toContain("upstream rejected")
      for (const secret of SECRETS) {
        expect(everything).not.toContain(secret)
        expect(printed.join("\n")).not.toContain(secret)
      }
    }),
  )

  it.effect("the default redactor alone removes secrets by key and by shape", () =>
    Effect.gen(function* () {
      const memory = yield* makeMemory()
      for (const entry of leakyEntries()) yield* memory.service.write(entry)
      const text = JSON.stringify(memory.records())
      for (const secret of [JWT, "ci-pass-9", "MIIEowIBAAKCAQEAq7BFUAkGA1UE", "new-token-value-42"]) {
        expect(text).not.toContain(secret)
      }
      expect(text).toContain("PVEAPIToken=root@pam!mcp=[REDACTED]")
      // A bare secret in free text is only caught when it is registered as a known secret.
      expect(text).toContain(`"text":"${PASSWORD}"`)
      expect(text).toContain(`deployed by ${TOKEN_SECRET}`)
    }),
  )
})
