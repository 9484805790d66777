/**
 * The remote tools through a real MCP client (in-process transport): listed only when SSH is
 * configured, and a client's cancellation of pve_exec_in_container closes the SSH channel.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { SSH_DISABLED } from "../../src/config/ssh.js"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { builtin } from "../../src/tools/catalog.js"
import { eventually, startTestCluster } from "../support/cluster.js"
import { connectInProcess } from "../support/server.js"
import { makeUserKey, type Sshd, sshdAvailable, startSshd } from "../support/sshd.js"

describe.skipIf(!sshdAvailable)("remote tools over MCP", () => {
  let sim: RunningSimulator
  let sshd: Sshd
  let dir: string
  let key: { path: string; publicKey: string }

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "proxmox-mcp-ssh-mcp-"))
    key = makeUserKey(dir)
    ;[sim, sshd] = await Promise.all([
      startTestCluster(),
      startSshd({ node: "pve1", containers: [200], authorizedKey: key.publicKey }),
    ])
    fs.writeFileSync(path.join(dir, "known_hosts"), sshd.knownHostsLine)
  })
  afterAll(async () => {
    await Promise.all([sim?.close(), sshd?.stop()])
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  })

  const policyEnv = { PVE_ACCESS_TIER: "full", PVE_MODULE_MODE: "advanced", PVE_CONFIRM_MODE: "argument" }

  /** A server with SSH configured for the test sshd, directly to it. */
  const withSsh = (env: Record<string, string> = {}) => {
    const user = os.userInfo().username
    return connectInProcess(sim, {
      env: {
        ...policyEnv,
        ...env,
        PROXMOX_SSH_KEY_PATH: key.path,
        PROXMOX_SSH_HOST: `${user}@127.0.0.1:${sshd.port}`,
      },
      ssh: {
        settings: {
          ...SSH_DISABLED,
          strategy: "direct",
          entry: { host: "127.0.0.1", port: sshd.port, user },
          keyPath: key.path,
          knownHostsPath: path.join(dir, "known_hosts"),
          nodeName: "pve1",
        },
      },
    })
  }

  it("lists the remote tools only when SSH is configured", async () => {
    const without = await connectInProcess(sim, { env: policyEnv })
    const names = (await without.client.listTools()).tools.map((t) => t.name)
    await without.close()
    expect(names).toContain("pve_list_nodes")
    expect(names.filter((n) => n.includes("container") && n.includes("exec"))).toEqual([])
    expect(names).not.toContain("pve_get_host_versions")
  })

  it("discovery mode reaches every remote tool: search, describe, call as a direct call does", async () => {
    const server = await withSsh({ PVE_TOOL_MODE: "discovery" })
    type Envelope = { ok: boolean; data?: unknown; error?: unknown; meta?: unknown }
    const call = async (name: string, args: Record<string, unknown>) =>
      (await server.client.callTool({ name, arguments: args })).structuredContent as Envelope
    try {
      const remote = builtin.entries.filter((e) => e.aliasFor === undefined && e.tool.category === "remote")
      expect(remote.length).toBeGreaterThanOrEqual(11)
      for (const { name } of remote) {
        const found = (await call("pve_search_tools", { query: name, limit: 3 })).data as Array<{
          name: string
        }>
        expect(found[0]?.name, `search ${name}`).toBe(name)
        expect(await call("pve_describe_tool", { name }), `describe ${name}`).toMatchObject({ ok: true })
        // Arguments a remote tool refuses before it connects: the same refusal both ways.
        const { meta: _a, ...through } = await call("pve_call_tool", {
          name,
          arguments: { ctid: "x", node: "-" },
        })
        const { meta: _b, ...direct } = await call(name, { ctid: "x", node: "-" })
        expect(through, `call ${name}`).toEqual(direct)
      }
    } finally {
      await server.close()
    }
  })

  it("a client's cancellation closes the SSH channel and is audited as CANCELLED", async () => {
    const server = await withSsh()
    try {
      const names = (await server.client.listTools()).tools.map((t) => t.name)
      expect(names).toEqual(expect.arrayContaining(["pve_exec_in_container", "pve_get_host_versions"]))

      const pidFile = path.join(dir, "mcp.pid")
      const abort = new AbortController()
      const call = server.client
        .callTool(
          {
            name: "pve_exec_in_container",
            arguments: {
              ctid: 200,
              command: `echo $$ > ${pidFile}; while :; do echo tick; sleep 0.1; done`,
              confirm: true,
            },
          },
          undefined,
          { signal: abort.signal },
        )
        .catch((error: unknown) => error)
      await eventually(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").endsWith("\n"))
      abort.abort("the user stopped it")
      await call
      const pid = Number(fs.readFileSync(pidFile, "utf8"))
      await eventually(() => {
        try {
          process.kill(pid, 0)
          return false
        } catch {
          return true
        }
      })
      await eventually(() =>
        server.records().some((r) => r.event === "tool.completed" && r.outcome?.code === "CANCELLED"),
      )
      const completed = server.records().find((r) => r.event === "tool.completed")
      expect(completed?.upstream?.find((u) => u.method === "SSH")).toMatchObject({ node: "pve1", status: -1 })
    } finally {
      await server.close()
    }
  })
})
