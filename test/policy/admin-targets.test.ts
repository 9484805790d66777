/**
 * Targets of the catalog's second part under principal resource patterns: network changes
 * target their node, guest firewall changes their guest, access changes their `/access/...`
 * path, pool changes `/pools/{poolid}`. A refused call sends nothing.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import type { Principal } from "../../src/domain/principal.js"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { builtin } from "../../src/tools/catalog.js"
import {
  auditRecords,
  callTool,
  configFor,
  errorOf,
  okData,
  runtimeFor,
  startTestCluster,
  type TestRuntime,
} from "../support/cluster.js"

let sim: RunningSimulator
let runtime: TestRuntime

beforeAll(async () => {
  sim = await startTestCluster()
  runtime = runtimeFor(configFor(sim))
})
afterAll(async () => {
  await runtime.dispose()
  await sim.close()
})
beforeEach(() => sim.cluster.clearRequests())

const principal = (resources: ReadonlyArray<string>): Principal => ({
  sub: "ops",
  role: "ops",
  transport: "http",
  tier: "full",
  resources,
})

/** Calls as `who`, confirming when the tool asks for it. */
const call = (who: Principal, name: string, args: Record<string, unknown>) =>
  callTool(runtime, name, builtin.lookup(name)?.tool.confirm ? { confirm: true, ...args } : args, {
    principal: who,
  }).run()

const writes = () => sim.cluster.requests.filter((request) => request.method !== "GET")

describe("resource patterns over part two's targets", () => {
  it("network changes target their node", async () => {
    const pve1Only = principal(["/nodes/pve1", "/nodes/pve1/*"])
    okData(await call(pve1Only, "pve_revert_network_changes", { node: "pve1" }))
    const refused = errorOf(await call(pve1Only, "pve_revert_network_changes", { node: "pve2" }))
    expect(refused.code).toBe("FORBIDDEN")
    expect(refused.message).toContain("/nodes/pve2")
    expect(writes().map((r) => r.path)).toEqual(["/nodes/pve1/network"])
  })

  it("guest firewall rules target the guest, found on its node", async () => {
    const vms = principal(["*/qemu/*"])
    okData(await call(vms, "pve_list_guest_firewall_rules", { guest_type: "qemu", vmid: 100 }))
    expect(
      errorOf(await call(vms, "pve_list_guest_firewall_rules", { guest_type: "lxc", vmid: 200 })).code,
    ).toBe("FORBIDDEN")
    // Cluster-wide firewall tools are decided by role and tier, not by patterns.
    okData(await call(vms, "pve_list_cluster_firewall_rules", {}))
  })

  it("access changes target the object's /access path", async () => {
    const userAdmin = principal(["/access/users/*@pve", "/access/users/*@pve/*"])
    okData(await call(userAdmin, "pve_create_user", { userid: "erin@pve" }))
    okData(await call(userAdmin, "pve_create_api_token", { userid: "erin@pve", tokenid: "ci" }))
    const refused = errorOf(await call(userAdmin, "pve_delete_user", { userid: "root@pam" }))
    expect(refused).toMatchObject({ code: "FORBIDDEN" })
    expect(refused.message).toContain("/access/users/root@pam")
    expect(
      errorOf(
        await call(userAdmin, "pve_update_acl", { path: "/", roles: "Administrator", users: "erin@pve" }),
      ).code,
    ).toBe("FORBIDDEN")
    expect(writes().map((r) => `${r.method} ${r.path}`)).toEqual([
      "POST /access/users",
      "POST /access/users/erin@pve/token/ci",
    ])
    // The audit names the target path the decision was made on.
    const denied = auditRecords(runtime).filter((record) => record.event === "policy.denied")
    expect(JSON.stringify(denied)).toContain("/access/users/root@pam")
  })

  it("pool changes target /pools/{poolid}", async () => {
    const devPools = principal(["/pools/dev-*"])
    okData(await call(devPools, "pve_create_pool", { poolid: "dev-a" }))
    expect(errorOf(await call(devPools, "pve_create_pool", { poolid: "prod" })).code).toBe("FORBIDDEN")
    okData(await call(devPools, "pve_delete_pool", { poolid: "dev-a" }))
    expect(writes().map((r) => `${r.method} ${r.path}`)).toEqual(["POST /pools", "DELETE /pools"])
  })
})
