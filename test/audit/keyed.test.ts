/**
 * The keyed chain (`AUDIT_HMAC_KEY`), `audit verify --key`, `audit export-head` and `--witness`.
 * The attack these exist for: someone who can write the log directory rewrites the whole log and
 * its head with recomputed hashes. The keyless chain cannot tell; the macs and a witness can.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { ConfigProvider, Effect, Either, Redacted } from "effect"
import { afterEach, describe, expect, it, vi } from "vitest"
import { hashRecord, macRecord, verifyChain } from "../../src/audit/chain.js"
import { auditConfig, hmacKeyObject } from "../../src/audit/config.js"
import { layerFile } from "../../src/audit/file.js"
import { makeMemory } from "../../src/audit/memory.js"
import { headPathOf } from "../../src/audit/paths.js"
import { Audit, type AuditRecord } from "../../src/audit/port.js"
import { auditVerify, runAuditCommand } from "../../src/cli/audit.js"
import { readCall, readLines, readRecords, tempDir } from "./helpers.js"

const KEY = "k3y-for-tests-0123456789abcdef0123456789"
const OTHER_KEY = "another-key-0123456789abcdef0123456789ab"

const writeLog = async (options: { readonly key?: string; readonly count?: number } = {}) => {
  const file = path.join(tempDir("audit-keyed-"), "audit.jsonl")
  await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const audit = yield* Audit
        for (let n = 0; n < (options.count ?? 6); n++)
          yield* audit.write(readCall(n), { durable: n % 2 === 0 })
      }).pipe(
        Effect.provide(
          layerFile({
            path: file,
            ...(options.key === undefined ? {} : { hmacKey: Redacted.make(options.key) }),
          }),
        ),
      ),
    ),
  )
  return file
}

/** What an attacker with write access and no key can do: change a record, re-hash everything after it, fix the head. */
const rewriteWholeLog = (file: string, edit: (record: Record<string, unknown>) => void) => {
  let prev = "0".repeat(64)
  const lines = readLines(file).map((line, index) => {
    const { hash: _hash, ...body } = JSON.parse(line) as Record<string, unknown>
    if (index === 1) edit(body)
    body.prev = prev
    const hash = hashRecord(prev, body)
    prev = hash
    return JSON.stringify({ ...body, hash })
  })
  fs.writeFileSync(file, `${lines.join("\n")}\n`)
  fs.writeFileSync(headPathOf(file), `${JSON.stringify({ seq: lines.length, hash: prev })}\n`)
}

const capture = () => {
  const out: Array<string> = []
  const err: Array<string> = []
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => out.push(String(chunk)) > 0)
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => err.push(String(chunk)) > 0)
  return { out: () => out.join(""), err: () => err.join("") }
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe("keyed records", () => {
  it("carry a mac over the record without hash and mac; the hash covers the mac (SPEC's definition holds)", () => {
    const memory = Effect.runSync(makeMemory({ hmacKey: Redacted.make(KEY) }))
    for (let n = 0; n < 3; n++) Effect.runSync(memory.service.write(readCall(n)))
    const records = memory.records()
    expect(verifyChain(records)).toMatchObject({ ok: true, count: 3 })
    for (const record of records) {
      const { hash, mac, ...rest } = record as AuditRecord & Record<string, unknown>
      expect(mac).toMatch(/^[0-9a-f]{64}$/)
      expect(macRecord(hmacKeyObject(Redacted.make(KEY)), record.prev, rest)).toBe(mac)
      expect(hashRecord(record.prev, { ...rest, mac })).toBe(hash)
    }
  })

  it("without a key, records have no mac", async () => {
    expect(readRecords(await writeLog()).every((record) => record.mac === undefined)).toBe(true)
  })
})

describe("audit verify --key", () => {
  it("passes an intact keyed log, with the key and without it", async () => {
    const file = await writeLog({ key: KEY })
    const key = hmacKeyObject(Redacted.make(KEY))
    expect(await auditVerify([file], { key })).toMatchObject({ ok: true })
    expect((await auditVerify([file], { key })).message).toMatch(/every mac valid/)
    expect(await auditVerify([file])).toMatchObject({ ok: true })
  })

  it("catches a rewrite of the whole log plus its head, which the keyless chain cannot", async () => {
    const file = await writeLog({ key: KEY })
    rewriteWholeLog(file, (record) => {
      record.args = { node: "pve1", vmid: 999 }
    })
    // The keyless verifier is fooled: every hash and the head agree.
    expect(await auditVerify([file])).toMatchObject({ ok: true })
    const keyed = await auditVerify([file], { key: hmacKeyObject(Redacted.make(KEY)) })
    expect(keyed).toMatchObject({ ok: false, status: "tampered" })
    expect(keyed.message).toMatch(/:2 \(seq 2\): mac does not match/)
  })

  it("catches a forged record appended with a recomputed hash and a made-up mac", async () => {
    const file = await writeLog({ key: KEY })
    const last = readRecords(file).at(-1)!
    const { hash: _hash, ...body } = { ...last, seq: last.seq + 1, prev: last.hash, mac: "ab".repeat(32) }
    fs.appendFileSync(file, `${JSON.stringify({ ...body, hash: hashRecord(last.hash, body) })}\n`)
    const result = await auditVerify([file], { key: hmacKeyObject(Redacted.make(KEY)) })
    expect(result).toMatchObject({ ok: false, status: "tampered" })
    expect(result.message).toMatch(/seq 7\): mac does not match/)
  })

  it("refuses records without a mac (a log written without the key, or macs stripped)", async () => {
    const file = await writeLog()
    const result = await auditVerify([file], { key: hmacKeyObject(Redacted.make(KEY)) })
    expect(result.message).toMatch(/seq 1\): the record has no valid mac/)
  })

  it("names a wrong key as a mismatch", async () => {
    const file = await writeLog({ key: KEY })
    const result = await auditVerify([file], { key: hmacKeyObject(Redacted.make(OTHER_KEY)) })
    expect(result).toMatchObject({ ok: false, status: "tampered" })
    expect(result.message).toMatch(/or the key is wrong/)
  })
})

describe("AUDIT_HMAC_KEY", () => {
  const load = (env: Record<string, string>) =>
    Effect.runSync(
      Effect.either(auditConfig).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries({ HOME: "/h", ...env })))),
      ),
    )

  it("is optional, and refused when shorter than 32 characters without echoing it", () => {
    const none = load({})
    expect(Either.isRight(none) && none.right.hmacKey).toBe(undefined)
    const set = load({ AUDIT_HMAC_KEY: KEY })
    expect(Either.isRight(set) && Redacted.value(set.right.hmacKey!)).toBe(KEY)
    const short = load({ AUDIT_HMAC_KEY: "short-secret-value" })
    expect(Either.isLeft(short)).toBe(true)
    const message = String(Either.isLeft(short) ? short.left : "")
    expect(message).toMatch(/AUDIT_HMAC_KEY: too short/)
    expect(message).not.toContain("short-secret-value")
  })
})

describe("the audit command", () => {
  it("verify --key reads AUDIT_HMAC_KEY from the environment; --key-file from a file", async () => {
    const file = await writeLog({ key: KEY })
    const io = capture()
    expect(await runAuditCommand(["verify", "--key", file], { AUDIT_HMAC_KEY: KEY })).toBe(0)
    expect(await runAuditCommand(["verify", "--key", file], { AUDIT_HMAC_KEY: OTHER_KEY })).toBe(1)
    const keyFile = path.join(tempDir("audit-key-"), "key")
    fs.writeFileSync(keyFile, `${KEY}\n`)
    expect(await runAuditCommand(["verify", "--key-file", keyFile, file])).toBe(0)
    expect(await runAuditCommand(["verify", "--key", file], {})).toBe(2)
    expect(io.err()).toMatch(/--key: AUDIT_HMAC_KEY is not set/)
    expect(await runAuditCommand(["verify", "--key-file"], {})).toBe(2)
    expect(io.err()).toMatch(/--key-file needs a value/)
    expect(`${io.out()}${io.err()}`).not.toContain(KEY)
  })

  it("export-head prints the newest record for a witness; verify --witness catches a later rewrite", async () => {
    const file = await writeLog()
    const io = capture()
    expect(await runAuditCommand(["export-head", file])).toBe(0)
    const head = JSON.parse(io.out().trim()) as { seq: number; hash: string; witness: string; file: string }
    const last = readRecords(file).at(-1)!
    expect(head).toMatchObject({ seq: last.seq, hash: last.hash, file, witness: `${last.seq}:${last.hash}` })
    expect(await runAuditCommand(["verify", "--witness", head.witness, file])).toBe(0)

    rewriteWholeLog(file, (record) => {
      record.tool = "pve_something_else"
    })
    expect(await runAuditCommand(["verify", file])).toBe(0)
    expect(await runAuditCommand(["verify", "--witness", head.witness, file])).toBe(1)
    expect(io.err()).toMatch(/the witness says this record's hash is/)

    expect(await runAuditCommand(["verify", "--witness", "7:abc", file])).toBe(2)
    expect(io.err()).toMatch(/--witness: expected SEQ:HASH/)
  })

  it("a witness past the end of the log means records were cut", async () => {
    const file = await writeLog({ count: 3 })
    const result = await auditVerify([file], { witness: { seq: 9, hash: "0".repeat(64) } })
    expect(result).toMatchObject({ ok: false, status: "tampered" })
    expect(result.message).toMatch(/the witness saw seq 9: records were cut/)
  })

  it("export-head of a tampered log prints nothing and exits 1", async () => {
    const file = await writeLog()
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace('"vmid":101', '"vmid":102'))
    const io = capture()
    expect(await runAuditCommand(["export-head", file])).toBe(1)
    expect(io.out()).toBe("")
    expect(io.err()).toMatch(/TAMPERED/)
  })
})
