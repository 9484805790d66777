import { Effect, Either } from "effect"
import { describe, expect, it } from "vitest"
import { configProvider, formatConfigError } from "../../src/config/provider.js"
import { makeToolNames } from "../../src/policy/names.js"
import { staticallyExposed, staticRule } from "../../src/policy/policy.js"
import { type PolicySettings, policyConfig as policySettingsConfig } from "../../src/policy/settings.js"
import { builtin } from "../../src/tools/catalog.js"

const entries = builtin.entries
const lookup = builtin.lookup
const policyConfig = policySettingsConfig(makeToolNames(entries))

const load = (env: Record<string, string>) => {
  const provider = Either.getOrThrow(configProvider(env))
  return Either.mapLeft(
    Effect.runSync(Effect.either(Effect.withConfigProvider(policyConfig, provider))),
    formatConfigError,
  )
}
const settings = (env: Record<string, string>) => Either.getOrThrow(load(env))
const names = (s: PolicySettings) => staticallyExposed(entries, s).map((e) => e.name)

describe("policy settings", () => {
  it("defaults: read-only tier, core module, auto confirmation", () => {
    const s = settings({})
    expect(s).toMatchObject({ tier: "read-only", moduleMode: "core", confirmMode: "auto" })
    expect(staticallyExposed(entries, s).every((e) => e.tool.tier === "read-only")).toBe(true)
  })

  it.each([
    ["PVE_ACCESS_TIER", "root", "root"],
    ["PVE_MODULE_MODE", "all", "all"],
    ["PVE_CATEGORIES", "qemu,vms", "vms"],
    ["PVE_TOOL_WHITELIST", "pve_list_nodes,pve_frobnicate", "pve_frobnicate"],
    ["PVE_TOOL_BLACKLIST", "startVm", "startVm"],
    ["ALLOWED_OPERATIONS", "vm.teleport", "vm.teleport"],
    ["DENIED_OPERATIONS", "nothing_*", "nothing_*"],
    ["PVE_PROTECTED_VMIDS", "100-50", "100-50"],
    ["PVE_PROTECTED_VMIDS", "12", "12"],
    ["PVE_CONFIRM_MODE", "never", "never"],
  ])("%s=%s stops startup naming the variable and the value", (variable, value, named) => {
    const result = load({ [variable]: value })
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) {
      expect(result.left).toContain(variable)
      expect(result.left).toContain(named)
    }
  })

  it("accepts every Sutian operation name, NANDI names not implemented yet, and globs", () => {
    const s = settings({
      DENIED_OPERATIONS:
        "vm.delete,vm.destroy,node.stop,node.reboot,node.shutdown,cluster.*,user.*,storage.*,pool.*,vzdump.restore,vzdump.backup",
      PVE_TOOL_BLACKLIST: "pve_exec_in_container,execInContainer,pve_delete_*",
    })
    expect(s.denied.has("pve_get_cluster_status")).toBe(true)
    expect(s.denied.has("pve_list_cluster_resources")).toBe(true)
    expect(s.denied.has("pve_list_storage")).toBe(true)
    expect(s.blacklist.has("pve_exec_in_container")).toBe(true)
    expect(s.blacklist.has("pve_delete_storage")).toBe(true)
  })

  it("parses protected vmids and tags", () => {
    const s = settings({ PVE_PROTECTED_VMIDS: "100-199, 250", PVE_PROTECTED_TAGS: "Prod;critical" })
    expect(s.protectedVmids).toEqual([
      { from: 100, to: 199 },
      { from: 250, to: 250 },
    ])
    expect([...s.protectedTags]).toEqual(["prod", "critical"])
  })
})

describe("static exposure", () => {
  it("the whitelist narrows and never widens the tier", () => {
    const s = settings({ PVE_TOOL_WHITELIST: "pve_list_nodes,pve_stop_qemu_vm" })
    expect(names(s)).toEqual(["pve_list_nodes", "listNodes"])
    expect(staticRule(lookup("pve_stop_qemu_vm")!.tool, s)).toBe("PVE_ACCESS_TIER")
    expect(staticRule(lookup("pve_get_node_status")!.tool, s)).toBe("PVE_TOOL_WHITELIST")
  })

  it("blacklisting a canonical name removes its alias, and an alias removes its canonical tool", () => {
    const byCanonical = names(settings({ PVE_ACCESS_TIER: "full", PVE_TOOL_BLACKLIST: "pve_stop_qemu_vm" }))
    expect(byCanonical).not.toContain("pve_stop_qemu_vm")
    expect(byCanonical).not.toContain("stopVM")
    const byAlias = names(settings({ PVE_ACCESS_TIER: "full", PVE_TOOL_BLACKLIST: "startVM" }))
    expect(byAlias).not.toContain("pve_start_qemu_vm")
    expect(byAlias).not.toContain("startVM")
    expect(byAlias).toContain("pve_stop_qemu_vm")
  })

  it("DENIED_OPERATIONS=vm.stop blocks pve_stop_qemu_vm and stopVM", () => {
    const s = settings({ PVE_ACCESS_TIER: "full", DENIED_OPERATIONS: "vm.stop" })
    expect(names(s)).not.toContain("pve_stop_qemu_vm")
    expect(names(s)).not.toContain("stopVM")
    expect(staticRule(lookup("stopVM")!.tool, s)).toBe("DENIED_OPERATIONS")
  })

  it("ALLOWED_OPERATIONS lets only the named operations through", () => {
    const s = settings({ PVE_ACCESS_TIER: "full", ALLOWED_OPERATIONS: "vm.list,node.*" })
    expect(new Set(names(s))).toEqual(
      new Set([
        "pve_list_qemu_vms",
        "listVMs",
        "pve_list_nodes",
        "listNodes",
        "pve_get_node_status",
        "getNodeStatus",
      ]),
    )
  })

  it("categories and module mode filter", () => {
    const s = settings({ PVE_ACCESS_TIER: "full", PVE_CATEGORIES: "tasks" })
    expect(staticallyExposed(entries, s).every((e) => e.tool.category === "tasks")).toBe(true)
    expect(names(s)).toContain("pve_stop_task")
    expect(entries.length).toBeGreaterThan(names(s).length)
  })
})
