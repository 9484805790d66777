/** High availability and storage replication: what is HA-managed, and replication state. */
import * as Schema from "effect/Schema"
import { asArray, nodeField, page, pagingFields, sortBy, vmidField } from "./common.js"
import * as Endpoint from "./endpoint.js"
import * as Tool from "./tool.js"

export const haTools = [
  Tool.request({
    name: "pve_list_ha_resources",
    title: "List HA resources",
    description:
      "Guests managed by HA: sid (like vm:101), requested state, group; their live state is in the guest status (ha).",
    category: "cluster",
    tier: "read-only",
    endpoint: Endpoint.get("/cluster/ha/resources"),
    input: {
      type: Schema.optional(
        Schema.Literal("vm", "ct").annotations({ description: "Only VMs (vm) or containers (ct)" }),
      ),
      ...pagingFields,
    },
    result: (data, input) => page(sortBy("sid")(asArray(data)), input),
  }),
  Tool.request({
    name: "pve_list_node_replication",
    title: "List replication status on a node",
    description:
      "Storage replication jobs of the guests on one node with their state: last and next sync, duration, fail count, error.",
    category: "nodes",
    tier: "read-only",
    endpoint: Endpoint.get("/nodes/{node}/replication"),
    input: {
      node: nodeField,
      guest: Schema.optional(vmidField.annotations({ description: "Only this guest's jobs" })),
      ...pagingFields,
    },
    result: (data, input) => page(sortBy("id")(asArray(data)), input),
  }),
]

export const nodeExtraTools = [
  Tool.request({
    name: "pve_list_cluster_tasks",
    title: "List recent tasks (cluster)",
    description:
      "Recent tasks of every node, newest first (upid, node, type, id, user, status): find what changed a guest or failed.",
    category: "tasks",
    tier: "read-only",
    endpoint: Endpoint.get("/cluster/tasks"),
    input: pagingFields,
    result: (data, input) =>
      page(
        [...asArray(data)].sort((a, b) => Number(b.starttime ?? 0) - Number(a.starttime ?? 0)),
        input,
      ),
  }),
  Tool.request({
    name: "pve_get_node_subscription",
    title: "Get node subscription",
    description:
      "One node's subscription status (active, notfound, expired, ...), level and next due date; the key is not returned in full.",
    category: "nodes",
    tier: "read-only",
    endpoint: Endpoint.get("/nodes/{node}/subscription"),
    input: { node: nodeField },
    // The key identifies the purchase: only its last characters are shown.
    result: (data) =>
      typeof data === "object" && data !== null && "key" in data && typeof data.key === "string"
        ? { ...data, key: `…${data.key.slice(-4)}` }
        : data,
  }),
  Tool.request({
    name: "pve_list_node_apt_updates",
    title: "List available package updates",
    description:
      "Package updates available on one node (from its last apt update): package, current and new version, priority.",
    category: "nodes",
    // PVE checks Sys.Modify on the node even for this read: not for a read-only token by default.
    module: "advanced",
    tier: "read-only",
    endpoint: Endpoint.get("/nodes/{node}/apt/update"),
    input: { node: nodeField, ...pagingFields },
    result: (data, input) => page(sortBy("Package")(asArray(data)), input),
  }),
]
