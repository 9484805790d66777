/**
 * The catalog: every tool and every alias, as a service. Listing, the policy's name lists, the
 * `tools` CLI and the docs read from it; the MCP adapter looks calls up in it. Embedders can
 * provide a catalog of their own (`make`), e.g. with extra tools.
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import type { NamedTool } from "../domain/tool.js"
import { accessTools } from "./access.js"
import { agentTools } from "./agent.js"
import { backupTools, restoreTools } from "./backup.js"
import { clusterTools } from "./cluster.js"
import { clusterAdminTools } from "./cluster-admin.js"
import { firewallTools } from "./firewall.js"
import { lxcAdminTools, qemuAdminTools } from "./guest-admin.js"
import { haTools, nodeExtraTools } from "./ha.js"
import { lxcTools } from "./lxc.js"
import { metricsTools } from "./metrics.js"
import { networkTools } from "./network.js"
import { nodeTools } from "./nodes.js"
import { poolTools } from "./pools.js"
import { qemuTools } from "./qemu.js"
import { remoteAliases, remoteTools } from "./remote.js"
import { snapshotTools } from "./snapshots.js"
import { storageTools } from "./storage.js"
import { storageAdminTools } from "./storage-admin.js"
import { taskTools } from "./tasks.js"
import { templateTools } from "./templates.js"
import type { Tool } from "./tool.js"

/** The built-in tools, typed: `Tool.Requirements<BuiltinTool>` is what running them needs. */
export const builtinTools = [
  ...nodeTools,
  ...clusterTools,
  ...qemuTools,
  ...lxcTools,
  ...taskTools,
  ...storageTools,
  ...qemuAdminTools,
  ...lxcAdminTools,
  ...snapshotTools,
  ...backupTools,
  ...restoreTools,
  ...templateTools,
  ...storageAdminTools,
  ...agentTools,
  ...haTools,
  ...nodeExtraTools,
  ...metricsTools,
  ...networkTools,
  ...firewallTools,
  ...accessTools,
  ...poolTools,
  ...clusterAdminTools,
  ...remoteTools,
] as const

export type BuiltinTool = (typeof builtinTools)[number]

export type BuiltinToolName = BuiltinTool["name"]

/** One built-in tool by name, with its precise type (for the typed call API). */
export const toolNamed = <N extends BuiltinToolName>(name: N): Extract<BuiltinTool, { readonly name: N }> => {
  const tool = builtinTools.find((t): t is Extract<BuiltinTool, { readonly name: N }> => t.name === name)
  if (tool === undefined) throw new Error(`no built-in tool ${name}`)
  return tool
}

export interface AliasDeclaration {
  readonly name: string
  readonly aliasFor: string
}

/** NANDI's camelCase aliases: callable always, listed only with PVE_LIST_ALIASES=true. */
export const builtinAliases: ReadonlyArray<AliasDeclaration> = [
  { name: "listNodes", aliasFor: "pve_list_nodes" },
  { name: "getNodeStatus", aliasFor: "pve_get_node_status" },
  { name: "getVMStatus", aliasFor: "pve_get_qemu_status" },
  { name: "getContainerStatus", aliasFor: "pve_get_lxc_status" },
  { name: "startVM", aliasFor: "pve_start_qemu_vm" },
  { name: "stopVM", aliasFor: "pve_stop_qemu_vm" },
  { name: "startContainer", aliasFor: "pve_start_lxc_container" },
  { name: "stopContainer", aliasFor: "pve_stop_lxc_container" },
  { name: "pve_get_cluster_metrics_overview", aliasFor: "pve_list_cluster_resources" },
  ...remoteAliases,
  // NANDI declared the template conversion twice (SPEC 12: the second name is an alias).
  { name: "pve_create_qemu_template", aliasFor: "pve_qemu_create_template" },
]

export type CatalogEntry = NamedTool<Tool.Any>

export interface CatalogService {
  /** Every name, canonical tools first (in declaration order), then aliases. */
  readonly entries: ReadonlyArray<CatalogEntry>
  readonly lookup: (name: string) => CatalogEntry | undefined
}

export class Catalog extends Context.Tag("proxmox-mcp/Catalog")<Catalog, CatalogService>() {}

/** A catalog of these tools and aliases; a duplicate name or an alias of nothing is a defect. */
export const make = (
  tools: ReadonlyArray<Tool.Any>,
  aliases: ReadonlyArray<AliasDeclaration>,
): CatalogService => {
  const byName = new Map<string, CatalogEntry>()
  const add = (entry: CatalogEntry) => {
    if (byName.has(entry.name)) throw new Error(`catalog: the name ${entry.name} is declared twice`)
    byName.set(entry.name, entry)
  }
  for (const tool of tools) add({ name: tool.name, tool })
  for (const alias of aliases) {
    const target = byName.get(alias.aliasFor)
    if (target === undefined || target.aliasFor !== undefined)
      throw new Error(`catalog: alias ${alias.name} names no tool (${alias.aliasFor})`)
    add({ name: alias.name, tool: target.tool, aliasFor: alias.aliasFor })
  }
  const entries = [...byName.values()]
  return Catalog.of({ entries, lookup: (name) => byName.get(name) })
}

/** The built-in catalog, as a value (CLI, docs) and as a layer. */
export const builtin: CatalogService = make(builtinTools, builtinAliases)

export const layer: Layer.Layer<Catalog> = Layer.succeed(Catalog, builtin)
