/**
 * A crash between the write-ahead record of a mutation and its completion leaves the `started`
 * record on disk, never a silent gap: a real child process is killed with SIGKILL after its
 * durable `tool.started` write resolved.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { layerFile } from "../../src/audit/file.js"
import { lockPathOf } from "../../src/audit/paths.js"
import { Audit } from "../../src/audit/port.js"
import { readHead } from "../../src/audit/recovery.js"
import { auditVerify } from "../../src/cli/audit.js"
import { principal, readRecords, tempDir } from "./helpers.js"

const VITE_NODE = path.resolve(import.meta.dirname, "../../node_modules/vite-node/vite-node.mjs")
const CHILD = path.resolve(import.meta.dirname, "crash-child.ts")

/** Runs the child until it reports its started record, then kills it without any cleanup. */
const crashAfterStarted = (file: string) =>
  new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [VITE_NODE, CHILD, file], { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    let err = ""
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString()
    })
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const match = /started (\S+)\n/.exec(out)
      if (match) {
        child.kill("SIGKILL")
        child.once("exit", () => resolve(match[1]!))
      }
    })
    child.once("exit", (code, signal) => {
      if (signal !== "SIGKILL") reject(new Error(`child exited early (${code}): ${err}`))
    })
  })

describe("crash between write-ahead and completion", () => {
  it("leaves the started record on disk, and the next run continues the chain", async () => {
    const file = path.join(tempDir(), "audit.jsonl")
    const id = await crashAfterStarted(file)

    const records = readRecords(file)
    expect(records.map((r) => r.event)).toEqual(["tool.call", "tool.started"])
    expect(records[1]).toMatchObject({ id, tool: "pve_stop_vm", seq: 2 })
    expect(records.some((r) => r.event === "tool.completed")).toBe(false)
    // The head follows each fsync and may be one batch behind after a crash, never ahead.
    const head = readHead(file)
    if (head !== undefined) expect(head).toEqual({ seq: head.seq, hash: records[head.seq - 1]!.hash })
    expect((await auditVerify([file])).ok).toBe(true)

    // The dead child's lock is stale: the next process takes the file over and goes on.
    await Effect.runPromise(
      Effect.flatMap(Audit, (audit) =>
        audit.write({ event: "server.start", principal }, { durable: true }),
      ).pipe(Effect.provide(layerFile({ path: file }))),
    )
    const after = readRecords(file)
    expect(after.map((r) => r.seq)).toEqual([1, 2, 3])
    expect(after[2]!.prev).toBe(records[1]!.hash)
    expect((await auditVerify([file])).ok).toBe(true)
    expect(fs.readdirSync(path.dirname(file)).filter((name) => name.includes(".pid"))).toEqual([])
    expect(fs.existsSync(lockPathOf(file))).toBe(false)
  }, 30_000)
})
