/**
 * `proxmox-mcp audit verify`: a real rotated log is written by the file sink once, then each test
 * copies it, tampers with the copy one way and checks that the first bad record is named.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest"
import { hashRecord } from "../../src/audit/chain.js"
import { layerFile } from "../../src/audit/file.js"
import { headPathOf, rotatedPathOf } from "../../src/audit/paths.js"
import { Audit } from "../../src/audit/port.js"
import { auditVerify, runAuditCommand } from "../../src/cli/audit.js"
import { principal, readCall, readLines, tempDir } from "./helpers.js"

const NAME = "audit.jsonl"
let original: string

/** The files of a log, oldest first. */
const filesOf = (dir: string) => {
  const file = path.join(dir, NAME)
  const rotated: Array<string> = []
  for (let n = 1; fs.existsSync(rotatedPathOf(file, n)); n++) rotated.unshift(rotatedPathOf(file, n))
  return [...rotated, file]
}

const copyLog = () => {
  const dir = tempDir("audit-verify-")
  for (const name of fs.readdirSync(original)) {
    if (!name.endsWith(".lock")) fs.copyFileSync(path.join(original, name), path.join(dir, name))
  }
  return { dir, file: path.join(dir, NAME), files: filesOf(dir) }
}

const editLines = (file: string, edit: (lines: Array<string>) => Array<string>) => {
  fs.writeFileSync(file, `${edit(readLines(file)).join("\n")}\n`)
}

beforeAll(async () => {
  original = tempDir("audit-verify-original-")
  await Effect.runPromise(
    Effect.gen(function* () {
      const audit = yield* Audit
      for (let n = 0; n < 30; n++) {
        if (n % 3 === 0) {
          const id = yield* audit.write(
            { event: "tool.started", principal, tool: "pve_start_vm" },
            { durable: true },
          )
          yield* audit.write(
            { event: "tool.completed", id, principal, tool: "pve_start_vm", outcome: { ok: true } },
            { durable: true },
          )
        } else {
          yield* audit.write(readCall(n))
        }
      }
    }).pipe(Effect.provide(layerFile({ path: path.join(original, NAME), maxBytes: 4_000 }))),
  )
})

afterEach(() => {
  vi.restoreAllMocks()
})

describe("audit verify", () => {
  it("passes an intact rotated set and checks the head", async () => {
    const { files } = copyLog()
    expect(files.length).toBeGreaterThanOrEqual(3)
    const result = await auditVerify(files)
    expect(result).toMatchObject({ ok: true, status: "intact" })
    expect(result.message).toMatch(
      /^OK: 40 records, seq 1\.\.40 in \d+ files, chain intact; head matches \(seq 40\)$/,
    )
  })

  it("detects an edited record", async () => {
    const { files } = copyLog()
    const target = files[1]!
    editLines(target, (lines) => lines.map((line, i) => (i === 2 ? line.replace('"pve1"', '"pve2"') : line)))
    const result = await auditVerify(files)
    expect(result.ok).toBe(false)
    expect(result.message).toMatch(new RegExp(`^TAMPERED: ${target}:3 \\(seq \\d+\\): hash does not match`))
  })

  it("detects an edited record whose hash was recomputed", async () => {
    const { files } = copyLog()
    const target = files[0]!
    editLines(target, (lines) =>
      lines.map((line, i) => {
        if (i !== 1) return line
        const { hash: _hash, ...record } = JSON.parse(line.replace('"pve_start_vm"', '"pve_stop_vm"'))
        return JSON.stringify({ ...record, hash: hashRecord(record.prev, record) })
      }),
    )
    const result = await auditVerify(files)
    expect(result.message).toMatch(
      new RegExp(`^TAMPERED: ${target}:3 \\(seq 3\\): prev does not match the hash of seq 2`),
    )
  })

  it("detects a deleted record", async () => {
    const { files } = copyLog()
    const target = files[1]!
    const seqs = readLines(target).map((line) => JSON.parse(line).seq as number)
    editLines(target, (lines) => lines.filter((_, i) => i !== 1))
    const result = await auditVerify(files)
    expect(result.message).toBe(
      `TAMPERED: ${target}:2 (seq ${seqs[2]}): seq ${seqs[2]} after seq ${seqs[0]}: a record is missing (deleted), or records were reordered`,
    )
  })

  it("detects an inserted record, even one hashed correctly onto the chain", async () => {
    const { files } = copyLog()
    const target = files[0]!
    const lines = readLines(target)
    const before = JSON.parse(lines[1]!)
    const { hash: _hash, ...forged } = {
      ...before,
      seq: before.seq + 1,
      prev: before.hash,
      event: "auth.login",
    }
    const inserted = JSON.stringify({ ...forged, hash: hashRecord(forged.prev, forged) })
    editLines(target, (all) => [...all.slice(0, 2), inserted, ...all.slice(2)])
    const result = await auditVerify(files)
    // The forged record chains; the genuine one after it no longer does.
    expect(result.message).toMatch(new RegExp(`^TAMPERED: ${target}:4 \\(seq 3\\): seq 3 after seq 3`))
  })

  it("detects records appended past the head with recomputed hashes; one past it is a crash's lag", async () => {
    const { file, files } = copyLog()
    const append = (count: number) =>
      editLines(file, (all) => {
        const lines = [...all]
        for (let n = 0; n < count; n++) {
          const last = JSON.parse(lines.at(-1)!)
          const { hash: _hash, ...next } = {
            ...last,
            seq: last.seq + 1,
            prev: last.hash,
            event: "auth.login",
          }
          lines.push(JSON.stringify({ ...next, hash: hashRecord(next.prev, next) }))
        }
        return lines
      })
    // The head may lag the log by one record (a crash between the write and the head update).
    append(1)
    const lag = await auditVerify(files)
    expect(lag.ok).toBe(true)
    expect(lag.message).toMatch(/one record past the head/)
    // More than one record past the head was not written by the server.
    append(1)
    const forged = await auditVerify(files)
    expect(forged.ok).toBe(false)
    expect(forged.message).toMatch(/^TAMPERED: .*seq 42.*head says seq 40: records were appended/)
  })

  it("detects reordered records", async () => {
    const { files } = copyLog()
    const target = files[1]!
    editLines(target, (lines) => [lines[0]!, lines[2]!, lines[1]!, ...lines.slice(3)])
    const result = await auditVerify(files)
    expect(result.message).toMatch(new RegExp(`^TAMPERED: ${target}:2 `))
  })

  it("detects a truncated last line", async () => {
    const { file, files } = copyLog()
    const content = fs.readFileSync(file, "utf8")
    fs.writeFileSync(file, content.slice(0, content.length - 40))
    const lines = content.split("\n").filter((l) => l !== "")
    const result = await auditVerify(files)
    expect(result.message).toBe(
      `TAMPERED: ${file}:${lines.length} (seq 40): the last line is truncated (the record was cut)`,
    )
  })

  it("detects a cut tail through the head file, and says when there is no head to check", async () => {
    const { file, files } = copyLog()
    editLines(file, (lines) => lines.slice(0, -2))
    const result = await auditVerify(files)
    expect(result.message).toMatch(
      /^TAMPERED: .*: the log ends at seq 38 \(.*\) but audit\.jsonl\.head says seq 40/,
    )

    fs.rmSync(headPathOf(file))
    const withoutHead = await auditVerify(files)
    expect(withoutHead.ok).toBe(true)
    expect(withoutHead.message).toContain("a cut tail cannot be detected")
  })

  it("detects a whole rotated file removed, and files given in the wrong order", async () => {
    const { files } = copyLog()
    const missing = await auditVerify([files[0]!, ...files.slice(2)])
    expect(missing.message).toMatch(
      new RegExp(`^TAMPERED: ${files[2]}:1 \\(seq \\d+\\): seq \\d+ after seq \\d+`),
    )

    const newestOnly = await auditVerify(files.slice(-1))
    expect(newestOnly.message).toContain("the chain does not start here")
    expect(newestOnly.message).toContain(`oldest first: ${files.join(" ")}`)
  })

  it("--partial accepts a log whose oldest files were rotated away, still checking the rest", async () => {
    const { files } = copyLog()
    expect((await auditVerify(files.slice(1), { partial: true })).ok).toBe(true)
    editLines(files[2]!, (lines) =>
      lines.map((line, i) => (i === 0 ? line.replace("alice", "mallory") : line)),
    )
    expect((await auditVerify(files.slice(1), { partial: true })).ok).toBe(false)
  })
})

describe("runAuditCommand", () => {
  const capture = () => {
    const out: Array<string> = []
    const err: Array<string> = []
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => out.push(String(chunk)) > 0)
    vi.spyOn(process.stderr, "write").mockImplementation((chunk) => err.push(String(chunk)) > 0)
    return { out, err }
  }

  it("exits 0 on an intact log, 1 on tampering, 2 on usage errors", async () => {
    const { file, files } = copyLog()
    const io = capture()
    expect(await runAuditCommand(["verify", ...files])).toBe(0)
    expect(io.out.join("")).toMatch(/^OK: 40 records/)
    editLines(file, (lines) => lines.slice(0, -1))
    expect(await runAuditCommand(["verify", ...files])).toBe(1)
    expect(io.err.join("")).toMatch(/TAMPERED: .*audit\.jsonl\.head says seq 40/)
    expect(await runAuditCommand(["verify"])).toBe(2)
    expect(await runAuditCommand(["check", file])).toBe(2)
    expect(await runAuditCommand([])).toBe(2)
    expect(await runAuditCommand(["verify", "--bogus", file])).toBe(2)
    expect(await runAuditCommand(["verify", path.join(path.dirname(file), "absent.jsonl")])).toBe(2)
    expect(await runAuditCommand(["verify", "--partial", ...files.slice(1, -1)])).toBe(0)
  })
})
