/** NANDI's prompts over a real MCP client: listed only with the tools they need, arguments checked. */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { prompts } from "../../src/mcp/prompts.js"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { builtin } from "../../src/tools/catalog.js"
import { startTestCluster } from "../support/cluster.js"
import { connectInProcess } from "../support/server.js"

let sim: RunningSimulator

beforeAll(async () => {
  sim = await startTestCluster()
})
afterAll(async () => {
  await sim.close()
})

const withSession = async <A>(
  env: Record<string, string>,
  use: (session: Awaited<ReturnType<typeof connectInProcess>>) => Promise<A>,
) => {
  const session = await connectInProcess(sim, { env })
  try {
    return await use(session)
  } finally {
    await session.close()
  }
}

const text = (result: { messages: Array<{ content: { type: string; text?: string } }> }) =>
  result.messages.map((m) => m.content.text ?? "").join("\n")

describe("prompts", () => {
  it("every tool a prompt names exists in the catalog", () => {
    for (const prompt of prompts)
      for (const tool of prompt.tools) expect(builtin.lookup(tool), `${prompt.name}: ${tool}`).toBeDefined()
  })

  it("lists guest-inventory, backup-audit and troubleshoot-guest at the default read-only tier", async () => {
    await withSession({}, async ({ client }) => {
      const { prompts: listed } = await client.listPrompts()
      expect(listed.map((p) => p.name).sort()).toEqual([
        "backup-audit",
        "cluster-health",
        "guest-inventory",
        "troubleshoot-guest",
      ])
      expect(listed.find((p) => p.name === "troubleshoot-guest")?.arguments).toContainEqual(
        expect.objectContaining({ name: "vmid", required: true }),
      )
    })
  })

  it("builds the text from validated arguments", async () => {
    await withSession({}, async ({ client }) => {
      const result = await client.getPrompt({
        name: "troubleshoot-guest",
        arguments: { vmid: "101", symptom: "slow\nnetwork" },
      })
      expect(text(result)).toContain("Diagnose guest 101 (reported: slow network)")
      expect(text(result)).toContain("pve_list_tasks")
      const audit = await client.getPrompt({
        name: "backup-audit",
        arguments: { days: "3", storage: "backup-nfs" },
      })
      expect(text(audit)).toContain("older than 3 days")
      expect(text(audit)).toContain("storage backup-nfs")
    })
  })

  it("refuses a missing, malformed or unknown argument", async () => {
    await withSession({}, async ({ client }) => {
      await expect(client.getPrompt({ name: "troubleshoot-guest", arguments: {} })).rejects.toThrow(
        /vmid: is required/,
      )
      await expect(
        client.getPrompt({ name: "troubleshoot-guest", arguments: { vmid: "12" } }),
      ).rejects.toThrow(/vmid: must be a guest id/)
      await expect(
        client.getPrompt({ name: "guest-inventory", arguments: { node: "../x" } }),
      ).rejects.toThrow(/node: must be a node name/)
      await expect(
        client.getPrompt({ name: "guest-inventory", arguments: { nodes: "pve1" } }),
      ).rejects.toThrow(/not an argument/)
    })
  })

  it("a prompt whose tools are hidden is neither listed nor served", async () => {
    await withSession({ PVE_TOOL_BLACKLIST: "pve_list_backup_jobs" }, async ({ client }) => {
      const { prompts: listed } = await client.listPrompts()
      expect(listed.map((p) => p.name)).not.toContain("backup-audit")
      expect(listed.map((p) => p.name)).toContain("guest-inventory")
      await expect(client.getPrompt({ name: "backup-audit", arguments: {} })).rejects.toThrow(
        /Unknown prompt/,
      )
    })
    await withSession({ PVE_CATEGORIES: "nodes" }, async ({ client }) => {
      expect((await client.listPrompts()).prompts).toEqual([])
    })
  })
})
