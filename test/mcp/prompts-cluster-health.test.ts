/** Prompts over a real MCP client: offered only while their tools are exposed. */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { startTestCluster } from "../support/cluster.js"
import { connectInProcess } from "../support/server.js"

let sim: RunningSimulator
const sessions: Array<{ close: () => Promise<void> }> = []

beforeAll(async () => {
  sim = await startTestCluster({ perNodeEndpoints: false })
})
afterAll(async () => {
  for (const session of sessions) await session.close()
  await sim.close()
})

const connect = async (env: Record<string, string>) => {
  const session = await connectInProcess(sim, { env })
  sessions.push(session)
  return session.client
}

describe("cluster-health", () => {
  it("is listed under the default policy and names only exposed tools", async () => {
    const client = await connect({})
    const { prompts } = await client.listPrompts()
    expect(prompts.map((p) => p.name)).toContain("cluster-health")
    const prompt = await client.getPrompt({ name: "cluster-health" })
    const text = prompt.messages.map((m) => (m.content.type === "text" ? m.content.text : "")).join("\n")
    expect(text).toContain("pve_get_cluster_status")
    expect(text).toContain("pve_get_cluster_ha_status")
    expect(text).toContain("change nothing")
  })

  it("leaves out optional tools the policy hides", async () => {
    const client = await connect({ PVE_TOOL_BLACKLIST: "pve_get_cluster_ha_status" })
    const prompt = await client.getPrompt({ name: "cluster-health" })
    const text = prompt.messages.map((m) => (m.content.type === "text" ? m.content.text : "")).join("\n")
    expect(text).not.toContain("pve_get_cluster_ha_status")
    expect(text).toContain("pve_list_nodes")
  })

  it("is not offered when a tool it needs is hidden, and cannot be fetched", async () => {
    const client = await connect({ PVE_TOOL_BLACKLIST: "pve_get_cluster_status" })
    expect((await client.listPrompts()).prompts.map((p) => p.name)).not.toContain("cluster-health")
    await expect(client.getPrompt({ name: "cluster-health" })).rejects.toThrow(
      /Unknown prompt: cluster-health/,
    )
  })
})
