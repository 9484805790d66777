// Guest power actions and the worker tasks they start: UPIDs, status, logs, outcomes and stopping.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { type RunningSimulator, startSimulator } from "../../src/simulator/index.js"
import { api, eventually } from "./helpers.js"

const UPID_RE =
  /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-F]{8}):([0-9A-F]{8,9}):([0-9A-F]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$/
const TASK_MS = 150

let sim: RunningSimulator

beforeAll(async () => {
  sim = await startSimulator({ taskDurationMs: TASK_MS })
})
afterAll(() => sim.close())
beforeEach(() => sim.cluster.setTaskDurationMs(TASK_MS))

const taskPath = (upid: string, suffix = "") =>
  `/nodes/${upid.split(":")[1]}/tasks/${encodeURIComponent(upid)}${suffix}`

const post = async (path: string) => {
  const res = await api(sim, { method: "POST", path })
  expect(res.status, res.text).toBe(200)
  return res.json.data as string
}

const taskStatus = async (upid: string) => (await api(sim, { path: taskPath(upid, "/status") })).json.data

const waitStopped = (upid: string) =>
  eventually(async () => {
    const status = await taskStatus(upid)
    return status.status === "stopped" ? status : undefined
  })

const logLines = async (upid: string) =>
  (await api(sim, { path: taskPath(upid, "/log") })).json.data.map((line: { t: string }) => line.t)

describe("QEMU start task", () => {
  it("runs, stops with OK and leaves the VM running", async () => {
    expect(sim.cluster.getGuest(102)?.status).toBe("stopped")
    const upid = await post("/nodes/pve1/qemu/102/status/start")
    expect(upid).toMatch(UPID_RE)
    expect(upid.split(":").slice(5, 8)).toEqual(["qmstart", "102", "root@pam!mcp"])

    const running = await taskStatus(upid)
    expect(running).toMatchObject({ upid, node: "pve1", type: "qmstart", id: "102", status: "running" })
    expect(running).not.toHaveProperty("exitstatus")
    expect(running).toMatchObject({ user: "root@pam", tokenid: "mcp" })
    expect(sim.cluster.getGuest(102)?.status).toBe("stopped")

    const stopped = await waitStopped(upid)
    expect(stopped).toMatchObject({ status: "stopped", exitstatus: "OK" })
    expect(stopped).not.toHaveProperty("endtime")
    expect(sim.cluster.getGuest(102)?.status).toBe("running")
    expect(await logLines(upid)).toEqual(["TASK OK"])

    const current = await api(sim, { path: "/nodes/pve1/qemu/102/status/current" })
    expect(current.json.data).toMatchObject({ status: "running", qmpstatus: "running", vmid: 102 })
  })

  it("fails inside the task when the VM is already running", async () => {
    const upid = await post("/nodes/pve1/qemu/100/status/start")
    expect(await waitStopped(upid)).toMatchObject({ exitstatus: "VM 100 already running" })
    expect(await logLines(upid)).toEqual(["TASK ERROR: VM 100 already running"])
  })

  it("lists finished tasks newest first with endtime, status and total", async () => {
    const res = await api(sim, { path: "/nodes/pve1/tasks?typefilter=qmstart&limit=1" })
    expect(res.json.total).toBeGreaterThanOrEqual(2)
    expect(res.json.data).toHaveLength(1)
    expect(res.json.data[0]).toMatchObject({
      type: "qmstart",
      id: "100",
      status: "VM 100 already running",
      endtime: expect.any(Number),
    })
    const errors = await api(sim, { path: "/nodes/pve1/tasks?errors=1" })
    expect(errors.json.data.every((task: { status: string }) => task.status !== "OK")).toBe(true)
    const byVmid = await api(sim, { path: "/nodes/pve1/tasks?vmid=102" })
    expect(byVmid.json.data.map((task: { id: string }) => task.id)).toEqual(["102"])
  })

  it("lists running tasks only with source=active or all", async () => {
    sim.cluster.setTaskDurationMs(5_000)
    const upid = await post("/nodes/pve1/qemu/101/status/shutdown")
    const archive = await api(sim, { path: "/nodes/pve1/tasks" })
    expect(archive.json.data.map((task: { upid: string }) => task.upid)).not.toContain(upid)
    const active = await api(sim, { path: "/nodes/pve1/tasks?source=active" })
    expect(active.json.data).toEqual([expect.objectContaining({ upid, status: "RUNNING" })])
    await api(sim, { method: "DELETE", path: taskPath(upid) })
  })
})

describe("stopping a task", () => {
  it("ends it with 'unexpected status' and leaves the guest as it was", async () => {
    sim.cluster.setTaskDurationMs(5_000)
    const upid = await post("/nodes/pve2/qemu/110/status/start")
    const deleted = await api(sim, { method: "DELETE", path: taskPath(upid) })
    expect(deleted.status).toBe(200)
    expect(deleted.json).toEqual({ data: null })

    expect(await taskStatus(upid)).toMatchObject({ status: "stopped", exitstatus: "unexpected status" })
    expect((await logLines(upid)).at(-1)).toBe("TASK ERROR: interrupted by signal")
    expect(sim.cluster.getTask(upid)).toMatchObject({ stoppedByDelete: true, status: "stopped" })
    expect(sim.cluster.getGuest(110)?.status).toBe("stopped")
  })

  it("runs a queued task on the same guest after the stopped one", async () => {
    sim.cluster.setTaskDurationMs(5_000)
    const first = await post("/nodes/pve2/qemu/110/status/start")
    const second = await post("/nodes/pve2/qemu/110/status/start")
    sim.cluster.setTaskDurationMs(TASK_MS)
    await api(sim, { method: "DELETE", path: taskPath(first) })
    expect(await waitStopped(second)).toMatchObject({ exitstatus: "OK" })
    expect(sim.cluster.getGuest(110)?.status).toBe("running")
  })
})

describe("task outcomes", () => {
  it("applies WARNINGS as success", async () => {
    sim.cluster.setNextTaskOutcome("WARNINGS: 2")
    const upid = await post("/nodes/pve1/qemu/102/status/suspend")
    expect(await waitStopped(upid)).toMatchObject({ exitstatus: "WARNINGS: 2" })
    expect((await logLines(upid)).at(-1)).toBe("TASK WARNINGS: 2")
    expect(sim.cluster.getGuest(102)?.status).toBe("paused")
    const current = await api(sim, { path: "/nodes/pve1/qemu/102/status/current" })
    expect(current.json.data).toMatchObject({ status: "running", qmpstatus: "paused" })
  })

  it("fails with an injected error and changes nothing; the next task is OK again", async () => {
    sim.cluster.setNextTaskOutcome("some error")
    const failed = await post("/nodes/pve1/qemu/102/status/resume")
    expect(await waitStopped(failed)).toMatchObject({ exitstatus: "some error" })
    expect(sim.cluster.getGuest(102)?.status).toBe("paused")
    const ok = await post("/nodes/pve1/qemu/102/status/resume")
    expect(await waitStopped(ok)).toMatchObject({ exitstatus: "OK" })
    expect(sim.cluster.getGuest(102)?.status).toBe("running")
  })
})

describe("wrong-state calls that fail at once", () => {
  it("refuses reboot/reset/suspend/resume of a stopped VM", async () => {
    for (const action of ["reboot", "reset", "suspend", "resume"]) {
      const res = await api(sim, { method: "POST", path: `/nodes/pve3/qemu/120/status/${action}` })
      expect(res).toMatchObject({ status: 500, reason: "VM 120 not running" })
    }
  })

  it("refuses to start a running container and to stop a stopped one", async () => {
    const start = await api(sim, { method: "POST", path: "/nodes/pve1/lxc/200/status/start" })
    expect(start).toMatchObject({ status: 500, reason: "CT 200 already running" })
    sim.cluster.addGuest({ vmid: 201, type: "lxc", node: "pve1", name: "scratch" })
    const stop = await api(sim, { method: "POST", path: "/nodes/pve1/lxc/201/status/stop" })
    expect(stop).toMatchObject({ status: 500, reason: "CT 201 not running" })
  })

  it("has no reset for containers", async () => {
    const res = await api(sim, { method: "POST", path: "/nodes/pve1/lxc/200/status/reset" })
    expect(res.status).toBe(501)
  })

  it("refuses a locked guest", async () => {
    sim.cluster.setGuestLock(120, "backup")
    const res = await api(sim, { method: "POST", path: "/nodes/pve3/qemu/120/status/start" })
    expect(res).toMatchObject({ status: 500, reason: "VM is locked (backup)" })
    const current = await api(sim, { path: "/nodes/pve3/qemu/120/status/current" })
    expect(current.json.data.lock).toBe("backup")
    sim.cluster.setGuestLock(120, null)
  })
})

describe("container tasks", () => {
  it("shuts a container down with a vzshutdown task", async () => {
    const upid = await post("/nodes/pve2/lxc/210/status/shutdown")
    expect(upid.split(":")[5]).toBe("vzshutdown")
    await waitStopped(upid)
    const current = await api(sim, { path: "/nodes/pve2/lxc/210/status/current" })
    expect(current.json.data).toMatchObject({ status: "stopped", vmid: "210" })
  })
})

describe("task status errors", () => {
  it("rejects a malformed UPID and an unknown one", async () => {
    const malformed = await api(sim, { path: "/nodes/pve1/tasks/not-a-upid/status" })
    expect(malformed.status).toBe(400)
    expect(malformed.json.errors).toEqual({ upid: "unable to parse worker upid" })
    const unknown = "UPID:pve1:00001234:00001234:65000000:qmstart:100:root@pam:"
    const res = await api(sim, { path: taskPath(unknown, "/status") })
    expect(res.status).toBe(400)
    expect(res.json.errors).toEqual({ upid: "no such task" })
  })

  it("does not know another node's task, but any endpoint serves the right node's path", async () => {
    const upid = await post("/nodes/pve1/qemu/100/status/reboot")
    const wrongNode = await api(sim, { path: `/nodes/pve2/tasks/${encodeURIComponent(upid)}/status` })
    expect(wrongNode.json.errors).toEqual({ upid: "no such task" })
    const viaPve3 = await api(sim, { path: taskPath(upid, "/status"), node: "pve3" })
    expect(viaPve3.json.data.upid).toBe(upid)
  })

  it("pages the log with start and limit and reports the total", async () => {
    sim.cluster.setNextTaskOutcome("WARNINGS: 3")
    const upid = await post("/nodes/pve1/qemu/100/status/reset")
    await waitStopped(upid)
    const page = await api(sim, { path: taskPath(upid, "/log?start=1&limit=2") })
    expect(page.json).toEqual({
      data: [
        { n: 2, t: "WARN: simulated warning 2" },
        { n: 3, t: "WARN: simulated warning 3" },
      ],
      total: 4,
    })
  })
})
