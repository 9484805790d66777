/**
 * Child process for the crash test: writes a read and a durable `tool.started`, reports the id
 * on stdout, then waits to be killed before the mutation could complete.
 */
import { Effect } from "effect"
import { makeFile } from "../../src/audit/file.js"
import { principal, readCall } from "./helpers.js"

const file = process.argv[2]
if (file === undefined) throw new Error("usage: crash-child.ts FILE")

Effect.runFork(
  Effect.scoped(
    Effect.gen(function* () {
      // A long sync interval: only the durable write's own fsync can have saved anything.
      const audit = yield* makeFile({ path: file, syncIntervalMs: 60_000 })
      yield* audit.write(readCall(1))
      const id = yield* audit.write(
        { event: "tool.started", principal, tool: "pve_stop_vm", args: { node: "pve1", vmid: 101 } },
        { durable: true },
      )
      process.stdout.write(`started ${id}\n`)
      yield* Effect.never
    }),
  ),
)
