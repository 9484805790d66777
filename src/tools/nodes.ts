import { asArray, nodeField, page, pagingFields, sortBy } from "./common.js"
import * as Endpoint from "./endpoint.js"
import * as Tool from "./tool.js"

export const nodeTools = [
  Tool.request({
    name: "pve_list_nodes",
    title: "List cluster nodes",
    description: "All nodes: status, uptime, CPU, memory, disk, SSL fingerprint. Start here for node names.",
    category: "nodes",
    tier: "read-only",
    endpoint: Endpoint.get("/nodes"),
    input: pagingFields,
    result: (data, input) => page(sortBy("node")(asArray(data)), input),
  }),
  Tool.request({
    name: "pve_get_node_status",
    title: "Get node status",
    description: "One node's CPU and load, memory, swap, root disk, kernel, PVE version, uptime.",
    category: "nodes",
    tier: "read-only",
    endpoint: Endpoint.get("/nodes/{node}/status"),
    input: { node: nodeField },
  }),
  Tool.request({
    name: "pve_get_node_version",
    title: "Get node PVE version",
    description: "The PVE version, release and repository id of one node.",
    category: "monitoring",
    tier: "read-only",
    endpoint: Endpoint.get("/nodes/{node}/version"),
    input: { node: nodeField },
  }),
]
