/**
 * The size of `tools/list`: every byte of it is read by the model before it does anything.
 * Measured in-process over the SDK's InMemoryTransport, at tier full, as a client sees it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { startTestCluster } from "../support/cluster.js"
import { connectInProcess } from "../support/server.js"

// The foundation's 35 tools averaged under 700 bytes. Part 1 added 60 tools that mostly start
// tasks (wait, timeoutSeconds) and ask for confirmation (confirm) and carry more inputs (create,
// backup), and list tools took `fields` (a projection): about 850. Discovery mode and toolsets are the way to list less.
const MAX_BYTES_PER_TOOL = 850

let sim: RunningSimulator

beforeAll(async () => {
  sim = await startTestCluster()
})
afterAll(async () => {
  await sim?.close()
})

const listedBytes = async (listAliases: boolean) => {
  const session = await connectInProcess(sim, {
    env: { PVE_ACCESS_TIER: "full", PVE_MODULE_MODE: "advanced", PVE_LIST_ALIASES: String(listAliases) },
  })
  const { tools } = await session.client.listTools()
  await session.close()
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
