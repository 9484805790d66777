import * as Schema from "effect/Schema"
import { StorageId } from "../domain/ids.js"
import { asArray, nodeField, page, pagingFields } from "./common.js"
import * as Endpoint from "./endpoint.js"
import * as Tool from "./tool.js"

export const storageTools = [
  Tool.request({
    name: "pve_list_storage",
    title: "List storage definitions",
    description:
      "Storage definitions (id, type, content, path or server, shared, nodes); usage: pve_list_node_storage.",
    category: "storage",
    tier: "read-only",
    endpoint: Endpoint.get("/storage"),
    input: {
      type: Schema.optional(
        Schema.String.pipe(Schema.pattern(/^[a-z0-9]+$/)).annotations({
          description: "Only this type (dir, nfs, zfspool, ...)",
        }),
      ),
      ...pagingFields,
    },
    result: (data, input) => page(asArray(data), input),
  }),
  Tool.request({
    name: "pve_list_node_storage",
    title: "List storage on a node",
    description: "One node's storages with usage (total, used, avail bytes) and state.",
    category: "storage",
    tier: "read-only",
    endpoint: Endpoint.get("/nodes/{node}/storage"),
    input: {
      node: nodeField,
      content: Schema.optional(
        Schema.String.pipe(Schema.pattern(/^[a-z]+(,[a-z]+)*$/)).annotations({
          description: "Only with this content (iso, backup, ...)",
        }),
      ),
      ...pagingFields,
    },
    result: (data, input) => page(asArray(data), input),
  }),
  Tool.request({
    name: "pve_get_storage_status",
    title: "Get storage status",
    description: "One storage on one node: type, content, state, total, used, avail bytes.",
    category: "storage",
    tier: "read-only",
    endpoint: Endpoint.get("/nodes/{node}/storage/{storage}/status"),
    input: { node: nodeField, storage: StorageId },
  }),
]
