// Cluster-wide behaviour: shared state across endpoints, ACLs, quorum, HA moves and injected faults.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { type RunningSimulator, startSimulator } from "../../src/simulator/index.js"
import { api, eventually, tokenHeader } from "./helpers.js"

let sim: RunningSimulator

beforeAll(async () => {
  sim = await startSimulator({ taskDurationMs: 100 })
})
afterAll(() => sim.close())
afterEach(() => {
  for (const node of sim.nodes) sim.cluster.setFault(node, null)
  sim.cluster.setQuorum(true)
})

const readOnly = () => tokenHeader(sim.readOnlyToken.tokenId, sim.readOnlyToken.tokenSecret)

describe("endpoints", () => {
  it("has one HTTPS endpoint per node", () => {
    expect(sim.endpoints.map((endpoint) => endpoint.node)).toEqual(["pve1", "pve2", "pve3"])
    expect(new Set(sim.endpoints.map((endpoint) => endpoint.port)).size).toBe(3)
    expect(sim.url).toBe(`https://127.0.0.1:${sim.port}`)
    expect(sim.endpoints[0]?.url).toBe(sim.url)
  })

  it("shares one state between all endpoints", async () => {
    const upid = (await api(sim, { method: "POST", path: "/nodes/pve3/qemu/120/status/start", node: "pve1" }))
      .json.data as string
    const viaPve2 = await eventually(async () => {
      const res = await api(sim, {
        path: `/nodes/pve3/tasks/${encodeURIComponent(upid)}/status`,
        node: "pve2",
      })
      return res.json.data.status === "stopped" ? res.json.data : undefined
    })
    expect(viaPve2.exitstatus).toBe("OK")
    const viaPve3 = await api(sim, { path: "/nodes/pve3/qemu/120/status/current", node: "pve3" })
    expect(viaPve3.json.data.status).toBe("running")
  })

  it("marks the answering node as local in /cluster/status", async () => {
    const res = await api(sim, { path: "/cluster/status", node: "pve2" })
    const local = res.json.data.filter((row: { local?: number }) => row.local === 1)
    expect(local).toEqual([expect.objectContaining({ type: "node", name: "pve2", online: 1 })])
    expect(res.json.data[0]).toMatchObject({ type: "cluster", quorate: 1, nodes: 3 })
  })

  it("can serve everything from a single endpoint", async () => {
    const single = await startSimulator({ perNodeEndpoints: false, nodes: ["a1", "a2"], seed: "empty" })
    try {
      expect(single.endpoints).toEqual([expect.objectContaining({ node: "a1" })])
      const nodes = await api(single, { path: "/nodes" })
      expect(nodes.json.data.map((node: { node: string }) => node.node)).toEqual(["a1", "a2"])
      expect((await api(single, { path: "/nodes/a2/qemu" })).json.data).toEqual([])
    } finally {
      await single.close()
    }
  })
})

describe("inventory", () => {
  it("lists the demo guests, nodes and storages in /cluster/resources", async () => {
    const res = await api(sim, { path: "/cluster/resources" })
    const ids = res.json.data.map((row: { id: string }) => row.id)
    expect(ids).toEqual(
      expect.arrayContaining([
        "qemu/100",
        "qemu/101",
        "lxc/200",
        "qemu/9000",
        "node/pve1",
        "storage/pve1/local",
        "storage/pve2/local-lvm",
        "storage/pve3/backup-nfs",
      ]),
    )
    const template = res.json.data.find((row: { id: string }) => row.id === "qemu/9000")
    expect(template).toMatchObject({
      template: 1,
      name: "debian-12-template",
      node: "pve3",
      status: "stopped",
    })
    const vms = await api(sim, { path: "/cluster/resources?type=vm" })
    expect(vms.json.data.every((row: { type: string }) => row.type === "qemu" || row.type === "lxc")).toBe(
      true,
    )
  })

  it("moves a guest with migrateGuest", async () => {
    sim.cluster.migrateGuest(101, "pve2")
    const res = await api(sim, { path: "/cluster/resources?type=vm" })
    expect(res.json.data.find((row: { vmid: number }) => row.vmid === 101)).toMatchObject({ node: "pve2" })
    expect((await api(sim, { path: "/nodes/pve1/qemu/101/status/current" })).status).toBe(500)
    expect((await api(sim, { path: "/nodes/pve2/qemu/101/status/current" })).json.data.name).toBe("db-01")
    sim.cluster.migrateGuest(101, "pve1")
  })

  it("changes a guest's tags with setGuestTags, everywhere PVE shows them", async () => {
    const tagsIn = async () => {
      const resources = await api(sim, { path: "/cluster/resources?type=vm" })
      const config = await api(sim, { path: "/nodes/pve1/qemu/100/config" })
      const list = await api(sim, { path: "/nodes/pve1/qemu" })
      return {
        resources: resources.json.data.find((row: { vmid: number }) => row.vmid === 100).tags,
        config: config.json.data.tags,
        list: list.json.data.find((row: { vmid: number }) => row.vmid === 100).tags,
        digest: config.json.data.digest as string,
      }
    }
    const before = await tagsIn()
    expect(before).toMatchObject({ resources: "prod;web", config: "prod;web", list: "prod;web" })

    sim.cluster.setGuestTags(100, "prod;web;pci")
    const changed = await tagsIn()
    expect(changed).toMatchObject({ resources: "prod;web;pci", config: "prod;web;pci", list: "prod;web;pci" })
    expect(changed.digest).not.toBe(before.digest)
    expect(sim.cluster.getGuest(100)?.tags).toBe("prod;web;pci")

    sim.cluster.setGuestTags(100, null)
    const removed = await tagsIn()
    expect(removed).toMatchObject({ resources: undefined, config: undefined, list: undefined })
    expect(sim.cluster.getGuest(100)).not.toHaveProperty("tags")
    sim.cluster.setGuestTags(100, "")
    expect(sim.cluster.getGuest(100)).not.toHaveProperty("tags")

    sim.cluster.setGuestTags(100, "prod;web")
    expect(await tagsIn()).toEqual(before)
    expect(() => sim.cluster.setGuestTags(4242, "x")).toThrow(/no guest 4242/)
  })

  it("answers the next free vmid as a string", async () => {
    expect((await api(sim, { path: "/cluster/nextid" })).json).toEqual({ data: "103" })
    expect((await api(sim, { path: "/cluster/nextid?vmid=4242" })).json).toEqual({ data: "4242" })
  })
})

describe("read-only token", () => {
  it("may read", async () => {
    expect((await api(sim, { path: "/nodes/pve1/qemu/100/config", auth: readOnly() })).status).toBe(200)
  })

  it("gets 403 on any write, and nothing happens", async () => {
    const res = await api(sim, { method: "POST", path: "/nodes/pve1/qemu/100/status/stop", auth: readOnly() })
    expect(res).toMatchObject({ status: 403, reason: "Permission check failed (/vms/100, VM.PowerMgmt)" })
    expect(res.json.message).toBe("Permission check failed (/vms/100, VM.PowerMgmt)\n")
    expect(sim.cluster.listTasks().some((task) => task.id === "100" && task.type === "qmstop")).toBe(false)
  })

  it("may not stop somebody else's task", async () => {
    sim.cluster.setTaskDurationMs(5_000)
    const upid = (await api(sim, { method: "POST", path: "/nodes/pve1/qemu/100/status/reboot" })).json
      .data as string
    sim.cluster.setTaskDurationMs(100)
    const path = `/nodes/pve1/tasks/${encodeURIComponent(upid)}`
    const res = await api(sim, { method: "DELETE", path, auth: readOnly() })
    expect(res).toMatchObject({ status: 403, reason: "Permission check failed (/nodes/pve1, Sys.Modify)" })
    await api(sim, { method: "DELETE", path })
  })

  it("reports only audit privileges (and Sys.Syslog) in /access/permissions", async () => {
    const res = await api(sim, { path: "/access/permissions?path=/", auth: readOnly() })
    const privileges = Object.keys(res.json.data["/"])
    expect(privileges).toContain("VM.Audit")
    expect(privileges).toContain("Sys.Syslog")
    expect(privileges.every((privilege) => privilege.endsWith(".Audit") || privilege === "Sys.Syslog")).toBe(
      true,
    )
    const full = await api(sim, { path: "/access/permissions" })
    expect(full.json.data["/"]).toMatchObject({ "VM.PowerMgmt": 1, "Sys.Modify": 1 })
  })
})

describe("quorum", () => {
  it("refuses writes but serves reads without quorum", async () => {
    sim.cluster.setQuorum(false)
    const res = await api(sim, { method: "POST", path: "/nodes/pve1/qemu/102/status/stop" })
    expect(res).toMatchObject({ status: 500, reason: "cluster not ready - no quorum?" })
    const status = await api(sim, { path: "/cluster/status" })
    expect(status.json.data[0]).toMatchObject({ type: "cluster", quorate: 0 })
  })

  it("loses quorum when most nodes are down", async () => {
    sim.cluster.setFault("pve2", { kind: "down" })
    sim.cluster.setFault("pve3", { kind: "down" })
    expect(sim.cluster.isQuorate()).toBe(false)
  })
})

describe("faults", () => {
  it("down: the node's endpoint drops connections, others answer 595 for it", async () => {
    sim.cluster.setFault("pve2", { kind: "down" })
    await expect(api(sim, { path: "/version", node: "pve2" })).rejects.toThrow()
    const proxied = await api(sim, { path: "/nodes/pve2/qemu", node: "pve1" })
    expect(proxied).toMatchObject({ status: 595, reason: "Connection refused" })
    const nodes = await api(sim, { path: "/nodes" })
    expect(nodes.json.data.find((node: { node: string }) => node.node === "pve2")).toMatchObject({
      status: "offline",
    })
    const resources = await api(sim, { path: "/cluster/resources?type=vm" })
    expect(resources.json.data.find((row: { vmid: number }) => row.vmid === 110)).toMatchObject({
      status: "unknown",
    })

    sim.cluster.setFault("pve2", null)
    expect((await api(sim, { path: "/version", node: "pve2" })).status).toBe(200)
  })

  it("down: a task of that node answers 595 through other endpoints", async () => {
    const upid = (await api(sim, { method: "POST", path: "/nodes/pve3/qemu/9000/status/stop" })).json
      .data as string
    sim.cluster.setFault("pve3", { kind: "down" })
    const res = await api(sim, { path: `/nodes/pve3/tasks/${encodeURIComponent(upid)}/status` })
    expect(res.status).toBe(595)
  })

  it("slow: delays requests touching the node only", async () => {
    sim.cluster.setFault("pve3", { kind: "slow", delayMs: 300 })
    let started = Date.now()
    expect((await api(sim, { path: "/nodes/pve3/status", node: "pve1" })).status).toBe(200)
    expect(Date.now() - started).toBeGreaterThanOrEqual(290)
    started = Date.now()
    await api(sim, { path: "/nodes/pve1/status", node: "pve1" })
    expect(Date.now() - started).toBeLessThan(290)
  })

  it("error: answers the status for `count` requests, then recovers", async () => {
    sim.cluster.setFault("pve1", { kind: "error", status: 503, message: "service unavailable", count: 2 })
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await api(sim, { path: "/cluster/resources", node: "pve1" })
      expect(res).toMatchObject({ status: 503, reason: "service unavailable" })
      expect(res.json).toEqual({ data: null, message: "service unavailable\n" })
    }
    expect((await api(sim, { path: "/cluster/resources", node: "pve1" })).status).toBe(200)
    expect(sim.cluster.getFault("pve1")).toBeUndefined()
  })

  it("596: a GET times out; a POST times out but is carried out", async () => {
    sim.cluster.setFault("pve2", { kind: "596" })
    const read = await api(sim, { path: "/nodes/pve2/qemu", node: "pve1" })
    expect(read).toMatchObject({ status: 596, reason: "Connection timed out" })

    expect(sim.cluster.getGuest(210)?.status).toBe("running")
    const write = await api(sim, { method: "POST", path: "/nodes/pve2/lxc/210/status/stop", node: "pve1" })
    expect(write.status).toBe(596)
    sim.cluster.setFault("pve2", null)
    await eventually(async () => (sim.cluster.getGuest(210)?.status === "stopped" ? true : undefined))
  })

  it("lock-timeout: state changes on a guest fail, reads do not", async () => {
    sim.cluster.setFault("pve1", { kind: "lock-timeout", count: 1 })
    expect((await api(sim, { path: "/nodes/pve1/qemu/100/status/current" })).status).toBe(200)
    const res = await api(sim, { method: "POST", path: "/nodes/pve1/qemu/100/status/reset" })
    expect(res).toMatchObject({
      status: 500,
      reason: "can't lock file '/var/lock/qemu-server/lock-100.conf' - got timeout",
    })
    expect((await api(sim, { method: "POST", path: "/nodes/pve1/qemu/100/status/reset" })).status).toBe(200)
  })

  it("task-status-lag: a task just started is 'no such task' for `count` lookups, then found", async () => {
    const start = async (path: string) => {
      const res = await api(sim, { method: "POST", path })
      expect(res.status, res.text).toBe(200)
      return res.json.data as string
    }
    const taskPath = (upid: string, suffix: string) =>
      `/nodes/${upid.split(":")[1]}/tasks/${encodeURIComponent(upid)}${suffix}`
    const older = await start("/nodes/pve1/qemu/100/status/reset")
    sim.cluster.setFault("pve1", { kind: "task-status-lag", count: 2 })
    expect(sim.cluster.getFault("pve1")).toEqual({ kind: "task-status-lag", count: 2 })
    const fresh = await start("/nodes/pve1/qemu/100/status/reset")
    // A QEMU start always starts a task (it fails inside the task when the VM already runs).
    const elsewhere = await start("/nodes/pve2/qemu/110/status/start")

    // Tasks started before the fault, and other nodes' tasks, are found at once.
    expect((await api(sim, { path: taskPath(older, "/status") })).status).toBe(200)
    expect((await api(sim, { path: taskPath(elsewhere, "/status") })).status).toBe(200)

    const status = await api(sim, { path: taskPath(fresh, "/status") })
    expect(status).toMatchObject({ status: 400, reason: "Parameter verification failed." })
    expect(status.json).toEqual({
      data: null,
      message: "Parameter verification failed.\n",
      errors: { upid: "no such task" },
    })
    const log = await api(sim, { path: taskPath(fresh, "/log") })
    expect(log.status).toBe(400)
    expect(log.json.errors).toEqual({ upid: "no such task" })
    expect(sim.cluster.getFault("pve1")).toBeUndefined()

    const found = await api(sim, { path: taskPath(fresh, "/status") })
    expect(found.status).toBe(200)
    expect(found.json.data).toMatchObject({ upid: fresh, type: "qmreset" })

    // A task once found stays found, even under a new lag.
    sim.cluster.setFault("pve1", { kind: "task-status-lag", count: 5 })
    expect((await api(sim, { path: taskPath(fresh, "/log") })).status).toBe(200)
    expect(sim.cluster.getFault("pve1")).toEqual({ kind: "task-status-lag", count: 5 })
  })

  it("records no request for a node that is down", async () => {
    sim.cluster.setFault("pve3", { kind: "down" })
    sim.cluster.clearRequests()
    await expect(api(sim, { path: "/version", node: "pve3" })).rejects.toThrow()
    expect(sim.cluster.requests).toEqual([])
  })
})
