/**
 * The catalog: every tool declaration and every alias. Listing, policy, the `tools` CLI and the
 * docs all read from here.
 */
import { clusterTools } from "./cluster.js"
import { lxcTools } from "./lxc.js"
import { nodeTools } from "./nodes.js"
import { qemuTools } from "./qemu.js"
import { storageTools } from "./storage.js"
import { taskTools } from "./tasks.js"
import type { AliasDeclaration, ToolDeclaration } from "./tool.js"

export const tools: ReadonlyArray<ToolDeclaration> = [
  ...nodeTools,
  ...clusterTools,
  ...qemuTools,
  ...lxcTools,
  ...taskTools,
  ...storageTools,
]

/** NANDI's camelCase aliases: listed as deprecated, always judged as their canonical tool. */
export const aliases: ReadonlyArray<AliasDeclaration> = [
  { name: "listNodes", aliasFor: "pve_list_nodes" },
  { name: "getNodeStatus", aliasFor: "pve_get_node_status" },
  { name: "getVMStatus", aliasFor: "pve_get_qemu_status" },
  { name: "getContainerStatus", aliasFor: "pve_get_lxc_status" },
  { name: "startVM", aliasFor: "pve_start_qemu_vm" },
  { name: "stopVM", aliasFor: "pve_stop_qemu_vm" },
  { name: "startContainer", aliasFor: "pve_start_lxc_container" },
  { name: "stopContainer", aliasFor: "pve_stop_lxc_container" },
]

export interface CatalogEntry {
  /** The name the client used. */
  readonly name: string
  readonly tool: ToolDeclaration
  readonly aliasFor?: string
}

const byName = new Map<string, CatalogEntry>()
for (const tool of tools) byName.set(tool.name, { name: tool.name, tool })
for (const alias of aliases) {
  const target = byName.get(alias.aliasFor)
  if (target === undefined) throw new Error(`alias ${alias.name} names unknown tool ${alias.aliasFor}`)
  byName.set(alias.name, { name: alias.name, tool: target.tool, aliasFor: alias.aliasFor })
}

/** Every name, canonical tools first, then aliases. */
export const entries: ReadonlyArray<CatalogEntry> = [...byName.values()]

export const lookup = (name: string): CatalogEntry | undefined => byName.get(name)
