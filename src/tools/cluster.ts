import { Effect, Schema } from "effect"
import { IntegerInput, VMID_MAX, VMID_MIN } from "../domain/ids.js"
import { asArray, limitField, offsetField, page, pve } from "./common.js"
import { defineTool } from "./tool.js"

export const clusterTools = [
  defineTool({
    name: "pve_get_cluster_status",
    title: "Get cluster status",
    description:
      "Cluster membership and quorum: one 'cluster' entry (name, quorate, version, node count) and one entry per node (online, local, ip). Check quorate before planning writes.",
    category: "cluster",
    tier: "read-only",
    destructive: false,
    confirm: false,
    input: {},
    endpoints: [{ method: "GET", path: "/cluster/status" }],
    run: () => Effect.map(pve({ method: "GET", path: "/cluster/status" }), (data) => ({ data })),
  }),
  defineTool({
    name: "pve_list_cluster_resources",
    title: "List cluster resources",
    description:
      "Every resource of the cluster in one list: VMs and containers (vmid, name, node, status, CPU, memory, tags), nodes, storages, pools. The best overview and the way to find which node holds a guest.",
    category: "cluster",
    tier: "read-only",
    destructive: false,
    confirm: false,
    input: {
      type: Schema.optional(
        Schema.Literal("vm", "storage", "node", "sdn").annotations({
          description: "Only resources of this type (vm = VMs and containers)",
        }),
      ),
      limit: limitField("Return at most this many entries."),
      offset: offsetField,
    },
    endpoints: [{ method: "GET", path: "/cluster/resources" }],
    run: (input) =>
      Effect.map(
        pve({ method: "GET", path: "/cluster/resources", params: { type: input.type } }),
        (data) => ({
          data: page(asArray(data), input),
        }),
      ),
  }),
  defineTool({
    name: "pve_get_next_vmid",
    title: "Get next free VMID",
    description:
      "The next free guest id of the cluster, for creating or cloning a guest. With vmid: checks that this id is free (fails with PROXMOX_REQUEST_REJECTED if it is taken).",
    category: "cluster",
    tier: "read-only",
    destructive: false,
    confirm: false,
    input: {
      vmid: Schema.optional(
        IntegerInput({ minimum: VMID_MIN, maximum: VMID_MAX, description: "Check whether this id is free" }),
      ),
    },
    endpoints: [{ method: "GET", path: "/cluster/nextid" }],
    run: (input) =>
      Effect.map(pve({ method: "GET", path: "/cluster/nextid", params: { vmid: input.vmid } }), (data) => ({
        data: { vmid: Number(data) },
      })),
  }),
]
