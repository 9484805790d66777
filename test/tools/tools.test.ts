import { Fiber } from "effect"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { builtin, builtinTools as tools } from "../../src/tools/catalog.js"
import { partTwoTools } from "./admin-tools.cases.js"

const entries = builtin.entries

import {
  auditRecords,
  callTool,
  configFor,
  errorOf,
  eventually,
  okData,
  runtimeFor,
  runUnderTestClock,
  startTestCluster,
  type TestRuntime,
} from "../support/cluster.js"
import { part1Names } from "./part1-tools.js"

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

const call = (name: string, args: Record<string, unknown> = {}) => callTool(runtime, name, args).run()

/** A path template matches a recorded (decoded) request path. */
const matches = (template: string, path: string) =>
  new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`).test(path)

describe("every tool calls Proxmox", () => {
  // One valid call per tool against the demo seed. Lifecycle calls pick a guest in the state
  // the action needs, so each one really sends its mutation.
  const cases: Record<string, () => Promise<Record<string, unknown>>> = {
    pve_list_nodes: async () => ({}),
    pve_get_node_status: async () => ({ node: "pve1" }),
    pve_get_node_version: async () => ({ node: "pve2" }),
    pve_get_cluster_status: async () => ({}),
    pve_list_cluster_resources: async () => ({ type: "vm" }),
    pve_get_next_vmid: async () => ({}),
    pve_list_qemu_vms: async () => ({ node: "pve1" }),
    pve_get_qemu_status: async () => ({ vmid: 100 }),
    pve_get_qemu_config: async () => ({ node: "pve1", vmid: 100 }),
    listVMs: async () => ({}),
    pve_start_qemu_vm: async () => ({ vmid: 102, wait: true }),
    pve_stop_qemu_vm: async () => ({ vmid: 102, confirm: true, wait: true }),
    pve_shutdown_qemu_vm: async () => ({ vmid: 101, confirm: true, wait: true }),
    pve_reboot_qemu_vm: async () => ({ vmid: 100, confirm: true, wait: true }),
    pve_reset_qemu_vm: async () => ({ vmid: 100, confirm: true, wait: true }),
    pve_suspend_qemu_vm: async () => ({ vmid: 100, confirm: true, wait: true }),
    pve_resume_qemu_vm: async () => ({ vmid: 100, wait: true }),
    pve_list_lxc_containers: async () => ({ node: "pve2" }),
    pve_get_lxc_status: async () => ({ vmid: 200 }),
    pve_get_lxc_config: async () => ({ vmid: 200 }),
    listContainers: async () => ({ node: "pve1" }),
    pve_stop_lxc_container: async () => ({ vmid: 200, confirm: true, wait: true }),
    pve_start_lxc_container: async () => ({ vmid: 200, wait: true }),
    pve_reboot_lxc_container: async () => ({ vmid: 200, confirm: true, wait: true }),
    pve_suspend_lxc_container: async () => ({ vmid: 210, confirm: true, wait: true }),
    pve_resume_lxc_container: async () => ({ vmid: 210, wait: true }),
    pve_shutdown_lxc_container: async () => ({ vmid: 210, confirm: true, wait: true }),
    pve_list_tasks: async () => ({ node: "pve1", limit: 5 }),
    pve_get_task_status: async () => ({ upid: sim.cluster.listTasks()[0]!.upid }),
    pve_get_task_log: async () => ({ upid: sim.cluster.listTasks()[0]!.upid }),
    pve_wait_task: async () => ({ upid: sim.cluster.listTasks()[0]!.upid, timeoutSeconds: "10" }),
    pve_stop_task: async () => {
      const started = okData(await call("pve_start_qemu_vm", { vmid: 120 })) as { upid: string }
      return { upid: started.upid, confirm: true }
    },
    pve_list_storage: async () => ({}),
    pve_list_node_storage: async () => ({ node: "pve3" }),
    pve_get_storage_status: async () => ({ node: "pve1", storage: "local" }),
  }

  it("has a case for every declared tool (part 1's are in part1.test.ts, part 2's in admin-tools.test.ts)", () => {
    const partTwo = new Set<string>(partTwoTools.map((t) => t.name))
    // The remote tools run over SSH: test/ssh/remote-tools.test.ts calls each against a real sshd.
    expect(Object.keys(cases).sort()).toEqual(
      tools
        .filter((t) => t.category !== "remote")
        .map((t) => t.name)
        .filter((name) => !partTwo.has(name) && !part1Names.has(name))
        .sort(),
    )
  })

  for (const [name, argsOf] of Object.entries(cases)) {
    it(name, async () => {
      const args = await argsOf()
      sim.cluster.clearRequests()
      const envelope = await call(name, args)
      okData(envelope)
      // The last declared endpoint is the one the tool exists for (earlier ones are look-ups
      // that a cache may answer, such as the status read before a lifecycle action).
      const tool = tools.find((t) => t.name === name)!
      const endpoint = tool.endpoints.at(-1)!
      expect(
        sim.cluster.requests.some(
          (r) => r.method === endpoint.method && matches(endpoint.path, r.path) && r.status === 200,
        ),
        `${endpoint.method} ${endpoint.path} was sent`,
      ).toBe(true)
    })
  }

  it("aliases run their canonical tool", async () => {
    const aliasNames = entries.filter((e) => e.aliasFor !== undefined).map((e) => e.name)
    expect(aliasNames).toEqual(
      expect.arrayContaining([
        "listNodes",
        "getNodeStatus",
        "getVMStatus",
        "getContainerStatus",
        "startVM",
        "stopVM",
      ]),
    )
    expect(okData(await call("getVMStatus", { vmid: 101 }))).toMatchObject({ vmid: 101 })
    expect(okData(await call("listNodes"))).toHaveLength(3)
  })
})

describe("lifecycle", () => {
  it("starts a stopped VM and waits for the task: exit status OK, progress reported", async () => {
    sim.cluster.addGuest({ vmid: 5001, type: "qemu", node: "pve3", name: "lifecycle", status: "stopped" })
    const { run, progress } = callTool(runtime, "pve_start_qemu_vm", { vmid: 5001, wait: true })
    const envelope = await run()
    expect(okData(envelope)).toMatchObject({
      node: "pve3",
      status: "stopped",
      exitstatus: "OK",
      success: true,
      warnings: 0,
      // `status` is the task's; the guest's own state is read after the task.
      guestStatus: "running",
    })
    expect((okData(envelope) as { logTail: Array<string> }).logTail.at(-1)).toBe("TASK OK")
    expect(envelope.meta).toMatchObject({ node: "pve3" })
    expect(envelope.meta.upid).toMatch(/^UPID:pve3:/)
    expect(progress.at(-1)?.message).toBe("task OK")
    expect(sim.cluster.getGuest(5001)?.status).toBe("running")
  })

  it("a suspended VM's guestStatus is paused, a stopped one's stopped", async () => {
    sim.cluster.addGuest({ vmid: 5090, type: "qemu", node: "pve2", name: "pausing", status: "running" })
    const suspended = await call("pve_suspend_qemu_vm", { vmid: 5090, confirm: true, wait: true })
    expect(okData(suspended)).toMatchObject({ status: "stopped", exitstatus: "OK", guestStatus: "paused" })
    const stopped = await call("pve_stop_qemu_vm", { vmid: 5090, confirm: true, wait: true })
    expect(okData(stopped)).toMatchObject({ status: "stopped", guestStatus: "stopped" })
  })

  it("reports alreadyInState and sends no mutation", async () => {
    sim.cluster.addGuest({ vmid: 5007, type: "qemu", node: "pve1", name: "already", status: "running" })
    sim.cluster.clearRequests()
    const envelope = await call("pve_start_qemu_vm", { vmid: 5007 })
    expect(okData(envelope)).toMatchObject({ alreadyInState: true, status: "running" })
    expect(sim.cluster.requests.filter((r) => r.method !== "GET")).toHaveLength(0)
  })

  it("a task that ends in error is TASK_FAILED with the log tail", async () => {
    sim.cluster.addGuest({ vmid: 5002, type: "qemu", node: "pve1", name: "failing", status: "stopped" })
    sim.cluster.setNextTaskOutcome("start failed: out of memory")
    const error = errorOf(await call("pve_start_qemu_vm", { vmid: 5002, wait: true }))
    expect(error.code).toBe("TASK_FAILED")
    expect(error.details).toMatchObject({ exitstatus: "start failed: out of memory", success: false })
    expect(String((error.details as { logTail: Array<string> }).logTail.at(-1))).toContain("TASK ERROR")
  })

  it("a task PVE does not know yet right after dispatch is waited for, not failed", async () => {
    sim.cluster.addGuest({ vmid: 5011, type: "qemu", node: "pve3", name: "lagging", status: "stopped" })
    sim.cluster.setFault("pve3", { kind: "task-status-lag", count: 2 })
    try {
      expect(okData(await call("pve_start_qemu_vm", { vmid: 5011, wait: true }))).toMatchObject({
        exitstatus: "OK",
      })
      const lookups = sim.cluster.requests.filter(
        (r) => r.path.includes("/tasks/") && r.path.endsWith("/status"),
      )
      expect(lookups.slice(0, 2).map((r) => r.status)).toEqual([400, 400])
    } finally {
      sim.cluster.setFault("pve3", null)
    }
  })

  it("WARNINGS: N is success with warnings", async () => {
    sim.cluster.addGuest({ vmid: 5003, type: "lxc", node: "pve2", name: "warned", status: "stopped" })
    sim.cluster.setNextTaskOutcome("WARNINGS: 2")
    expect(okData(await call("pve_start_lxc_container", { vmid: 5003, wait: true }))).toMatchObject({
      success: true,
      warnings: 2,
    })
  })

  it("without wait returns the UPID at once", async () => {
    sim.cluster.addGuest({ vmid: 5004, type: "qemu", node: "pve2", name: "nowait", status: "stopped" })
    const data = okData(await call("pve_start_qemu_vm", { vmid: 5004 })) as { upid: string; node: string }
    expect(data.node).toBe("pve2")
    expect(data.upid).toMatch(/^UPID:pve2:.*:qmstart:5004:/)
  })

  it("a wait that runs out is TIMEOUT with the upid, and pve_wait_task continues it", async () => {
    sim.cluster.addGuest({ vmid: 5005, type: "qemu", node: "pve2", name: "slowtask", status: "stopped" })
    sim.cluster.setTaskDurationMs(1_000)
    try {
      // The wait's one second passes on a TestClock, long before the task's real second is over.
      const { program } = callTool(runtime, "pve_start_qemu_vm", {
        vmid: 5005,
        wait: true,
        timeoutSeconds: 1,
      })
      const error = errorOf(await runUnderTestClock(runtime, program))
      expect(error.code).toBe("TIMEOUT")
      expect(sim.cluster.listTasks().find((t) => t.id === "5005")?.status).toBe("running")
      expect(error.hint).toMatch(/pve_wait_task/)
      const upid = String((error.details as { upid: string }).upid)
      expect(upid).toMatch(/^UPID:pve2:/)
      const { run, progress } = callTool(runtime, "pve_wait_task", { upid })
      expect(okData(await run())).toMatchObject({ upid, exitstatus: "OK", success: true })
      expect(progress.at(-1)?.message).toBe("task OK")
      expect(sim.cluster.getGuest(5005)?.status).toBe("running")
    } finally {
      sim.cluster.setTaskDurationMs(150)
    }
  })

  it("cancelling a wait stops the task it started", async () => {
    sim.cluster.addGuest({ vmid: 5006, type: "qemu", node: "pve1", name: "cancelme", status: "stopped" })
    sim.cluster.setTaskDurationMs(5_000)
    try {
      const { program } = callTool(runtime, "pve_start_qemu_vm", { vmid: 5006, wait: true })
      const fiber = runtime.runFork(program)
      await eventually(() => sim.cluster.listTasks().some((t) => t.id === "5006" && t.status === "running"))
      await runtime.runPromise(Fiber.interrupt(fiber))
      const task = sim.cluster.listTasks().find((t) => t.id === "5006")!
      expect(task.stoppedByDelete).toBe(true)
      expect(sim.cluster.getGuest(5006)?.status).toBe("stopped")
      expect(
        sim.cluster.requests.some(
          (r) => r.method === "DELETE" && r.path === `/nodes/pve1/tasks/${task.upid}`,
        ),
      ).toBe(true)
    } finally {
      sim.cluster.setTaskDurationMs(150)
    }
  })

  it("cancelling while the start request is in flight still stops the task it started", async () => {
    sim.cluster.addGuest({ vmid: 5008, type: "qemu", node: "pve3", name: "inflight", status: "stopped" })
    sim.cluster.setTaskDurationMs(5_000)
    const { program } = callTool(runtime, "pve_start_qemu_vm", { vmid: 5008 })
    try {
      // Warm the look-ups, then slow the node so the POST is caught in flight.
      okData(await call("pve_get_qemu_status", { vmid: 5008 }))
      sim.cluster.setFault("pve3", { kind: "slow", delayMs: 600 })
      const fiber = runtime.runFork(program)
      await eventually(() =>
        sim.cluster.requests.some((r) => r.method === "POST" && r.path.endsWith("/5008/status/start")),
      )
      await runtime.runPromise(Fiber.interrupt(fiber))
      sim.cluster.setFault("pve3", null)
      const task = sim.cluster.listTasks().find((t) => t.id === "5008")
      expect(task?.stoppedByDelete).toBe(true)
      expect(sim.cluster.getGuest(5008)?.status).toBe("stopped")
      const completed = auditRecords(runtime).filter(
        (r) => r.event === "tool.completed" && r.target?.vmid === 5008,
      )
      expect(completed[0]?.outcome).toEqual({ ok: false, code: "CANCELLED" })
      expect(completed[0]?.upstream?.some((u) => u.method === "POST" && u.upid === task?.upid)).toBe(true)
    } finally {
      sim.cluster.setFault("pve3", null)
      sim.cluster.setTaskDurationMs(150)
    }
  })

  it("losing contact while waiting keeps the task's UPID in the error", async () => {
    sim.cluster.addGuest({ vmid: 5009, type: "qemu", node: "pve2", name: "lost", status: "stopped" })
    sim.cluster.setTaskDurationMs(3_000)
    try {
      const { run } = callTool(runtime, "pve_start_qemu_vm", { vmid: 5009, wait: true })
      const pending = run()
      await eventually(() => sim.cluster.listTasks().some((t) => t.id === "5009" && t.status === "running"))
      sim.cluster.setFault("pve2", { kind: "error", status: 500, message: "simulated daemon crash" })
      const envelope = await pending
      const error = errorOf(envelope)
      expect(error.details).toMatchObject({
        upid: expect.stringMatching(/^UPID:pve2:.*:5009:/),
        node: "pve2",
      })
      expect(error.hint).toMatch(/still be running/)
      expect(envelope.meta).toMatchObject({ node: "pve2", upid: expect.stringMatching(/^UPID:pve2:/) })
    } finally {
      sim.cluster.setFault("pve2", null)
      sim.cluster.setTaskDurationMs(150)
    }
  })

  it("a confirm tool without confirm: true is CONFIRMATION_REQUIRED and sends nothing", async () => {
    const error = errorOf(await call("pve_stop_qemu_vm", { vmid: 100 }))
    expect(error).toMatchObject({ code: "CONFIRMATION_REQUIRED" })
    expect(error.hint).toMatch(/confirm: true/)
    expect(error.impact).toMatch(/powered off/)
    expect(sim.cluster.requests).toHaveLength(0)
  })
})

describe("addressing", () => {
  it("an unknown node is UNKNOWN_NODE listing the known nodes", async () => {
    const error = errorOf(await call("pve_get_node_status", { node: "pve9" }))
    expect(error).toMatchObject({
      code: "UNKNOWN_NODE",
      details: { node: "pve9", knownNodes: ["pve1", "pve2", "pve3"] },
    })
  })

  it("finds a guest by vmid alone after it moved to another node", async () => {
    sim.cluster.addGuest({ vmid: 5010, type: "qemu", node: "pve1", name: "mover", status: "running" })
    const before = await call("pve_get_qemu_status", { vmid: 5010 })
    expect(before.meta.node).toBe("pve1")
    sim.cluster.migrateGuest(5010, "pve3")
    // The cached location is stale now: the request to pve1 fails, and the resolver refreshes on a miss.
    const after = await call("pve_get_qemu_status", { vmid: 5010 })
    expect(after.meta.node).toBe("pve3")
    expect(okData(after)).toMatchObject({ vmid: 5010 })
  })

  it("a failed look-up is not cached", async () => {
    sim.cluster.setFault("pve1", { kind: "error", status: 500, message: "simulated outage", count: 20 })
    sim.cluster.setFault("pve2", { kind: "error", status: 500, message: "simulated outage", count: 20 })
    sim.cluster.setFault("pve3", { kind: "error", status: 500, message: "simulated outage", count: 20 })
    const failed = await call("pve_get_lxc_status", { vmid: 4343 })
    expect(errorOf(failed).code).toBe("PROXMOX_SERVER_ERROR")
    for (const node of sim.nodes) sim.cluster.setFault(node, null)
    expect(errorOf(await call("pve_get_lxc_status", { vmid: 4343 })).code).toBe("GUEST_NOT_FOUND")
  })

  it("a UPID naming a node that does not exist is UNKNOWN_NODE", async () => {
    const error = errorOf(
      await call("pve_get_task_status", {
        upid: "UPID:pve9:000CFC5C:03E8D0C3:6194806C:qmstart:100:root@pam:",
      }),
    )
    expect(error).toMatchObject({ code: "UNKNOWN_NODE", details: { knownNodes: ["pve1", "pve2", "pve3"] } })
  })

  it("a vmid that exists nowhere is GUEST_NOT_FOUND", async () => {
    expect(errorOf(await call("pve_get_lxc_status", { vmid: 4242 }))).toMatchObject({
      code: "GUEST_NOT_FOUND",
    })
  })

  it.each([
    ["pve_get_node_status", { node: ".." }, "node"],
    ["pve_get_node_status", { node: "pve1/../.." }, "node"],
    ["pve_get_node_status", { node: "%2F" }, "node"],
    ["pve_get_storage_status", { node: "pve1", storage: ".." }, "storage"],
    ["pve_get_storage_status", { node: "pve1", storage: "local/../x" }, "storage"],
    ["pve_get_storage_status", { node: "pve1", storage: "local%2F.." }, "storage"],
    ["pve_get_task_status", { upid: "UPID:pve1:../../x:" }, "upid"],
    ["pve_get_qemu_status", { vmid: "100/../101" }, "vmid"],
    ["pve_get_qemu_status", { vmid: 99 }, "vmid"],
    ["pve_get_qemu_status", { vmid: 100, extra: 1 }, "extra"],
  ])("%s %j is INVALID_INPUT naming %s, nothing sent", async (name, args, field) => {
    const error = errorOf(await call(name, args))
    expect(error).toMatchObject({ code: "INVALID_INPUT", details: { field } })
    expect(sim.cluster.requests).toHaveLength(0)
  })

  it("pages lists and cuts a result over the size limit, saying so", async () => {
    const all = okData(await call("pve_list_cluster_resources")) as Array<unknown>
    const paged = okData(await call("pve_list_cluster_resources", { offset: 1, limit: 2 })) as Array<unknown>
    expect(paged).toEqual(all.slice(1, 3))
    const cut = await callTool(runtime, "pve_list_cluster_resources", {}, { maxResultBytes: 1024 }).run()
    expect(cut.meta.truncated).toBe(true)
    expect(cut.meta.warnings?.at(-1)).toMatch(/narrow the query/)
    expect((okData(cut) as Array<unknown>).length).toBeLessThan(all.length)
    expect(JSON.stringify(okData(cut)).length).toBeLessThanOrEqual(1024)
  })

  it("accepts numeric strings for integers", async () => {
    expect(okData(await call("pve_get_qemu_status", { vmid: "101" }))).toMatchObject({ vmid: 101 })
  })

  it("the legacy list covers every node and reports a node that does not answer", async () => {
    sim.cluster.setFault("pve2", { kind: "error", status: 500, message: "simulated failure" })
    try {
      const envelope = await call("listVMs")
      const vms = okData(envelope) as Array<{ node: string }>
      expect(new Set(vms.map((v) => v.node))).toEqual(new Set(["pve1", "pve3"]))
      expect(envelope.meta.warnings?.[0]).toMatch(/pve2/)
    } finally {
      sim.cluster.setFault("pve2", null)
    }
  })
})
