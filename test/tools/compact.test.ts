/** Compact results: `fields` projections on list tools and float noise rounded off. */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeRedactor } from "../../src/domain/redact.js"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { page } from "../../src/tools/common.js"
import { roundFloats, success, text } from "../../src/tools/envelope.js"
import { startTestCluster } from "../support/cluster.js"
import { connectInProcess } from "../support/server.js"

describe("roundFloats", () => {
  it("keeps 4 decimals of non-integers and never touches integers (bytes, seconds)", () => {
    expect(roundFloats({ cpu: 0.0123456789, mem: 2147483648, uptime: 86400, load: 1.23456 })).toEqual({
      cpu: 0.0123,
      mem: 2147483648,
      uptime: 86400,
      load: 1.2346,
    })
    expect(roundFloats([{ netin: 1345125717.333333 }])).toEqual([{ netin: 1345125717.3333 }])
  })

  it("returns the same value when there is nothing to round", () => {
    const value = { a: [1, 2, { b: "x" }], c: null }
    expect(roundFloats(value)).toBe(value)
  })
})

describe("the envelope's JSON text", () => {
  // Built once from the data's JSON the size check made: it must be exactly JSON.stringify's.
  const redact = makeRedactor()
  it.each([
    ["an object", { data: { a: 1, b: "x", c: [1.23456, null] }, node: "pve1" }],
    ["a list", { data: [{ vmid: 100 }, { vmid: 101, name: "é\u2028" }], warnings: ["w"] }],
    ["a list cut to size", { data: Array.from({ length: 200 }, (_, i) => ({ i, pad: "x".repeat(20) })) }],
    ["no data", { data: undefined }],
    ["a string", { data: "password=hunter2", upid: "UPID:pve1:1:2:3:qmstart:100:root@pam:" }],
  ])("%s", (_name, output) => {
    const envelope = success(output, 12, redact, 1024)
    expect(text(envelope)).toBe(JSON.stringify(envelope))
  })
})

describe("page", () => {
  it("applies offset and limit, then keeps only the fields asked for", () => {
    const rows = [1, 2, 3, 4].map((n) => ({ vmid: n, name: `vm${n}`, status: "running", cpu: 0.5 }))
    expect(page(rows, { offset: 1, limit: 2, fields: "vmid,name,absent" })).toEqual([
      { vmid: 2, name: "vm2" },
      { vmid: 3, name: "vm3" },
    ])
    expect(page(rows, {})).toEqual(rows)
  })
})

describe("list tools over MCP", () => {
  let sim: RunningSimulator
  beforeAll(async () => {
    sim = await startTestCluster()
  })
  afterAll(async () => {
    await sim?.close()
  })

  it("project with fields, and refuse a malformed one", async () => {
    const session = await connectInProcess(sim)
    const result = await session.client.callTool({
      name: "pve_list_cluster_resources",
      arguments: { type: "vm", fields: "vmid,name,status" },
    })
    const data = (result.structuredContent as { data: Array<Record<string, unknown>> }).data
    expect(data.length).toBeGreaterThan(0)
    for (const row of data) expect(Object.keys(row).sort()).toEqual(["name", "status", "vmid"])
    const bad = await session.client.callTool({ name: "pve_list_nodes", arguments: { fields: "a b" } })
    expect(bad.structuredContent).toMatchObject({ ok: false, error: { code: "INVALID_INPUT" } })
    await session.close()
  })
})
