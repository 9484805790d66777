import { Effect } from "effect"
import { asArray, limitField, nodeField, offsetField, page, pve, requireNode } from "./common.js"
import { defineTool } from "./tool.js"

export const nodeTools = [
  defineTool({
    name: "pve_list_nodes",
    title: "List cluster nodes",
    description:
      "All nodes of the cluster with status (online/offline), uptime, CPU, memory and disk usage and SSL fingerprint. Start here to learn node names.",
    category: "nodes",
    tier: "read-only",
    destructive: false,
    confirm: false,
    input: { limit: limitField("Return at most this many nodes."), offset: offsetField },
    endpoints: [{ method: "GET", path: "/nodes" }],
    run: (input) =>
      Effect.map(pve({ method: "GET", path: "/nodes" }), (data) => ({
        data: page(
          [...asArray(data)].sort((a, b) => String(a.node).localeCompare(String(b.node))),
          input,
        ),
      })),
  }),
  defineTool({
    name: "pve_get_node_status",
    title: "Get node status",
    description:
      "Detailed status of one node: CPU model and load, memory, swap, root filesystem, kernel and PVE version, uptime.",
    category: "nodes",
    tier: "read-only",
    destructive: false,
    confirm: false,
    input: { node: nodeField },
    endpoints: [{ method: "GET", path: "/nodes/{node}/status" }],
    run: (input) =>
      Effect.gen(function* () {
        const node = yield* requireNode(input.node)
        return {
          data: yield* pve({ method: "GET", path: "/nodes/{node}/status", pathParams: { node } }),
          node,
        }
      }),
  }),
  defineTool({
    name: "pve_get_node_version",
    title: "Get node PVE version",
    description: "The Proxmox VE version, release and repository id running on one node.",
    category: "monitoring",
    tier: "read-only",
    destructive: false,
    confirm: false,
    input: { node: nodeField },
    endpoints: [{ method: "GET", path: "/nodes/{node}/version" }],
    run: (input) =>
      Effect.gen(function* () {
        const node = yield* requireNode(input.node)
        return {
          data: yield* pve({ method: "GET", path: "/nodes/{node}/version", pathParams: { node } }),
          node,
        }
      }),
  }),
]
