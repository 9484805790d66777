import { Effect, Fiber } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { MemoryAuditRecords } from "../../src/audit/memory.js"
import type { ConfirmationAnswer, ConfirmationRequest } from "../../src/policy/policy.js"
import { DEFAULT_POLICY, type PolicySettings } from "../../src/policy/settings.js"
import type { RunningSimulator } from "../../src/simulator/index.js"
import {
  auditRecords,
  callTool,
  configFor,
  errorOf,
  okData,
  runtimeFor,
  startTestCluster,
  TEST_POLICY,
  type TestRuntime,
} from "../support/cluster.js"

let sim: RunningSimulator
const runtimes: Array<TestRuntime> = []

const runtimeWith = (policy: Partial<PolicySettings>) => {
  const runtime = runtimeFor(configFor(sim), { ...TEST_POLICY, ...policy })
  runtimes.push(runtime)
  return runtime
}

beforeAll(async () => {
  sim = await startTestCluster()
})
afterAll(async () => {
  for (const runtime of runtimes) await runtime.dispose()
  await sim.close()
})

const mutations = () => sim.cluster.requests.filter((r) => r.method !== "GET")

describe("protected guests", () => {
  it("a protected vmid cannot be stopped under tier full even with confirm: true", async () => {
    const runtime = runtimeWith({ protectedVmids: [{ from: 100, to: 101 }] })
    sim.cluster.clearRequests()
    const error = errorOf(await callTool(runtime, "pve_stop_qemu_vm", { vmid: 101, confirm: true }).run())
    expect(error).toMatchObject({
      code: "PROTECTED_GUEST",
      details: { rule: "PVE_PROTECTED_VMIDS", vmid: 101 },
    })
    expect(errorOf(await callTool(runtime, "stopVM", { vmid: 100, confirm: true }).run()).code).toBe(
      "PROTECTED_GUEST",
    )
    expect(mutations()).toHaveLength(0)
    expect(sim.cluster.getGuest(101)?.status).toBe("running")
    // Reads still work on a protected guest.
    okData(await callTool(runtime, "pve_get_qemu_status", { vmid: 101 }).run())
  })

  it("a protected tag (any case) blocks state-changing tools, read fresh", async () => {
    const runtime = runtimeWith({ protectedTags: new Set(["prod"]) })
    sim.cluster.addGuest({ vmid: 6001, type: "lxc", node: "pve2", name: "db", status: "running", tags: "db" })
    // Warm the location cache while the guest is not protected, then tag it: the tag must count
    // at once, not when the cache expires.
    okData(await callTool(runtime, "pve_get_lxc_status", { vmid: 6001 }).run())
    sim.cluster.setGuestTags(6001, "PROD;db")
    sim.cluster.clearRequests()
    const error = errorOf(
      await callTool(runtime, "pve_stop_lxc_container", { vmid: 6001, confirm: true }).run(),
    )
    expect(error).toMatchObject({
      code: "PROTECTED_GUEST",
      details: { rule: "PVE_PROTECTED_TAGS", tag: "PROD" },
    })
    expect(mutations()).toHaveLength(0)
    expect(sim.cluster.getGuest(6001)?.status).toBe("running")
  })

  it("stopping a task of a protected guest is refused", async () => {
    const runtime = runtimeWith({ protectedVmids: [{ from: 6002, to: 6002 }] })
    sim.cluster.addGuest({ vmid: 6002, type: "qemu", node: "pve1", name: "p", status: "stopped" })
    sim.cluster.setTaskDurationMs(5_000)
    try {
      // Started outside the protection (another operator), then an agent tries to stop it.
      const started = okData(await callTool(runtimeWith({}), "pve_start_qemu_vm", { vmid: 6002 }).run()) as {
        upid: string
      }
      const error = errorOf(
        await callTool(runtime, "pve_stop_task", { upid: started.upid, confirm: true }).run(),
      )
      expect(error.code).toBe("PROTECTED_GUEST")
    } finally {
      sim.cluster.setTaskDurationMs(150)
    }
  })
})

describe("confirmation", () => {
  const asking =
    (answer: ConfirmationAnswer, asked: Array<ConfirmationRequest>) => (request: ConfirmationRequest) =>
      Effect.sync(() => {
        asked.push(request)
        return answer
      })

  it.each([
    ["accept", "stopped"],
    ["decline", "running"],
    ["cancel", "running"],
  ] as const)("elicitation %s: the guest ends %s", async (answer, finalStatus) => {
    const runtime = runtimeWith({ confirmMode: "auto" })
    const vmid = 6100 + ["accept", "decline", "cancel"].indexOf(answer)
    sim.cluster.addGuest({ vmid, type: "qemu", node: "pve3", name: `elicit-${answer}`, status: "running" })
    sim.cluster.clearRequests()
    const asked: Array<ConfirmationRequest> = []
    const envelope = await callTool(
      runtime,
      "pve_stop_qemu_vm",
      { vmid, wait: true },
      { elicit: asking(answer, asked) },
    ).run()
    expect(asked).toHaveLength(1)
    expect(asked[0]!.message).toContain(`VM ${vmid}`)
    expect(asked[0]!.message).toContain("node pve3")
    expect(asked[0]!.message).toMatch(/Impact: /)
    if (answer === "accept") {
      okData(envelope)
    } else {
      expect(errorOf(envelope)).toMatchObject({ code: "CONFIRMATION_DECLINED", details: { answer } })
      expect(mutations()).toHaveLength(0)
    }
    expect(sim.cluster.getGuest(vmid)?.status).toBe(finalStatus)
  })

  it("with elicitation, confirm: true does not replace the human", async () => {
    const runtime = runtimeWith({ confirmMode: "elicit" })
    sim.cluster.addGuest({ vmid: 6110, type: "qemu", node: "pve1", name: "x", status: "running" })
    const asked: Array<ConfirmationRequest> = []
    const envelope = await callTool(
      runtime,
      "pve_stop_qemu_vm",
      { vmid: 6110, confirm: true },
      { elicit: asking("decline", asked) },
    ).run()
    expect(asked).toHaveLength(1)
    expect(errorOf(envelope).code).toBe("CONFIRMATION_DECLINED")
  })

  it("auto without elicitation falls back to confirm: true", async () => {
    const runtime = runtimeWith({ confirmMode: "auto" })
    sim.cluster.addGuest({ vmid: 6111, type: "qemu", node: "pve1", name: "x", status: "running" })
    expect(errorOf(await callTool(runtime, "pve_stop_qemu_vm", { vmid: 6111 }).run()).code).toBe(
      "CONFIRMATION_REQUIRED",
    )
    okData(await callTool(runtime, "pve_stop_qemu_vm", { vmid: 6111, confirm: true }).run())
  })

  it("elicit mode without elicitation is CONFIRMATION_REQUIRED with a hint, even with confirm: true", async () => {
    const runtime = runtimeWith({ confirmMode: "elicit" })
    const error = errorOf(await callTool(runtime, "pve_stop_qemu_vm", { vmid: 100, confirm: true }).run())
    expect(error.code).toBe("CONFIRMATION_REQUIRED")
    expect(error.hint).toMatch(/PVE_CONFIRM_MODE=argument/)
    expect(error.impact).toBeTruthy()
  })

  it("the confirmation text never carries control characters from Proxmox names", async () => {
    const runtime = runtimeWith({ confirmMode: "auto" })
    sim.cluster.addGuest({
      vmid: 6112,
      type: "qemu",
      node: "pve1",
      name: "evil\u001b[2J\nname",
      status: "running",
    })
    const asked: Array<ConfirmationRequest> = []
    await callTool(runtime, "pve_stop_qemu_vm", { vmid: 6112 }, { elicit: asking("decline", asked) }).run()
    expect(asked[0]!.message.includes("\u001b")).toBe(false)
    expect(asked[0]!.message.split("\n")[0]).toContain("evil[2Jname")
  })
})

describe("the confirmation text", () => {
  it("drops bidirectional and zero-width formatting characters from names Proxmox returns", async () => {
    const runtime = runtimeWith({ confirmMode: "auto" })
    // U+202E would show "evil-gpj.exe" as "evil-exe.jpg"; U+200B hides inside a name.
    sim.cluster.addGuest({
      vmid: 6150,
      type: "qemu",
      node: "pve3",
      name: "db\u202Eevil\u2066x\u200By\u200F",
      status: "running",
    })
    const asked: Array<ConfirmationRequest> = []
    await callTool(
      runtime,
      "pve_stop_qemu_vm",
      { vmid: 6150 },
      {
        elicit: (request) =>
          Effect.sync(() => {
            asked.push(request)
            return "decline" as const
          }),
      },
    ).run()
    expect(asked[0]!.message).toContain('"dbevilxy"')
    expect(asked[0]!.message).not.toMatch(/[\u200B-\u200F\u202A-\u202E\u2066-\u2069\uFEFF\u061C]/)
  })

  it("a call cancelled while the human is being asked is audited as not confirmed, not allowed", async () => {
    const runtime = runtimeWith({ confirmMode: "auto" })
    sim.cluster.addGuest({ vmid: 6151, type: "qemu", node: "pve3", name: "asking", status: "running" })
    let asked = false
    const { program } = callTool(
      runtime,
      "pve_stop_qemu_vm",
      { vmid: 6151 },
      {
        // The human never answers; the client cancels the call meanwhile.
        elicit: () =>
          Effect.suspend(() => {
            asked = true
            return Effect.never
          }),
      },
    )
    const fiber = runtime.runFork(program)
    // Cancelled once the question is out (a fixed wait was too short on a busy machine).
    for (let tries = 0; tries < 1_000 && !asked; tries++)
      await new Promise((resolve) => setTimeout(resolve, 10))
    expect(asked).toBe(true)
    await runtime.runPromise(Fiber.interrupt(fiber))
    const records = auditRecords(runtime).filter((r) => r.target?.vmid === 6151)
    expect(records).toHaveLength(1)
    expect(records[0]).toMatchObject({
      event: "policy.denied",
      decision: "declined",
      rule: "confirmation",
      outcome: { ok: false, code: "CANCELLED" },
    })
    expect(sim.cluster.getGuest(6151)?.status).toBe("running")
  })
})

describe("static rules in the tool pipeline itself", () => {
  it("a statically hidden tool called through invoke (embedders, REST) is FORBIDDEN, audited, nothing sent", async () => {
    const runtime = runtimeWith({ ...DEFAULT_POLICY, denied: new Set(["pve_start_qemu_vm"]) })
    sim.cluster.addGuest({ vmid: 6400, type: "qemu", node: "pve1", name: "denied", status: "stopped" })
    sim.cluster.clearRequests()
    const error = errorOf(await callTool(runtime, "startVM", { vmid: 6400 }).run())
    expect(error).toMatchObject({ code: "FORBIDDEN", details: { rule: "DENIED_OPERATIONS" } })
    expect(mutations()).toHaveLength(0)
    expect(auditRecords(runtime).at(-1)).toMatchObject({
      event: "policy.denied",
      tool: "startVM",
      rule: "DENIED_OPERATIONS",
      target: { vmid: 6400, node: "pve1" },
    })
    // The default tier hides state-changing tools the same way.
    const readOnly = runtimeWith({ ...DEFAULT_POLICY })
    expect(
      errorOf(await callTool(readOnly, "pve_start_qemu_vm", { vmid: 6400 }).run()).details,
    ).toMatchObject({
      rule: "PVE_ACCESS_TIER",
    })
  })
})

describe("principal rules", () => {
  it("resource patterns are matched against the real target, reads included", async () => {
    const runtime = runtimeWith({})
    const operator = {
      sub: "alice",
      role: "operator",
      transport: "http" as const,
      resources: ["/nodes/pve2/*"],
    }
    okData(await callTool(runtime, "pve_get_lxc_status", { vmid: 210 }, { principal: operator }).run())
    const error = errorOf(
      await callTool(runtime, "pve_get_qemu_status", { vmid: 100 }, { principal: operator }).run(),
    )
    expect(error).toMatchObject({ code: "FORBIDDEN", details: { rule: "principal resources" } })
  })

  it("naming an allowed node for a guest on another node is refused, not judged on that node", async () => {
    const runtime = runtimeWith({})
    const operator = {
      sub: "alice",
      role: "operator",
      transport: "http" as const,
      resources: ["/nodes/pve2/*"],
    }
    sim.cluster.clearRequests()
    // vmid 100 lives on pve1.
    const error = errorOf(
      await callTool(
        runtime,
        "pve_get_qemu_status",
        { vmid: 100, node: "pve2" },
        { principal: operator },
      ).run(),
    )
    expect(error).toMatchObject({ code: "GUEST_NOT_FOUND" })
    expect(sim.cluster.requests.some((r) => r.path.includes("/qemu/100/"))).toBe(false)
  })
})

describe("audit of refusals", () => {
  it("every refusal is recorded with the rule that refused", async () => {
    const runtime = runtimeWith({ ...DEFAULT_POLICY, tier: "full", protectedVmids: [{ from: 100, to: 100 }] })
    await callTool(runtime, "pve_stop_qemu_vm", { vmid: 100, confirm: true }).run()
    await callTool(runtime, "pve_stop_qemu_vm", { vmid: 101 }).run()
    const denied = auditRecords(runtime).filter((r) => r.event === "policy.denied")
    expect(denied).toEqual([
      expect.objectContaining({ tool: "pve_stop_qemu_vm", decision: "denied", rule: "PVE_PROTECTED_VMIDS" }),
      expect.objectContaining({
        tool: "pve_stop_qemu_vm",
        decision: "confirmation_required",
        rule: "confirmation",
      }),
    ])
  })

  it("a state-changing call gets a started and a completed record sharing an id", async () => {
    const runtime = runtimeWith({})
    sim.cluster.addGuest({ vmid: 6200, type: "qemu", node: "pve2", name: "a", status: "stopped" })
    await callTool(runtime, "startVM", { vmid: 6200, wait: true }).run()
    const records = auditRecords(runtime).filter((r) => r.tool === "startVM")
    expect(records.map((r) => r.event)).toEqual(["tool.started", "tool.completed"])
    expect(records[0]!.id).toBe(records[1]!.id)
    expect(records[1]).toMatchObject({
      aliasOf: "pve_start_qemu_vm",
      target: { node: "pve2", type: "qemu", vmid: 6200 },
      outcome: { ok: true },
    })
    expect(records[1]!.upstream?.some((u) => u.method === "POST" && u.upid !== undefined)).toBe(true)
  })
})

describe("audit fails closed", () => {
  it("an unwritable audit log stops a mutation before anything is sent, and fails reads", async () => {
    const runtime = runtimeWith({})
    const memory = runtime.runSync(MemoryAuditRecords)
    sim.cluster.addGuest({ vmid: 6300, type: "qemu", node: "pve1", name: "closed", status: "stopped" })
    sim.cluster.clearRequests()
    memory.failWrites(true)
    try {
      const error = errorOf(await callTool(runtime, "pve_start_qemu_vm", { vmid: 6300 }).run())
      expect(error.code).toBe("AUDIT_WRITE_FAILED")
      expect(error.hint).toMatch(/Nothing was sent/)
      expect(mutations()).toHaveLength(0)
      expect(sim.cluster.getGuest(6300)?.status).toBe("stopped")
      expect(errorOf(await callTool(runtime, "pve_list_nodes").run()).code).toBe("AUDIT_WRITE_FAILED")
    } finally {
      memory.failWrites(false)
    }
  })
})
