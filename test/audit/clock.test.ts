/** Record time comes from Effect's `Clock`, so it can be fixed with `TestClock`. */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { makeFile } from "../../src/audit/file.js"
import { makeMemory } from "../../src/audit/memory.js"
import { readCall, readRecords, tempDir } from "./helpers.js"

describe("audit record time", () => {
  it.scoped("ts is the Clock's time at write, in the file and the memory sink", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      // Added first, so it runs after the sink's own finalizer has closed the file.
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const file = path.join(dir, "audit.jsonl")
      const audit = yield* makeFile({ path: file })
      const memory = yield* makeMemory()

      yield* TestClock.setTime(Date.parse("2031-05-06T07:08:09.010Z"))
      yield* audit.write(readCall(1), { durable: true })
      yield* memory.service.write(readCall(1))
      yield* TestClock.adjust("1500 millis")
      yield* audit.write(readCall(2), { durable: true })
      yield* memory.service.write(readCall(2))

      const expected = ["2031-05-06T07:08:09.010Z", "2031-05-06T07:08:10.510Z"]
      expect(readRecords(file).map((record) => record.ts)).toEqual(expected)
      expect(memory.records().map((record) => record.ts)).toEqual(expected)
    }),
  )
})
