/**
 * The size of `tools/list`: every byte of it is read by the model before it does anything.
 * Measured in-process over the SDK's InMemoryTransport, at tier full, as a client sees it.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { LOCAL_PRINCIPAL } from "../../src/domain/principal.js"
import { makeMcpServer } from "../../src/mcp/server.js"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { configFor, runtimeFor, startTestCluster, type TestRuntime } from "../support/cluster.js"

const MAX_BYTES_PER_TOOL = 700

let sim: RunningSimulator
let runtime: TestRuntime

beforeAll(async () => {
  sim = await startTestCluster()
  runtime = runtimeFor(configFor(sim))
})
afterAll(async () => {
  await runtime?.dispose()
  await sim?.close()
})

const listedBytes = async (listAliases: boolean) => {
  const mcp = makeMcpServer(runtime, {
    version: "test",
    principal: LOCAL_PRINCIPAL,
    maxResultBytes: 256 * 1024,
    listAliases,
  })
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
  await mcp.server.connect(serverSide)
  const client = new Client({ name: "size-test", version: "1" })
  await client.connect(clientSide)
  const { tools } = await client.listTools()
  await client.close()
  return { count: tools.length, bytes: Buffer.byteLength(JSON.stringify({ tools })) }
}

describe("tools/list size at tier full", () => {
  it(`averages at most ${MAX_BYTES_PER_TOOL} bytes per tool`, async () => {
    const { count, bytes } = await listedBytes(false)
    const perTool = Math.round(bytes / count)
    console.log(`tools/list at tier full: ${count} tools, ${bytes} bytes, ${perTool} bytes per tool`)
    expect(perTool).toBeLessThanOrEqual(MAX_BYTES_PER_TOOL)
  })

  it("hides aliases and legacy tools unless PVE_LIST_ALIASES=true", async () => {
    const lean = await listedBytes(false)
    const all = await listedBytes(true)
    console.log(`with PVE_LIST_ALIASES=true: ${all.count} tools, ${all.bytes} bytes`)
    expect(all.count).toBeGreaterThan(lean.count)
  })
})
