/**
 * What `tools/list` shows, so that the list an agent reads first stays small while every tool
 * stays reachable (issue 15):
 *
 * - **toolsets** (default): the categories are toolsets; `PVE_TOOLSETS` picks the listed ones
 *   (`default` is a small everyday set: inventory, guest status and power, tasks; `all` is every
 *   category). `pve_enable_toolset` lists more during a session and notifies the client.
 * - **discovery**: three tools only, `pve_search_tools` -> `pve_describe_tool` ->
 *   `pve_call_tool`.
 *
 * Toolsets and modes shape the list only. What a principal may call is the policy's decision,
 * unchanged: a tool outside the listed toolsets is still callable by name when the policy allows
 * it, and a tool the policy hides is neither listed, found, described nor called.
 */
import { TOOLSETS, type ToolMode } from "../config/server.js"
import { Categories } from "../domain/ids.js"
import type { NamedTool } from "../domain/tool.js"

export type { ToolMode }

/** The everyday set: inventory, guest status and power, tasks. Names not in the catalog are ignored. */
export const DEFAULT_TOOLSET: ReadonlySet<string> = new Set([
  "pve_list_nodes",
  "pve_get_node_status",
  "pve_get_cluster_status",
  "pve_list_cluster_resources",
  "pve_list_qemu_vms",
  "pve_list_lxc_containers",
  "pve_get_qemu_status",
  "pve_get_lxc_status",
  "pve_get_qemu_config",
  "pve_get_lxc_config",
  "pve_start_qemu_vm",
  "pve_stop_qemu_vm",
  "pve_shutdown_qemu_vm",
  "pve_reboot_qemu_vm",
  "pve_start_lxc_container",
  "pve_stop_lxc_container",
  "pve_shutdown_lxc_container",
  "pve_reboot_lxc_container",
  "pve_list_tasks",
  "pve_get_task_status",
  "pve_get_task_log",
  "pve_wait_task",
  "pve_list_storage",
])

export const TOOLSET_NAMES = TOOLSETS

/** Whether a catalog entry belongs to a toolset. */
export const inToolset = (entry: NamedTool, toolset: string): boolean =>
  toolset === "all" ||
  (toolset === "default"
    ? DEFAULT_TOOLSET.has(entry.aliasFor ?? entry.name)
    : entry.tool.category === toolset)

export const inAnyToolset = (entry: NamedTool, toolsets: Iterable<string>): boolean => {
  for (const toolset of toolsets) if (inToolset(entry, toolset)) return true
  return false
}

/** The tools the server itself answers, outside the catalog. */
export const META_TOOLS = {
  enable: "pve_enable_toolset",
  search: "pve_search_tools",
  describe: "pve_describe_tool",
  call: "pve_call_tool",
} as const

export const metaToolsOf = (mode: ToolMode): ReadonlyArray<string> =>
  mode === "discovery" ? [META_TOOLS.search, META_TOOLS.describe, META_TOOLS.call] : [META_TOOLS.enable]

const words = (text: string): ReadonlyArray<string> =>
  text
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word.length > 1 && word !== "pve")

/** The first sentence of a description: what a search result shows. */
export const summaryOf = (description: string): string => {
  const end = description.search(/\.(\s|$)/)
  return end < 0 ? description : description.slice(0, end + 1)
}

export interface SearchHit {
  readonly name: string
  readonly title: string
  readonly category: string
  readonly tier: string
  readonly summary: string
}

/**
 * Ranks the given entries (already filtered by policy) for a query: an exact name first, then
 * name words, title words, category and description words, each query word counted once.
 */
export const search = (
  entries: ReadonlyArray<NamedTool>,
  query: string,
  options: { readonly category?: string; readonly limit: number },
): ReadonlyArray<SearchHit> => {
  const needle = query.trim().toLowerCase()
  const terms = words(needle)
  const scored: Array<{ readonly entry: NamedTool; readonly score: number }> = []
  for (const entry of entries) {
    if (options.category !== undefined && entry.tool.category !== options.category) continue
    const tool = entry.tool
    let score = 0
    if (tool.name === needle || entry.name === needle) score += 1_000
    const name = new Set(words(tool.name))
    const title = new Set(words(tool.title))
    const description = new Set(words(tool.description))
    for (const term of terms) {
      // Singular and plural both match (`vm` finds `vms`, `snapshots` finds `snapshot`).
      const stem = term.replace(/s$/, "")
      const has = (set: ReadonlySet<string>) => set.has(term) || set.has(stem) || set.has(`${stem}s`)
      if (has(name)) score += 10
      if (has(title)) score += 5
      if (tool.category === term || tool.category === stem) score += 4
      if (has(description)) score += 2
    }
    if (score > 0 || (terms.length === 0 && needle === "")) scored.push({ entry, score })
  }
  return scored
    .sort((a, b) => b.score - a.score || a.entry.tool.name.localeCompare(b.entry.tool.name))
    .slice(0, options.limit)
    .map(({ entry }) => ({
      name: entry.tool.name,
      title: entry.tool.title,
      category: entry.tool.category,
      tier: entry.tool.tier,
      summary: summaryOf(entry.tool.description),
    }))
}

/** The input schemas of the server's own tools (JSON Schema, as `tools/list` carries them). */
export const metaToolListing = (name: string, toolsets: ReadonlyArray<string>) => {
  switch (name) {
    case META_TOOLS.enable:
      return {
        name,
        description: `Lists more tools in this session: a toolset is a category (${toolsets.join(", ")}), or 'all'. The client is notified that the tool list changed. Tools outside the listed toolsets can also be called by name.`,
        inputSchema: {
          type: "object" as const,
          properties: { toolset: { type: "string", enum: [...toolsets] } },
          required: ["toolset"],
        },
        annotations: { title: "Enable toolset", readOnlyHint: true, openWorldHint: false },
      }
    case META_TOOLS.search:
      return {
        name,
        description:
          "Finds Proxmox tools by what they do (e.g. 'snapshot vm', 'firewall rules', 'task log'): ranked names with one-line summaries, only tools you may call. Then pve_describe_tool, then pve_call_tool.",
        inputSchema: {
          type: "object" as const,
          properties: {
            query: { type: "string", description: "Words or a tool name" },
            category: { type: "string", enum: [...Categories] },
            limit: { type: "integer", minimum: 1, maximum: 50, description: "Max results (10)" },
          },
          required: ["query"],
        },
        annotations: { title: "Search tools", readOnlyHint: true, openWorldHint: false },
      }
    case META_TOOLS.describe:
      return {
        name,
        description: "The full description and input schema of one tool, by name.",
        inputSchema: {
          type: "object" as const,
          properties: { name: { type: "string" } },
          required: ["name"],
        },
        annotations: { title: "Describe tool", readOnlyHint: true, openWorldHint: false },
      }
    default:
      return {
        name: META_TOOLS.call,
        description:
          "Calls a tool by name with its arguments: the same policy, confirmation, audit and result as calling it directly.",
        inputSchema: {
          type: "object" as const,
          properties: {
            name: { type: "string" },
            arguments: { type: "object", description: "The tool's input, as pve_describe_tool shows it" },
          },
          required: ["name"],
        },
        annotations: { title: "Call tool", readOnlyHint: false, destructiveHint: true, openWorldHint: false },
      }
  }
}
