/**
 * The catalog's second part (monitoring, network, firewall, access, pools, cluster) end to end:
 * a real MCP client (in-process) against the simulated cluster, every tool at least once, and
 * the state each change leaves behind read back through the tools.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { endpointFacts } from "../../src/simulator/schema.js"
import { metricsTools } from "../../src/tools/metrics.js"
import { api, tokenHeader } from "../simulator/helpers.js"
import { startTestCluster } from "../support/cluster.js"
import { connectInProcess } from "../support/server.js"
import { partTwoTools as partTwo } from "./admin-tools.cases.js"

const ENV = { PVE_ACCESS_TIER: "full", PVE_MODULE_MODE: "advanced", PVE_CONFIRM_MODE: "argument" }

interface Envelope {
  readonly ok: boolean
  readonly data?: unknown
  readonly error?: { readonly code: string; readonly message: string }
  readonly meta?: { readonly warnings?: ReadonlyArray<string> }
}

let sim: RunningSimulator
let client: Client
let close: () => Promise<void>

beforeAll(async () => {
  sim = await startTestCluster()
  const session = await connectInProcess(sim, { env: ENV })
  client = session.client
  close = session.close
})
afterAll(async () => {
  await close()
  await sim.close()
})
beforeEach(() => sim.cluster.clearRequests())

const call = async (name: string, args: Record<string, unknown> = {}): Promise<Envelope> =>
  (await client.callTool({ name, arguments: args })).structuredContent as unknown as Envelope

const ok = async (name: string, args: Record<string, unknown> = {}): Promise<unknown> => {
  const envelope = await call(name, args)
  if (!envelope.ok) throw new Error(`${name}: ${JSON.stringify(envelope.error)}`)
  return envelope.data
}

const codeOf = async (name: string, args: Record<string, unknown>) => (await call(name, args)).error?.code

/** The requests sent to a path (a regex over the decoded path) with a method. */
const sent = (method: string, path: RegExp) =>
  sim.cluster.requests.filter((request) => request.method === method && path.test(request.path))

const rows = (data: unknown) => data as ReadonlyArray<Record<string, unknown>>

describe("every tool of part two calls Proxmox", () => {
  // One valid call per tool against the demo seed (pve1: VMs 100-102; container 200 on pve1).
  // The simulated cluster has no Ceph: its status answers 500, which the tool reports as data.
  const cases: Record<string, () => Promise<Record<string, unknown>> | Record<string, unknown>> = {
    pve_get_node_dns: () => ({ node: "pve1" }),
    pve_get_node_time: () => ({ node: "pve2" }),
    pve_get_node_syslog: () => ({ node: "pve1", limit: 3 }),
    pve_list_node_services: () => ({ node: "pve3" }),
    pve_get_qemu_agent_info: () => ({ vmid: 100 }),
    pve_get_qemu_agent_network: () => ({ vmid: 100 }),
    pve_get_qemu_agent_osinfo: () => ({ vmid: 100 }),
    pve_get_qemu_agent_fsinfo: () => ({ vmid: 100 }),
    pve_list_networks: () => ({ node: "pve1" }),
    pve_get_network: () => ({ node: "pve1", iface: "vmbr0" }),
    pve_list_node_bridges: () => ({ node: "pve1" }),
    pve_list_node_bonds: () => ({ node: "pve1" }),
    pve_list_node_physical_nics: () => ({ node: "pve1" }),
    pve_create_network: () => ({ node: "pve3", iface: "vmbr9", type: "bridge", autostart: true }),
    pve_update_network: () => ({ node: "pve3", iface: "vmbr9", comments: "lab", confirm: true }),
    pve_delete_network: () => ({ node: "pve3", iface: "vmbr9", confirm: true }),
    pve_revert_network_changes: () => ({ node: "pve3", confirm: true }),
    pve_apply_network_changes: () => ({ node: "pve3", confirm: true, wait: true }),
    pve_list_cluster_firewall_rules: () => ({}),
    pve_get_cluster_firewall_options: () => ({}),
    pve_list_cluster_firewall_aliases: () => ({}),
    pve_list_cluster_firewall_ipsets: () => ({}),
    pve_list_guest_firewall_rules: () => ({ guest_type: "qemu", vmid: 100 }),
    pve_update_cluster_firewall_options: () => ({ policy_in: "DROP", confirm: true }),
    pve_create_cluster_firewall_rule: () => ({ type: "in", action: "ACCEPT", proto: "tcp", dport: "443" }),
    pve_update_cluster_firewall_rule: () => ({ pos: 0, dport: "8443", confirm: true }),
    pve_delete_cluster_firewall_rule: () => ({ pos: 0, confirm: true }),
    pve_create_guest_firewall_rule: () => ({
      guest_type: "lxc",
      vmid: 200,
      type: "in",
      action: "DROP",
      proto: "udp",
    }),
    pve_update_guest_firewall_rule: () => ({
      guest_type: "lxc",
      vmid: 200,
      pos: 0,
      action: "ACCEPT",
      confirm: true,
    }),
    pve_delete_guest_firewall_rule: () => ({ guest_type: "lxc", vmid: 200, pos: 0, confirm: true }),
    pve_list_users: () => ({}),
    pve_list_roles: () => ({}),
    pve_list_groups: () => ({}),
    pve_list_acls: () => ({}),
    pve_list_domains: () => ({}),
    pve_list_api_tokens: () => ({ userid: "root@pam" }),
    pve_create_user: () => ({ userid: "each@pve", email: "each@example.com" }),
    pve_update_user: () => ({ userid: "each@pve", enable: false, confirm: true }),
    pve_update_acl: () => ({ path: "/vms/100", roles: "PVEAuditor", users: "auditor@pve", confirm: true }),
    pve_create_api_token: () => ({ userid: "auditor@pve", tokenid: "each" }),
    pve_delete_api_token: () => ({ userid: "auditor@pve", tokenid: "each", confirm: true }),
    pve_delete_user: () => ({ userid: "each@pve", confirm: true }),
    pve_list_pools: () => ({}),
    pve_create_pool: () => ({ poolid: "each", comment: "one of each" }),
    pve_get_pool: async () => {
      await ok("pve_create_pool", { poolid: "seen" })
      return { poolid: "seen" }
    },
    pve_update_pool: () => ({ poolid: "each", comment: "changed", confirm: true }),
    pve_delete_pool: () => ({ poolid: "each", confirm: true }),
    pve_get_cluster_log: () => ({ max: 5 }),
    pve_get_cluster_options: () => ({}),
    pve_list_cluster_replication: () => ({}),
    pve_get_cluster_ha_status: () => ({}),
    pve_list_cluster_backup_info: () => ({}),
    pve_list_ha_groups: () => ({}),
    pve_get_ceph_status: () => ({}),
  }
  for (const tool of metricsTools)
    cases[tool.name] = () =>
      tool.name.includes("_node_")
        ? { node: "pve2" }
        : tool.name.includes("_lxc_")
          ? { vmid: 200 }
          : { vmid: 101 }

  it("has a case for every tool of this part", () => {
    expect(Object.keys(cases).sort()).toEqual(partTwo.map((t) => t.name).sort())
  })

  /** A path template matches a recorded (decoded) request path. */
  const matches = (template: string, path: string) =>
    new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`).test(path)

  // In declaration order, so each change finds what the one before it made.
  for (const tool of partTwo) {
    it(tool.name, async () => {
      const args = await cases[tool.name]?.()
      expect(args, "a case").toBeDefined()
      sim.cluster.clearRequests()
      await ok(tool.name, args)
      expect(
        sim.cluster.requests.some(
          (r) =>
            tool.endpoints.some((e) => e.method === r.method && matches(e.path, r.path)) &&
            r.status === (tool.name === "pve_get_ceph_status" ? 500 : 200),
        ),
        `${tool.name} sent one of its endpoints`,
      ).toBe(true)
    })
  }
})

describe("metrics", () => {
  it("each of the 15 tools sends the timeframe its name says, cf=AVERAGE unless MAX is asked for", async () => {
    expect(metricsTools.filter((t) => t.name.includes("_metrics_"))).toHaveLength(15)
    for (const tool of metricsTools.filter((t) => t.name.includes("_metrics_"))) {
      const timeframe = tool.name.slice(tool.name.lastIndexOf("_") + 1)
      const target = tool.name.includes("_node_")
        ? { node: "pve1" }
        : tool.name.includes("_lxc_")
          ? { vmid: 200 }
          : { vmid: 100 }
      for (const cf of [undefined, "MAX"]) {
        sim.cluster.clearRequests()
        const points = rows(await ok(tool.name, { ...target, ...(cf === undefined ? {} : { cf }) }))
        expect(points.length).toBeGreaterThan(10)
        const [request] = sent("GET", /\/rrddata$/)
        expect(request?.query, tool.name).toEqual({ timeframe, cf: cf ?? "AVERAGE" })
      }
    }
  })

  it("the timeframe is not an input, and cf accepts only AVERAGE or MAX", async () => {
    expect(await codeOf("pve_get_node_metrics_hour", { node: "pve1", timeframe: "year" })).toBe(
      "INVALID_INPUT",
    )
    expect(await codeOf("pve_get_node_metrics_hour", { node: "pve1", cf: "MIN" })).toBe("INVALID_INPUT")
    expect(sim.cluster.requests).toEqual([])
  })

  it("MAX points are at least the AVERAGE ones", async () => {
    const average = rows(await ok("pve_get_qemu_metrics_day", { vmid: 100 }))
    const max = rows(await ok("pve_get_qemu_metrics_day", { vmid: 100, cf: "MAX" }))
    expect(Number(max[5]?.cpu)).toBeGreaterThan(Number(average[5]?.cpu))
  })

  it("the guest agent answers only for a running VM", async () => {
    sim.cluster.addGuest({ vmid: 7100, type: "qemu", node: "pve2", name: "agentless", status: "stopped" })
    const failed = await call("pve_get_qemu_agent_osinfo", { vmid: 7100 })
    expect(failed.error?.message).toContain("not running")
    expect(await ok("pve_get_qemu_agent_osinfo", { vmid: 100 })).toMatchObject({ result: { id: "debian" } })
  })

  it("syslog sends limit 100 by default", async () => {
    await ok("pve_get_node_syslog", { node: "pve1" })
    expect(sent("GET", /\/syslog$/)[0]?.query).toEqual({ limit: "100" })
  })
})

describe("network", () => {
  it("filtered lists send their type", async () => {
    const bridges = rows(await ok("pve_list_node_bridges", { node: "pve2" }))
    expect(bridges.map((i) => i.iface)).toEqual(["vmbr0", "vmbr1"])
    expect(rows(await ok("pve_list_node_bonds", { node: "pve2" })).map((i) => i.iface)).toEqual(["bond0"])
    expect(rows(await ok("pve_list_node_physical_nics", { node: "pve2" })).map((i) => i.iface)).toEqual([
      "eno1",
      "eno2",
      "eno3",
    ])
    expect(sent("GET", /\/network$/).map((r) => r.query.type)).toEqual(["any_bridge", "bond", "eth"])
  })

  it("create stages, apply makes it active, update sends the type read from the config", async () => {
    await ok("pve_create_network", {
      node: "pve2",
      iface: "vmbr5",
      type: "bridge",
      bridge_ports: "eno3",
      cidr: "10.5.0.2/24",
      autostart: true,
    })
    const staged = rows(await ok("pve_list_networks", { node: "pve2", type: "bridge" })).find(
      (i) => i.iface === "vmbr5",
    )
    expect(staged).toMatchObject({ bridge_ports: "eno3", cidr: "10.5.0.2/24" })
    expect(staged).not.toHaveProperty("active")

    const applied = (await ok("pve_apply_network_changes", { node: "pve2", confirm: true, wait: true })) as {
      exitstatus: string
    }
    expect(applied.exitstatus).toBe("OK")
    expect(await ok("pve_list_networks", { node: "pve2" })).toEqual(
      expect.arrayContaining([expect.objectContaining({ iface: "vmbr5", active: 1 })]),
    )

    sim.cluster.clearRequests()
    expect(
      await ok("pve_update_network", { node: "pve2", iface: "vmbr5", mtu: 9000, confirm: true }),
    ).toMatchObject({
      type: "bridge",
    })
    expect(sent("PUT", /\/network\/vmbr5$/)[0]?.body).toMatchObject({ type: "bridge", mtu: "9000" })
  })

  it("update without a setting is TOOL_INPUT_REJECTED and sends nothing", async () => {
    expect(await codeOf("pve_update_network", { node: "pve2", iface: "vmbr0", confirm: true })).toBe(
      "TOOL_INPUT_REJECTED",
    )
    expect(sim.cluster.requests.filter((r) => r.method !== "GET")).toEqual([])
  })

  it("revert discards staged changes", async () => {
    await ok("pve_delete_network", { node: "pve1", iface: "vmbr1", confirm: true })
    expect(rows(await ok("pve_list_networks", { node: "pve1" })).map((i) => i.iface)).not.toContain("vmbr1")
    await ok("pve_revert_network_changes", { node: "pve1", confirm: true })
    expect(rows(await ok("pve_list_networks", { node: "pve1" })).map((i) => i.iface)).toContain("vmbr1")
  })

  it("an unknown node is UNKNOWN_NODE, a bad interface name INVALID_INPUT", async () => {
    expect(await codeOf("pve_list_networks", { node: "pve9" })).toBe("UNKNOWN_NODE")
    expect(await codeOf("pve_get_network", { node: "pve1", iface: "../x" })).toBe("INVALID_INPUT")
  })
})

describe("firewall", () => {
  it("a cluster rule is added at the top, changed and removed by position", async () => {
    const before = rows(await ok("pve_list_cluster_firewall_rules"))
    await ok("pve_create_cluster_firewall_rule", {
      type: "in",
      action: "ACCEPT",
      proto: "tcp",
      dport: "9100",
      source: "10.0.0.0/8",
      enable: true,
      comment: "node exporter",
    })
    expect(sent("POST", /\/cluster\/firewall\/rules$/)[0]?.body).toMatchObject({ enable: "1", dport: "9100" })
    const added = rows(await ok("pve_list_cluster_firewall_rules"))
    expect(added[0]).toMatchObject({ pos: 0, dport: "9100", comment: "node exporter" })
    expect(added).toHaveLength(before.length + 1)

    await ok("pve_update_cluster_firewall_rule", { pos: 0, action: "DROP", confirm: true })
    expect(rows(await ok("pve_list_cluster_firewall_rules"))[0]).toMatchObject({
      action: "DROP",
      dport: "9100",
    })
    await ok("pve_delete_cluster_firewall_rule", { pos: 0, confirm: true })
    expect(rows(await ok("pve_list_cluster_firewall_rules"))).toHaveLength(before.length)
  })

  it("a rule position that does not exist is PVE's error", async () => {
    const failed = await call("pve_delete_cluster_firewall_rule", { pos: 999, confirm: true })
    expect(failed.error?.message).toContain("no rule at position 999")
  })

  it("options: enable is sent as 1/0, an empty change is refused", async () => {
    await ok("pve_update_cluster_firewall_options", { enable: true, policy_in: "REJECT", confirm: true })
    expect(await ok("pve_get_cluster_firewall_options")).toMatchObject({ enable: 1, policy_in: "REJECT" })
    expect(await codeOf("pve_update_cluster_firewall_options", { confirm: true })).toBe("TOOL_INPUT_REJECTED")
  })

  it("guest rules go to the guest's type and node (found from the vmid)", async () => {
    await ok("pve_create_guest_firewall_rule", {
      guest_type: "qemu",
      vmid: 101,
      type: "out",
      action: "REJECT",
    })
    expect(sent("POST", /firewall\/rules$/).map((r) => r.path)).toEqual([
      "/nodes/pve1/qemu/101/firewall/rules",
    ])
    expect(rows(await ok("pve_list_guest_firewall_rules", { guest_type: "qemu", vmid: 101 }))).toEqual([
      expect.objectContaining({ pos: 0, type: "out", action: "REJECT" }),
    ])
    // The wrong type for the vmid: no such guest, found out before anything is sent.
    sim.cluster.clearRequests()
    expect(
      await codeOf("pve_list_guest_firewall_rules", { guest_type: "lxc", vmid: 101, node: "pve1" }),
    ).toBe("GUEST_NOT_FOUND")
    expect(sent("GET", /firewall/)).toEqual([])
  })
})

describe("access", () => {
  it("a user created with a password; the password is never listed", async () => {
    await ok("pve_create_user", { userid: "alice@pve", password: "correct-horse-42", comment: "Alice" })
    expect(sent("POST", /^\/access\/users$/)[0]?.body).toMatchObject({ userid: "alice@pve" })
    const users = rows(await ok("pve_list_users"))
    expect(users).toEqual(
      expect.arrayContaining([expect.objectContaining({ userid: "alice@pve", comment: "Alice" })]),
    )
    expect(JSON.stringify(users)).not.toContain("correct-horse-42")
    expect((await call("pve_create_user", { userid: "alice@pve" })).error?.message).toContain(
      "already exists",
    )
  })

  it("a created token's secret is returned once, works, and is gone after delete", async () => {
    await ok("pve_create_user", { userid: "bob@pve" })
    const created = await call("pve_create_api_token", { userid: "bob@pve", tokenid: "ci", privsep: false })
    expect(created.ok).toBe(true)
    const { value, "full-tokenid": fullId } = created.data as { value: string; "full-tokenid": string }
    expect(fullId).toBe("bob@pve!ci")
    expect(value).toMatch(/^[0-9a-f-]{36}$/)
    expect(created.meta?.warnings?.[0]).toContain("only this once")
    const listed = await ok("pve_list_api_tokens", { userid: "bob@pve" })
    expect(listed).toEqual([expect.objectContaining({ tokenid: "ci", privsep: 0 })])
    expect(JSON.stringify(listed)).not.toContain(value)

    const withToken = () => api(sim, { path: "/version", auth: tokenHeader(fullId, value) })
    expect((await withToken()).status).toBe(200)
    await ok("pve_delete_api_token", { userid: "bob@pve", tokenid: "ci", confirm: true })
    expect((await withToken()).status).toBe(401)
  })

  it("ACL changes are what /access/permissions evaluates (the doctor's question)", async () => {
    await ok("pve_create_user", { userid: "carol@pve" })
    const permissions = async (path: string) =>
      (
        await api(sim, {
          path: `/access/permissions?userid=carol@pve&path=${encodeURIComponent(path)}`,
        })
      ).json.data[path] as Record<string, number>
    expect(await permissions("/vms/100")).toEqual({})
    await ok("pve_update_acl", { path: "/vms", roles: "PVEVMUser", users: "carol@pve", confirm: true })
    expect(await permissions("/vms/100")).toHaveProperty("VM.PowerMgmt", 1)
    expect(await permissions("/nodes/pve1")).toEqual({})
    // A deeper NoAccess entry replaces what /vms grants.
    await ok("pve_update_acl", { path: "/vms/101", roles: "NoAccess", users: "carol@pve", confirm: true })
    expect(await permissions("/vms/101")).toEqual({})
    expect(await ok("pve_list_acls")).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: "/vms", ugid: "carol@pve", roleid: "PVEVMUser" }),
      ]),
    )
    await ok("pve_update_acl", {
      path: "/vms",
      roles: "PVEVMUser",
      users: "carol@pve",
      delete: true,
      confirm: true,
    })
    expect(await permissions("/vms/100")).toEqual({})
  })

  it("ACL changes need a subject, and role names PVE knows", async () => {
    expect(await codeOf("pve_update_acl", { path: "/", roles: "PVEAuditor", confirm: true })).toBe(
      "TOOL_INPUT_REJECTED",
    )
    const failed = await call("pve_update_acl", {
      path: "/",
      roles: "Bogus",
      users: "root@pam",
      confirm: true,
    })
    expect(failed.error?.message).toContain("role 'Bogus' does not exist")
  })

  it("update needs a field; delete removes the user's tokens", async () => {
    expect(await codeOf("pve_update_user", { userid: "root@pam", confirm: true })).toBe("TOOL_INPUT_REJECTED")
    await ok("pve_create_user", { userid: "dave@pve" })
    expect(await codeOf("pve_create_api_token", { userid: "dave@pve", tokenid: "x" })).toBe("INVALID_INPUT")
    await ok("pve_create_api_token", { userid: "dave@pve", tokenid: "x1" })
    await ok("pve_update_user", { userid: "dave@pve", email: "dave@example.com", confirm: true })
    await ok("pve_delete_user", { userid: "dave@pve", confirm: true })
    expect((await call("pve_list_api_tokens", { userid: "dave@pve" })).error?.message).toContain(
      "no such user",
    )
  })
})

describe("pools", () => {
  it("create, add members, read them, refuse to delete while not empty, remove, delete", async () => {
    await ok("pve_create_pool", { poolid: "dev", comment: "development" })
    await ok("pve_update_pool", { poolid: "dev", vms: "100,200", storage: "local", confirm: true })
    expect(sent("PUT", /^\/pools$/)[0]?.body).toMatchObject({ poolid: "dev", vms: "100,200" })
    const pool = (await ok("pve_get_pool", { poolid: "dev" })) as {
      members: ReadonlyArray<Record<string, unknown>>
    }
    expect(pool.members.filter((m) => m.type !== "storage").map((m) => m.vmid)).toEqual([100, 200])
    expect((await call("pve_delete_pool", { poolid: "dev", confirm: true })).error?.message).toContain(
      "not empty",
    )
    await ok("pve_update_pool", {
      poolid: "dev",
      vms: "100,200",
      storage: "local",
      delete: true,
      confirm: true,
    })
    await ok("pve_delete_pool", { poolid: "dev", confirm: true })
    expect(sent("DELETE", /^\/pools$/).at(-1)?.query).toEqual({ poolid: "dev" })
    expect(rows(await ok("pve_list_pools")).map((p) => p.poolid)).not.toContain("dev")
  })

  it("a guest in another pool moves only with allow-move", async () => {
    await ok("pve_create_pool", { poolid: "a" })
    await ok("pve_create_pool", { poolid: "b" })
    await ok("pve_update_pool", { poolid: "a", vms: "101", confirm: true })
    expect(
      (await call("pve_update_pool", { poolid: "b", vms: "101", confirm: true })).error?.message,
    ).toContain("belongs already to pool 'a'")
    await ok("pve_update_pool", { poolid: "b", vms: "101", "allow-move": true, confirm: true })
    const b = (await ok("pve_get_pool", { poolid: "b" })) as {
      members: ReadonlyArray<Record<string, unknown>>
    }
    expect(b.members.map((m) => m.vmid)).toEqual([101])
  })
})

describe("cluster", () => {
  it("Ceph status on a cluster without Ceph is installed: false", async () => {
    expect(await ok("pve_get_ceph_status")).toEqual({ installed: false })
  })

  it("the cluster log shows task starts; NANDI's overview name is an alias of the resources list", async () => {
    await ok("pve_start_qemu_vm", { vmid: 102, wait: true })
    const log = rows(await ok("pve_get_cluster_log", { max: 10 }))
    expect(log.some((entry) => String(entry.msg).includes("qmstart"))).toBe(true)
    const overview = rows(await ok("pve_get_cluster_metrics_overview", { type: "node" }))
    expect(overview.map((n) => n.node)).toEqual(["pve1", "pve2", "pve3"])
  })

  it("HA status lists each node's LRM", async () => {
    const status = rows(await ok("pve_get_cluster_ha_status"))
    expect(status.filter((s) => s.type === "lrm")).toHaveLength(3)
  })
})

describe("inputs are PVE parameters", () => {
  // Fields that are not sent as such: paging applied here, and the path selector of guest rules.
  const LOCAL = new Set(["limit", "offset", "fields", "guest_type"])

  it("every input field of part two is a parameter of one of its tool's endpoints (PVE schema)", () => {
    for (const tool of partTwo) {
      const known = new Set(
        tool.endpoints.flatMap((endpoint) =>
          Object.keys(endpointFacts(endpoint.method, endpoint.path)?.parameters ?? {}),
        ),
      )
      for (const field of Object.keys(tool.input)) {
        // syslog's limit is PVE's own.
        if (LOCAL.has(field) && !(tool.name === "pve_get_node_syslog" && field === "limit")) continue
        expect(known.has(field), `${tool.name}: ${field}`).toBe(true)
      }
    }
  })
})
