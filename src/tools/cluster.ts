import * as Schema from "effect/Schema"
import { IntegerInput, VMID_MAX, VMID_MIN } from "../domain/ids.js"
import { asArray, page, pagingFields } from "./common.js"
import * as Endpoint from "./endpoint.js"
import * as Tool from "./tool.js"

export const clusterTools = [
  Tool.request({
    name: "pve_get_cluster_status",
    title: "Get cluster status",
    description:
      "Quorum and membership: a 'cluster' entry (name, quorate, nodes) and one per node (online, ip). Check quorate before writes.",
    category: "cluster",
    tier: "read-only",
    endpoint: Endpoint.get("/cluster/status"),
    input: {},
  }),
  Tool.request({
    name: "pve_list_cluster_resources",
    title: "List cluster resources",
    description:
      "Every guest, node, storage and pool (vmid, name, node, status, CPU, memory, tags): the best overview.",
    category: "cluster",
    tier: "read-only",
    endpoint: Endpoint.get("/cluster/resources"),
    input: {
      type: Schema.optional(
        Schema.Literal("vm", "storage", "node", "sdn").annotations({
          description: "Only this type (vm: guests)",
        }),
      ),
      ...pagingFields,
    },
    result: (data, input) => page(asArray(data), input),
  }),
  Tool.request({
    name: "pve_get_next_vmid",
    title: "Get next free VMID",
    description: "The next free guest id. With vmid: checks it is free (PROXMOX_REQUEST_REJECTED if taken).",
    category: "cluster",
    tier: "read-only",
    endpoint: Endpoint.get("/cluster/nextid"),
    input: {
      vmid: Schema.optional(
        IntegerInput({ minimum: VMID_MIN, maximum: VMID_MAX, description: "Check this id" }),
      ),
    },
    result: (data) => ({ vmid: Number(data) }),
  }),
]
