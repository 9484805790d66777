/**
 * MCP prompts: NANDI's workflow prompts. A prompt is listed (and can be fetched) only when every
 * tool it needs is exposed to the caller; its text names only the tools the caller can use.
 */

export interface PromptDeclaration {
  readonly name: string
  readonly title: string
  readonly description: string
  /** Without any of these the prompt is not offered. */
  readonly requires: ReadonlyArray<string>
  /** The user message, given which tools the caller may call. */
  readonly text: (exposed: (tool: string) => boolean) => string
}

/** `cluster-health`: quorum, nodes, guests, HA, recent failures, in one pass. */
export const clusterHealth: PromptDeclaration = {
  name: "cluster-health",
  title: "Cluster health check",
  description:
    "Check quorum, nodes, guests, HA and recent failures of the Proxmox cluster, and report problems.",
  requires: ["pve_get_cluster_status", "pve_list_nodes", "pve_list_cluster_resources"],
  text: (exposed) => {
    const optional: ReadonlyArray<readonly [string, string]> = [
      ["pve_get_cluster_ha_status", "HA manager state and each node's LRM"],
      ["pve_list_tasks", "each node's recent failed tasks (errors: true)"],
      ["pve_get_cluster_log", "the cluster log for recent errors"],
      ["pve_list_node_storage", "storage usage per node (flag anything above 85 %)"],
      ["pve_get_ceph_status", "Ceph health, where installed"],
    ]
    const steps = [
      "pve_get_cluster_status: is the cluster quorate, is every node online?",
      "pve_list_nodes: CPU, memory and disk use per node; flag anything above 85 %.",
      "pve_list_cluster_resources: guests that are stopped, locked or unknown.",
      ...optional.filter(([tool]) => exposed(tool)).map(([tool, what]) => `${tool}: ${what}.`),
    ]
    return [
      "Check the health of the Proxmox VE cluster. Read only; change nothing.",
      ...steps.map((step, index) => `${index + 1}. ${step}`),
      "Then summarize: overall state (healthy, degraded or failing), each problem with the node or guest it concerns, and what to look at next.",
    ].join("\n")
  },
}

export const builtinPrompts: ReadonlyArray<PromptDeclaration> = [clusterHealth]
