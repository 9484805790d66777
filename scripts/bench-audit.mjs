#!/usr/bin/env node
/**
 * Audit overhead: tool calls per second through the hash-chained file sink vs the memory sink,
 * same process, same run, reported as a ratio. Run after `npm run build`:
 *
 *   node scripts/bench-audit.mjs [calls]        (AUDIT_BENCH_DIR=/path to bench another disk)
 *
 * Calls are shaped like a real server's: 70% reads (one `tool.call` record, not waited for fsync)
 * and 30% mutations (`tool.started` durable before the mutation, `tool.completed` durable after).
 * Each configuration runs at most ~2 s, so the whole script stays within a few seconds.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Exit, Scope } from "effect"
import { makeFile } from "../dist/audit/file.js"
import { makeMemory } from "../dist/audit/memory.js"

const CALLS = Number(process.argv[2] ?? 2000)
const MUTATION_SHARE = 0.3
const TIME_CAP_MS = 2000
const CONCURRENCY = [1, 16]

const principal = { sub: "bench", role: "operator", transport: "http", ip: "127.0.0.1" }

const readEntry = (n) => ({
  event: "tool.call",
  principal,
  tool: "pve_get_vm_status",
  args: { node: "pve1", vmid: 100 + (n % 50) },
  target: { node: "pve1", type: "qemu", vmid: 100 + (n % 50) },
  decision: "allowed",
  outcome: { ok: true },
  durationMs: 3,
  upstream: [
    { node: "pve1", method: "GET", path: `/nodes/pve1/qemu/${100 + (n % 50)}/status/current`, status: 200 },
  ],
})

const mutation = (n) => {
  const base = {
    principal,
    tool: "pve_start_vm",
    args: { node: "pve1", vmid: 100 + (n % 50), confirm: true },
    target: { node: "pve1", type: "qemu", vmid: 100 + (n % 50) },
    decision: "allowed",
  }
  return {
    started: { event: "tool.started", ...base },
    completed: (id) => ({
      event: "tool.completed",
      id,
      ...base,
      outcome: { ok: true },
      durationMs: 40,
      upstream: [
        {
          node: "pve1",
          method: "POST",
          path: `/nodes/pve1/qemu/${100 + (n % 50)}/status/start`,
          status: 200,
          upid: `UPID:pve1:00001234:00ABCDEF:65A1B2C3:qmstart:${100 + (n % 50)}:bench@pve:`,
        },
      ],
    }),
  }
}

// Deterministic mix: every call index is a read or a mutation the same way for both sinks.
const isMutation = (n) => (n * 7919) % 100 < MUTATION_SHARE * 100

const toolCall = (audit, n) => {
  if (!isMutation(n)) return audit.write(readEntry(n))
  const { started, completed } = mutation(n)
  return Effect.flatMap(audit.write(started, { durable: true }), (id) =>
    audit.write(completed(id), { durable: true }),
  )
}

/** Runs up to `calls` tool calls (stopping at the time cap) and returns calls per second. */
const measure = (audit, calls, concurrency) =>
  Effect.gen(function* () {
    const deadline = Date.now() + TIME_CAP_MS
    let done = 0
    const start = process.hrtime.bigint()
    yield* Effect.forEach(
      Array.from({ length: calls }, (_, n) => n),
      (n) =>
        Date.now() > deadline
          ? Effect.void
          : Effect.map(toolCall(audit, n), () => {
              done++
            }),
      { concurrency, discard: true },
    )
    yield* audit.flush
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    return { done, perSecond: done / seconds }
  })

const fileSystemOf = (dir) => {
  try {
    const type = fs.statfsSync(dir).type
    return type === 0x01021994 ? "tmpfs (fsync costs nothing here; set AUDIT_BENCH_DIR to a disk)" : "disk"
  } catch {
    return "unknown"
  }
}

const main = Effect.gen(function* () {
  const dir = fs.mkdtempSync(
    path.join(process.env.AUDIT_BENCH_DIR ?? os.tmpdir(), "proxmox-mcp-bench-audit-"),
  )
  const scope = yield* Scope.make()
  const memory = (yield* makeMemory()).service
  const file = yield* makeFile({ path: path.join(dir, "audit.jsonl") }).pipe(Scope.extend(scope))

  // Warm up both (JIT, file creation).
  yield* measure(memory, 200, 4)
  yield* measure(file, 200, 4)

  console.log(
    `audit sink benchmark: up to ${CALLS} tool calls per run, ${MUTATION_SHARE * 100}% mutations ` +
      "(2 durable records each), reads 1 record fsynced in the background",
  )
  console.log(`file sink directory: ${dir} (${fileSystemOf(dir)})`)
  for (const concurrency of CONCURRENCY) {
    const mem = yield* measure(memory, CALLS, concurrency)
    const fil = yield* measure(file, CALLS, concurrency)
    const ratio = fil.perSecond / mem.perSecond
    console.log(
      `concurrency ${String(concurrency).padStart(2)}: memory ${mem.perSecond.toFixed(0).padStart(8)} calls/s (${mem.done} calls)` +
        ` | file ${fil.perSecond.toFixed(0).padStart(7)} calls/s (${fil.done} calls)` +
        ` | file/memory ${ratio.toFixed(3)} (${(1 / ratio).toFixed(1)}x slower)`,
    )
  }
  yield* Scope.close(scope, Exit.void)
  const bytes = fs.readdirSync(dir).reduce((sum, name) => sum + fs.statSync(path.join(dir, name)).size, 0)
  console.log(`audit bytes written: ${bytes}`)
  fs.rmSync(dir, { recursive: true, force: true })
})

await Effect.runPromise(main)
