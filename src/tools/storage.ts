import { Effect, Schema } from "effect"
import { StorageId } from "../domain/ids.js"
import { asArray, limitField, nodeField, offsetField, page, pve, requireNode } from "./common.js"
import { defineTool } from "./tool.js"

export const storageTools = [
  defineTool({
    name: "pve_list_storage",
    title: "List storage definitions",
    description:
      "The cluster's storage definitions (id, type, content types, path or server, shared, nodes). For usage figures use pve_list_node_storage.",
    category: "storage",
    tier: "read-only",
    destructive: false,
    confirm: false,
    input: {
      type: Schema.optional(
        Schema.String.pipe(Schema.pattern(/^[a-z0-9]+$/)).annotations({
          description: "Only storages of this type (dir, lvmthin, nfs, zfspool, rbd, pbs, ...)",
        }),
      ),
      limit: limitField("Return at most this many entries."),
      offset: offsetField,
    },
    endpoints: [{ method: "GET", path: "/storage" }],
    run: (input) =>
      Effect.map(pve({ method: "GET", path: "/storage", params: { type: input.type } }), (data) => ({
        data: page(asArray(data), input),
      })),
  }),
  defineTool({
    name: "pve_list_node_storage",
    title: "List storage on a node",
    description:
      "The storages available on one node with status and usage (total, used, avail bytes, active, enabled, content types).",
    category: "storage",
    tier: "read-only",
    destructive: false,
    confirm: false,
    input: {
      node: nodeField,
      content: Schema.optional(
        Schema.String.pipe(Schema.pattern(/^[a-z]+(,[a-z]+)*$/)).annotations({
          description:
            "Only storages that hold this content type (images, rootdir, iso, vztmpl, backup, snippets)",
        }),
      ),
      limit: limitField("Return at most this many entries."),
      offset: offsetField,
    },
    endpoints: [{ method: "GET", path: "/nodes/{node}/storage" }],
    run: (input) =>
      Effect.gen(function* () {
        const node = yield* requireNode(input.node)
        const data = yield* pve({
          method: "GET",
          path: "/nodes/{node}/storage",
          pathParams: { node },
          params: { content: input.content },
        })
        return { data: page(asArray(data), input), node }
      }),
  }),
  defineTool({
    name: "pve_get_storage_status",
    title: "Get storage status",
    description:
      "Status and usage of one storage on one node: type, content, active, enabled, total, used and avail bytes.",
    category: "storage",
    tier: "read-only",
    destructive: false,
    confirm: false,
    input: { node: nodeField, storage: StorageId },
    endpoints: [{ method: "GET", path: "/nodes/{node}/storage/{storage}/status" }],
    run: (input) =>
      Effect.gen(function* () {
        const node = yield* requireNode(input.node)
        const data = yield* pve({
          method: "GET",
          path: "/nodes/{node}/storage/{storage}/status",
          pathParams: { node, storage: input.storage },
        })
        return { data, node }
      }),
  }),
]
