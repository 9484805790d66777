import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Exit, Scope, TestClock } from "effect"
import { GENESIS, hashRecord, verifyChain } from "../../src/audit/chain.js"
import { auditConfig } from "../../src/audit/config.js"
import { makeFile } from "../../src/audit/file.js"
import { makeMemory } from "../../src/audit/memory.js"
import { headPathOf, lockPathOf, rotatedPathOf, siblingPathOf } from "../../src/audit/paths.js"
import type { AuditRecord } from "../../src/audit/port.js"
import { readHead } from "../../src/audit/recovery.js"
import { auditVerify } from "../../src/cli/audit.js"
import {
  captureLogs,
  everyEventKind,
  principal,
  readCall,
  readLines,
  readRecords,
  tempDir,
} from "./helpers.js"

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** Opens a sink in its own scope, so a test can close it (or not) explicitly. */
const openSink = (options: Parameters<typeof makeFile>[0]) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const audit = yield* makeFile(options).pipe(Scope.extend(scope))
    return { audit, close: Scope.close(scope, Exit.void) }
  })

const hasNull = (value: unknown): boolean =>
  value === null || (typeof value === "object" && Object.values(value as object).some(hasNull))

describe("file sink records", () => {
  it.scopedLive("writes every event kind with the fields of SPEC section 8, chained", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir(), "audit.jsonl")
      const audit = yield* makeFile({ path: file })
      const entries = everyEventKind()
      const ids: Array<string> = []
      for (const entry of entries)
        ids.push(yield* audit.write(entry, { durable: entry.event === "tool.started" }))
      yield* audit.flush

      const records = readRecords(file)
      expect(records.map((r) => r.event)).toEqual(entries.map((e) => e.event))
      expect(new Set(records.map((r) => r.event))).toEqual(
        new Set([
          "server.start",
          "server.stop",
          "tool.call",
          "tool.started",
          "tool.completed",
          "policy.denied",
          "auth.login",
          "auth.login_failed",
          "auth.refresh",
          "auth.refresh_reuse",
          "auth.logout",
        ]),
      )
      records.forEach((record, index) => {
        const entry = entries[index]!
        expect(record.v).toBe(1)
        expect(record.seq).toBe(index + 1)
        expect(record.ts).toMatch(ISO_MS)
        expect(record.id).toBe(ids[index])
        expect(record.prev).toBe(index === 0 ? GENESIS : records[index - 1]!.hash)
        const { hash, ...unsigned } = record
        expect(hash).toBe(hashRecord(record.prev, unsigned))
        // Everything the caller gave is there as given (no secrets in these), nothing is null.
        const { id: _id, ...given } = entry
        expect(record).toMatchObject(given)
        expect(hasNull(record)).toBe(false)
      })
      // started and completed of one call share their id; other ids are random UUIDs.
      const started = records.find((r) => r.event === "tool.started")!
      const completed = records.find((r) => r.event === "tool.completed")!
      expect(completed.id).toBe(started.id)
      expect(records.find((r) => r.event === "tool.call")!.id).toMatch(UUID)
      // The line order starts with the chain fields, for a human reading the file.
      expect(Object.keys(records[0]!).slice(0, 7)).toEqual(["v", "seq", "ts", "id", "prev", "hash", "event"])
      expect(verifyChain(records)).toMatchObject({ ok: true, count: entries.length })
    }),
  )

  it.scopedLive("omits absent fields instead of writing null", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir(), "audit.jsonl")
      const audit = yield* makeFile({ path: file })
      // At run time a caller may still hand over `undefined` members.
      const loose = { event: "tool.call", principal, tool: undefined, args: { a: undefined, b: 1 } }
      yield* audit.write(loose as never)
      const line = readLines(file)[0]!
      expect(line).not.toContain("null")
      expect(line).not.toContain('"tool"')
      expect(JSON.parse(line).args).toEqual({ b: 1 })
    }),
  )

  it.effect("the memory sink writes the same records", () =>
    Effect.gen(function* () {
      const memory = yield* makeMemory()
      for (const entry of everyEventKind()) yield* memory.service.write(entry)
      const records = memory.records()
      expect(records).toHaveLength(everyEventKind().length)
      expect(verifyChain(records)).toMatchObject({ ok: true })
      memory.failWrites(true)
      const failed = yield* Effect.flip(memory.service.write(readCall(1)))
      expect(failed._tag).toBe("AuditWriteError")
    }),
  )
})

describe("file sink durability", () => {
  it.scopedLive("a record is in the file when write resolves; durable ones are fsynced with a head", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir(), "audit.jsonl")
      const { audit } = yield* openSink({ path: file, syncIntervalMs: 60_000 })
      yield* audit.write(readCall(1))
      // Reached the file (write(2)) before resolving, but not yet fsynced: no head yet.
      expect(readRecords(file)).toHaveLength(1)
      expect(readHead(file)).toBeUndefined()
      yield* audit.write({ event: "tool.started", principal, tool: "pve_start_vm" }, { durable: true })
      // The periodic fsync is a minute away: only the durable write's own fsync publishes a head,
      // right after the writer was released.
      const records = readRecords(file)
      for (let tries = 0; tries < 50 && readHead(file) === undefined; tries++)
        yield* Effect.sleep("10 millis")
      expect(readHead(file)).toEqual({ seq: 2, hash: records[1]!.hash })
      yield* audit.write(readCall(3))
      yield* audit.flush
      expect(readHead(file)?.seq).toBe(3)
    }),
  )

  it.scopedLive(
    "a read's record is appended in the caller's fiber: no hop, so it even runs synchronously",
    () =>
      Effect.gen(function* () {
        const file = path.join(tempDir(), "audit.jsonl")
        const { audit } = yield* openSink({ path: file, syncIntervalMs: 60_000 })
        // runSync fails on anything asynchronous (a hop to the writer fiber and back is one).
        const id = Effect.runSync(audit.write(readCall(1)))
        expect(readRecords(file).map((r) => r.id)).toEqual([id])
        // A durable record waits for the writer's fsync: it cannot complete synchronously.
        const durable = Effect.runSyncExit(
          audit.write({ event: "tool.started", principal, tool: "pve_start_vm" }, { durable: true }),
        )
        expect(Exit.isFailure(durable)).toBe(true)
        // Records posted behind it queue there, in order; the chain has no gap.
        yield* audit.write(readCall(3))
        yield* audit.flush
        expect(verifyChain(readRecords(file))).toMatchObject({ ok: true })
      }),
  )

  it.scopedLive("non-durable records are fsynced within the sync interval", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir(), "audit.jsonl")
      // The head (what shows the fsync here) follows each background fsync when its interval is as short.
      const audit = yield* makeFile({ path: file, syncIntervalMs: 50, headIntervalMs: 50 })
      yield* audit.write(readCall(1))
      yield* Effect.sleep("300 millis")
      expect(readHead(file)?.seq).toBe(1)
    }),
  )

  it.scoped("under steady writes the periodic fsync still runs every sync interval (TestClock)", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir(), "audit.jsonl")
      const audit = yield* makeFile({ path: file, syncIntervalMs: 100, headIntervalMs: 100 })
      /** Real time for the writer's file I/O; the test clock stands still meanwhile. */
      const settle = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
      // A record every 30 ms of clock time: there is never a pause of 100 ms without one.
      const headSeqs: Array<number> = []
      for (let n = 1; n <= 20; n++) {
        yield* audit.write(readCall(n))
        yield* TestClock.adjust("30 millis")
        yield* settle
        headSeqs.push(readHead(file)?.seq ?? 0)
      }
      // Synced while writes kept coming, well before the last one (600 ms of writes, 100 ms interval).
      for (let tries = 0; tries < 100 && (readHead(file)?.seq ?? 0) === 0; tries++) yield* settle
      expect(readHead(file)?.seq ?? 0).toBeGreaterThan(0)
      expect(headSeqs.slice(0, 15).some((seq) => seq > 0)).toBe(true)
    }),
  )

  it.scoped(
    "after background fsyncs the head follows at most every headIntervalMs; a durable record publishes it at once (TestClock)",
    () =>
      Effect.gen(function* () {
        const file = path.join(tempDir(), "audit.jsonl")
        const audit = yield* makeFile({ path: file, syncIntervalMs: 100, headIntervalMs: 1_000 })
        /** Real time for the writer's file I/O; the test clock stands still meanwhile. */
        const settle = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
        const headAfter = (steps: number) =>
          Effect.gen(function* () {
            for (let n = 0; n < steps; n++) {
              yield* TestClock.adjust("50 millis")
              yield* settle
            }
            return readHead(file)?.seq ?? 0
          })
        yield* audit.write(readCall(1))
        // Fsynced after 100 ms, but the head waits for its own interval (1 s from the start).
        expect(yield* headAfter(10)).toBe(0)
        yield* audit.write(readCall(2))
        expect(yield* headAfter(12)).toBeGreaterThanOrEqual(1)
        // A durable record's fsync publishes the head right away, whatever the interval.
        yield* audit.write({ event: "tool.started", principal, tool: "pve_start_vm" }, { durable: true })
        for (let tries = 0; tries < 50 && (readHead(file)?.seq ?? 0) < 3; tries++) yield* settle
        expect(readHead(file)?.seq).toBe(3)
      }),
  )

  it.scopedLive("concurrent writes are committed in order without gaps", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir(), "audit.jsonl")
      const { audit, close } = yield* openSink({ path: file })
      const ids = yield* Effect.forEach(
        Array.from({ length: 200 }, (_, n) => n),
        (n) => audit.write(readCall(n), { durable: n % 3 === 0 }),
        { concurrency: 32 },
      )
      yield* close
      const records = readRecords(file)
      expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 200 }, (_, n) => n + 1))
      expect(new Set(records.map((r) => r.id))).toEqual(new Set(ids))
      expect(verifyChain(records)).toMatchObject({ ok: true, count: 200 })
      expect(readHead(file)).toEqual({ seq: 200, hash: records[199]!.hash })
    }),
  )

  it.scopedLive("creates the directory 0700 and the files 0600", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir(), "state", "proxmox-mcp", "audit.jsonl")
      const { audit } = yield* openSink({ path: file })
      yield* audit.write(readCall(1), { durable: true })
      yield* audit.flush
      expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700)
      expect(fs.statSync(file).mode & 0o777).toBe(0o600)
      expect(fs.statSync(headPathOf(file)).mode & 0o777).toBe(0o600)
      expect(fs.statSync(lockPathOf(file)).mode & 0o777).toBe(0o600)
      expect(fs.readFileSync(lockPathOf(file), "utf8").trim()).toBe(String(process.pid))
    }),
  )

  it.scopedLive("closing the scope flushes, writes the head and releases the lock", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir(), "audit.jsonl")
      const { audit, close } = yield* openSink({ path: file, syncIntervalMs: 60_000 })
      yield* audit.write(readCall(1))
      yield* close
      expect(readHead(file)?.seq).toBe(1)
      expect(fs.existsSync(lockPathOf(file))).toBe(false)
      expect(Exit.isFailure(yield* Effect.exit(audit.write(readCall(2))))).toBe(true)
    }),
  )
})

describe("file sink continuity", () => {
  it.scopedLive("a reopened log continues the chain (seq and hash)", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir(), "audit.jsonl")
      const first = yield* openSink({ path: file })
      for (let n = 0; n < 3; n++) yield* first.audit.write(readCall(n))
      yield* first.close
      const second = yield* openSink({ path: file })
      yield* second.audit.write(readCall(3))
      yield* second.close
      const records = readRecords(file)
      expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4])
      expect(records[3]!.prev).toBe(records[2]!.hash)
      expect((yield* Effect.promise(() => auditVerify([file]))).ok).toBe(true)
    }),
  )

  it.scopedLive("rotation by size keeps the chain across files and keeps maxFiles of them", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir(), "audit.jsonl")
      const { audit, close } = yield* openSink({ path: file, maxBytes: 2_000, maxFiles: 3 })
      for (let n = 0; n < 40; n++) yield* audit.write(readCall(n), { durable: n % 4 === 0 })
      yield* close
      const files = [rotatedPathOf(file, 3), rotatedPathOf(file, 2), rotatedPathOf(file, 1), file]
      for (const f of files) {
        expect(fs.existsSync(f)).toBe(true)
        expect(fs.statSync(f).size).toBeLessThanOrEqual(2_000)
      }
      expect(fs.existsSync(rotatedPathOf(file, 4))).toBe(false)
      const perFile = files.map(readRecords)
      // Each rotated file starts where the previous one ended.
      for (let i = 1; i < perFile.length; i++) {
        const previous = perFile[i - 1]!.at(-1)!
        const first = perFile[i]![0]!
        expect(first.seq).toBe(previous.seq + 1)
        expect(first.prev).toBe(previous.hash)
      }
      expect(perFile.at(-1)!.at(-1)!.seq).toBe(40)
      const result = yield* Effect.promise(() => auditVerify(files, { partial: true }))
      expect(result).toMatchObject({ ok: true, status: "intact" })
    }),
  )

  it.scopedLive("a torn last line (crash during a write) is removed on open and the chain goes on", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir(), "audit.jsonl")
      const first = yield* openSink({ path: file })
      for (let n = 0; n < 3; n++) yield* first.audit.write(readCall(n), { durable: true })
      yield* first.close
      fs.appendFileSync(file, '{"v":1,"seq":4,"ts":"2025-')
      const { messages } = yield* captureLogs(
        Effect.gen(function* () {
          const second = yield* openSink({ path: file })
          yield* second.audit.write(readCall(4))
          yield* second.close
        }),
      )
      expect(messages.join("\n")).toMatch(/torn last line/)
      expect(readRecords(file).map((r) => r.seq)).toEqual([1, 2, 3, 4])
      expect((yield* Effect.promise(() => auditVerify([file]))).ok).toBe(true)
    }),
  )

  it.scopedLive("a log cut behind its head continues from the head, so the gap stays visible", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir(), "audit.jsonl")
      const first = yield* openSink({ path: file })
      for (let n = 0; n < 5; n++) yield* first.audit.write(readCall(n), { durable: true })
      yield* first.close
      fs.writeFileSync(file, `${readLines(file).slice(0, 3).join("\n")}\n`)
      const { messages } = yield* captureLogs(
        Effect.gen(function* () {
          const second = yield* openSink({ path: file })
          yield* second.audit.write(readCall(5))
          yield* second.close
        }),
      )
      expect(messages.join("\n")).toMatch(/head file says seq 5/)
      expect(readRecords(file).map((r) => r.seq)).toEqual([1, 2, 3, 6])
      const result = yield* Effect.promise(() => auditVerify([file]))
      expect(result.ok).toBe(false)
      expect(result.message).toContain(`${file}:4 (seq 6)`)
    }),
  )
})

describe("a log file deleted or replaced while open", () => {
  it.scopedLive("deleted: the next write recreates it, records that, and the chain goes on", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir(), "audit.jsonl")
      let before: ReadonlyArray<AuditRecord> = []
      const { messages } = yield* captureLogs(
        Effect.gen(function* () {
          const { audit, close } = yield* openSink({ path: file })
          for (let n = 0; n < 3; n++) yield* audit.write(readCall(n), { durable: true })
          before = readRecords(file)
          fs.unlinkSync(file)
          yield* audit.write(readCall(3), { durable: true })
          yield* audit.write(readCall(4))
          yield* close
        }),
      )
      expect(messages.join("\n")).toMatch(/audit\.jsonl was deleted while open; reopening it/)
      const after = readRecords(file)
      expect(after.map((r) => r.event)).toEqual(["audit.reopened", "tool.call", "tool.call"])
      expect(after[0]).toMatchObject({ seq: 4, prev: before.at(-1)!.hash, principal: { role: "system" } })
      expect(after[0]!.detail).toMatch(/deleted while the server had it open; records up to seq 3/)
      expect(after.map((r) => r.seq)).toEqual([4, 5, 6])
      expect((yield* Effect.promise(() => auditVerify([file], { partial: true }))).ok).toBe(true)
      expect(readHead(file)).toEqual({ seq: 6, hash: after.at(-1)!.hash })
    }),
  )

  it.scopedLive("moved away (an outside rotation): the chain spans the moved file and the new one", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const file = path.join(dir, "audit.jsonl")
      const moved = path.join(dir, "audit.jsonl.old")
      const { audit, close } = yield* openSink({ path: file })
      for (let n = 0; n < 3; n++) yield* audit.write(readCall(n))
      yield* audit.flush
      fs.renameSync(file, moved)
      fs.writeFileSync(file, "", { mode: 0o600 })
      yield* audit.write(readCall(3), { durable: true })
      yield* close
      const records = readRecords(file)
      expect(records[0]).toMatchObject({ event: "audit.reopened", seq: 4 })
      expect(records[0]!.detail).toMatch(/was replaced/)
      expect(readRecords(moved).map((r) => r.seq)).toEqual([1, 2, 3])
      const verified = yield* Effect.promise(() => auditVerify([moved, file]))
      expect(verified).toMatchObject({ ok: true })
    }),
  )

  it.scoped(
    "a read's record checks the path at most every pathCheckIntervalMs; the reopen notice counts what went to the old file (TestClock)",
    () =>
      Effect.gen(function* () {
        const dir = tempDir()
        const file = path.join(dir, "audit.jsonl")
        const moved = path.join(dir, "audit.jsonl.old")
        const { audit, close } = yield* openSink({ path: file, pathCheckIntervalMs: 100 })
        yield* audit.write(readCall(1))
        fs.renameSync(file, moved)
        fs.writeFileSync(file, "", { mode: 0o600 })
        // Within the interval: still appended to the file that is open (now the moved one).
        yield* TestClock.adjust("50 millis")
        yield* audit.write(readCall(2))
        expect(readRecords(moved).map((r) => r.seq)).toEqual([1, 2])
        expect(readRecords(file)).toEqual([])
        // The interval passed: this read finds another file at the path, and the writer reopens it.
        yield* TestClock.adjust("60 millis")
        yield* audit.write(readCall(3))
        yield* close
        expect(readRecords(moved).map((r) => r.seq)).toEqual([1, 2])
        const records = readRecords(file)
        expect(records.map((r) => [r.seq, r.event])).toEqual([
          [3, "audit.reopened"],
          [4, "tool.call"],
        ])
        expect(records[0]!.detail).toMatch(/was replaced .*records up to seq 2/)
        expect(yield* Effect.promise(() => auditVerify([moved, file]))).toMatchObject({ ok: true })
      }),
  )

  it.scopedLive("with pathCheckIntervalMs 0 the very next read finds a replaced file", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const file = path.join(dir, "audit.jsonl")
      const { audit, close } = yield* openSink({ path: file, pathCheckIntervalMs: 0 })
      yield* audit.write(readCall(1))
      fs.renameSync(file, path.join(dir, "audit.jsonl.old"))
      fs.writeFileSync(file, "", { mode: 0o600 })
      yield* audit.write(readCall(2))
      yield* close
      expect(readRecords(file).map((r) => [r.seq, r.event])).toEqual([
        [2, "audit.reopened"],
        [3, "tool.call"],
      ])
    }),
  )

  it.scopedLive("the whole directory deleted: it is created again", () =>
    Effect.gen(function* () {
      const dir = path.join(tempDir(), "logs")
      const file = path.join(dir, "audit.jsonl")
      const { audit, close } = yield* openSink({ path: file })
      yield* audit.write(readCall(0), { durable: true })
      // The head follows a durable write after it returns; flushed first, so that it is not
      // being written into the directory while it is removed (rmdir would find it not empty).
      yield* audit.flush
      fs.rmSync(dir, { recursive: true })
      yield* audit.write(readCall(1), { durable: true })
      yield* close
      expect(readRecords(file).map((r) => [r.seq, r.event])).toEqual([
        [2, "audit.reopened"],
        [3, "tool.call"],
      ])
      expect(readHead(file)?.seq).toBe(3)
    }),
  )
})

describe("fail closed", () => {
  it.scopedLive("an unwritable path makes write and flush fail with AuditWriteError", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      // Running as root, permissions do not stop us: a file where the directory should be does.
      fs.writeFileSync(path.join(dir, "state"), "not a directory")
      const file = path.join(dir, "state", "audit.jsonl")
      const { result: audit, messages } = yield* captureLogs(makeFile({ path: file }))
      expect(messages.join("\n")).toMatch(/audit log unavailable/)
      for (const durable of [true, false]) {
        const error = yield* Effect.flip(audit.write(readCall(1), { durable }))
        expect(error._tag).toBe("AuditWriteError")
        expect(error.message).toContain(file)
      }
      expect((yield* Effect.flip(audit.flush))._tag).toBe("AuditWriteError")
    }),
  )

  // TestClock: the reopen delay is read from Clock.
  it.scoped("recovers once the path is writable again, trying to reopen at most once per second", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      fs.writeFileSync(path.join(dir, "state"), "not a directory")
      const file = path.join(dir, "state", "audit.jsonl")
      const audit = yield* makeFile({ path: file })
      expect(Exit.isFailure(yield* Effect.exit(audit.write(readCall(1))))).toBe(true)
      fs.rmSync(path.join(dir, "state"))
      yield* TestClock.adjust("900 millis")
      expect(Exit.isFailure(yield* Effect.exit(audit.write(readCall(1))))).toBe(true)
      expect(fs.existsSync(file)).toBe(false)
      yield* TestClock.adjust("200 millis")
      yield* audit.write(readCall(2), { durable: true })
      const records = readRecords(file)
      expect(records.map((r) => r.seq)).toEqual([1])
      expect(records[0]!.args).toEqual(readCall(2).args)
    }),
  )
})

describe("single writer", () => {
  it.scopedLive("a live process holding the lock sends this one to a pid-named sibling, said on stderr", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir(), "audit.jsonl")
      const holder = spawn("sleep", ["30"], { stdio: "ignore" })
      yield* Effect.addFinalizer(() => Effect.sync(() => holder.kill("SIGKILL")))
      fs.writeFileSync(lockPathOf(file), `${holder.pid}\n`)
      const { result: audit, messages } = yield* captureLogs(makeFile({ path: file }))
      yield* audit.write(readCall(1), { durable: true })
      yield* audit.flush
      const sibling = siblingPathOf(file, process.pid)
      expect(sibling).toBe(path.join(path.dirname(file), `audit.pid${process.pid}.jsonl`))
      expect(fs.existsSync(file)).toBe(false)
      expect(readRecords(sibling)).toHaveLength(1)
      expect(readHead(sibling)?.seq).toBe(1)
      expect(messages.join("\n")).toContain(`locked by live process ${holder.pid}`)
      expect(messages.join("\n")).toContain(sibling)
    }),
  )

  it.scopedLive("a second sink in the same process also writes a sibling", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir(), "audit.jsonl")
      const first = yield* makeFile({ path: file })
      const second = yield* makeFile({ path: file })
      yield* first.write(readCall(1), { durable: true })
      yield* second.write(readCall(2), { durable: true })
      expect(readRecords(file)).toHaveLength(1)
      expect(readRecords(siblingPathOf(file, process.pid))).toHaveLength(1)
    }),
  )

  it.scopedLive("a lock left by a dead process is taken over", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir(), "audit.jsonl")
      const dead = spawnSync("true").pid
      fs.writeFileSync(lockPathOf(file), `${dead}\n`)
      const audit = yield* makeFile({ path: file })
      yield* audit.write(readCall(1), { durable: true })
      expect(readRecords(file)).toHaveLength(1)
      expect(fs.readFileSync(lockPathOf(file), "utf8").trim()).toBe(String(process.pid))
    }),
  )
})

describe("auditConfig", () => {
  const load = (env: Record<string, string>) =>
    Effect.runSync(
      Effect.either(
        Effect.withConfigProvider(auditConfig, ConfigProvider.fromMap(new Map(Object.entries(env)))),
      ),
    )

  it("defaults under XDG_STATE_HOME, else ~/.local/state", () => {
    expect(load({ XDG_STATE_HOME: "/var/lib/state", HOME: "/home/u" })).toEqual(
      Either.right({
        path: "/var/lib/state/proxmox-mcp/audit.jsonl",
        maxBytes: 10 * 1024 * 1024,
        maxFiles: 10,
      }),
    )
    // A relative XDG_STATE_HOME is invalid per the XDG spec and ignored.
    expect(Either.getOrThrow(load({ XDG_STATE_HOME: "rel", HOME: "/home/u" })).path).toBe(
      "/home/u/.local/state/proxmox-mcp/audit.jsonl",
    )
  })

  it("AUDIT_LOG_PATH and AUDIT_MAX_BYTES override; bad values name the variable", () => {
    expect(
      load({ AUDIT_LOG_PATH: "/srv/audit/a.jsonl", AUDIT_MAX_BYTES: "5M", AUDIT_MAX_FILES: "3" }),
    ).toEqual(Either.right({ path: "/srv/audit/a.jsonl", maxBytes: 5 * 1024 * 1024, maxFiles: 3 }))
    for (const [variable, value] of [
      ["AUDIT_MAX_BYTES", "ten"],
      ["AUDIT_MAX_BYTES", "12"],
      ["AUDIT_MAX_FILES", "0"],
      ["AUDIT_LOG_PATH", "/srv/audit/"],
    ] as const) {
      const result = load({ [variable]: value })
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) expect(String(result.left)).toContain(variable)
    }
  })
})

describe("records read back", () => {
  it.scopedLive("each line parses to the record that was hashed", () =>
    Effect.gen(function* () {
      const file = path.join(tempDir(), "audit.jsonl")
      const audit = yield* makeFile({ path: file })
      yield* audit.write(
        {
          event: "tool.call",
          principal,
          args: { text: "lone \ud800 surrogate", n: 1.5e-7, big: 2 ** 60, nested: [{ "\u20ac": true }] },
        },
        { durable: true },
      )
      const [record] = readRecords(file) as [AuditRecord]
      expect(record.args).toEqual({
        text: "lone \ufffd surrogate",
        n: 1.5e-7,
        big: 2 ** 60,
        nested: [{ "€": true }],
      })
      expect(verifyChain([record])).toMatchObject({ ok: true })
    }),
  )
})
