import { createHash } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import {
  canonicalize,
  GENESIS,
  hashRecord,
  sha256Hex,
  toJsonValue,
  verifyChain,
} from "../../src/audit/chain.js"
import { makeMemory } from "../../src/audit/memory.js"
import { everyEventKind } from "./helpers.js"

describe("JCS (RFC 8785)", () => {
  it("serializes the RFC's primitive-data example byte for byte", () => {
    // RFC 8785 section 3.2.2, the input text parsed by JSON.parse as any verifier would.
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
        '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",' +
        '"literals": [null, true, false]}',
    )
    expect(canonicalize(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    )
  })

  it("sorts members by UTF-16 code units (RFC 8785 section 3.2.3)", () => {
    const input = JSON.parse(
      '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With Dagesh",' +
        '"1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control",' +
        '"\\u00f6": "Latin Small Letter O With Diaeresis"}',
    )
    // (Object.keys would put the integer-like "1" first, so read the order from the text.)
    expect(canonicalize(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    )
  })

  it("uses ECMAScript number serialization", () => {
    // A selection of RFC 8785 appendix B.
    const cases: Array<[number, string]> = [
      [0, "0"],
      [-0, "0"],
      [5e-324, "5e-324"],
      [1.7976931348623157e308, "1.7976931348623157e+308"],
      [9007199254740992, "9007199254740992"],
      [295147905179352830000, "295147905179352830000"],
      [1e21, "1e+21"],
      [1e-7, "1e-7"],
      [0.000001, "0.000001"],
      [-1.0000000000000002, "-1.0000000000000002"],
    ]
    for (const [value, text] of cases) expect(canonicalize(value)).toBe(text)
  })

  it("escapes control characters in lower-case hex and nothing else", () => {
    expect(canonicalize("\u0001\u001f\u007f\u2028é\t\b\f")).toBe('"\\u0001\\u001f\u007f\u2028é\\t\\b\\f"')
  })

  it("refuses what JSON cannot carry", () => {
    expect(() => canonicalize(Number.NaN)).toThrow()
    expect(() => canonicalize(Number.POSITIVE_INFINITY)).toThrow()
    expect(() => canonicalize("\ud800")).toThrow()
  })

  it("normalizes values to what reads back from JSON", () => {
    const normalized = toJsonValue({
      a: undefined,
      b: Number.NaN,
      c: "\ud800x",
      d: new Date(0),
      e: [undefined],
    })
    expect(normalized).toStrictEqual({ b: null, c: "\ufffdx", d: "1970-01-01T00:00:00.000Z", e: [null] })
    expect(JSON.parse(JSON.stringify(normalized))).toEqual(normalized)
    // `__proto__` from a parsed record stays an ordinary member and is hashed as one.
    const parsed = JSON.parse('{"__proto__": {"x": 1}, "y": 2}')
    expect(canonicalize(toJsonValue(parsed))).toBe('{"__proto__":{"x":1},"y":2}')
  })

  it("returns a copy that shares nothing with its input", () => {
    const input = { kept: { x: 1 }, list: [1, Number.NaN, { y: 2 }], gone: () => 1 }
    const normalized = toJsonValue(input) as { kept: unknown; list: Array<unknown> }
    expect(normalized).toStrictEqual({ kept: { x: 1 }, list: [1, null, { y: 2 }] })
    expect(normalized.kept).not.toBe(input.kept)
    expect(normalized.list[2]).not.toBe(input.list[2])
    expect(input.list[1]).toBeNaN()
  })
})

describe("hash chain", () => {
  it("sha256Hex is the SHA-256 of the text's UTF-8 bytes, in lower-case hex", () => {
    for (const text of ["", "audit", "é – 日本 \u{1F600}", "x".repeat(5000)])
      expect(sha256Hex(text)).toBe(createHash("sha256").update(Buffer.from(text, "utf8")).digest("hex"))
  })

  it("hash is SHA-256 over prev, a newline and the JCS of the record without hash", () => {
    const record = { v: 1, seq: 1, prev: GENESIS, event: "server.start" }
    const expected = createHash("sha256")
      .update(`${GENESIS}\n{"event":"server.start","prev":"${GENESIS}","seq":1,"v":1}`, "utf8")
      .digest("hex")
    expect(hashRecord(GENESIS, record)).toBe(expected)
    expect(expected).toMatch(/^[0-9a-f]{64}$/)
  })

  it.effect("verifies a chain and names the first bad record", () =>
    Effect.gen(function* () {
      const memory = yield* makeMemory()
      for (const entry of everyEventKind()) yield* memory.service.write(entry)
      const records = memory.records()
      expect(records[0]!.prev).toBe(GENESIS)
      expect(verifyChain(records)).toMatchObject({ ok: true, count: records.length })

      const edited = records.map((r, i) => (i === 3 ? { ...r, tool: "pve_delete_vm" } : r))
      expect(verifyChain(edited)).toMatchObject({ ok: false, index: 3, seq: 4 })

      const deleted = records.filter((_, i) => i !== 5)
      expect(verifyChain(deleted)).toMatchObject({ ok: false, index: 5, seq: 7 })

      const swapped = [...records]
      ;[swapped[2], swapped[3]] = [swapped[3]!, swapped[2]!]
      expect(verifyChain(swapped)).toMatchObject({ ok: false, index: 2, seq: 4 })

      // A continuation verifies only from the hash it continues.
      expect(verifyChain(records.slice(4), records[3]!.hash)).toMatchObject({ ok: true })
      expect(verifyChain(records.slice(4))).toMatchObject({ ok: false, index: 0 })
    }),
  )
})
