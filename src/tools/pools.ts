/**
 * Resource pools through the PVE 8+ `/pools` endpoints: update and delete send `poolid` as a
 * parameter (`PUT /pools`, `DELETE /pools`); NANDI's `/pools/{poolid}` forms of them are
 * deprecated in PVE 8.1+. Changes target `/pools/{poolid}`.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { ToolInputRejected } from "../domain/errors.js"
import { PoolId } from "../domain/ids.js"
import { TargetRef } from "../domain/target.js"
import { asArray, page, pagingFields, sortBy } from "./common.js"
import * as Endpoint from "./endpoint.js"
import * as Tool from "./tool.js"

const updatePool = Endpoint.put("/pools")

const comment = Schema.String.pipe(
  Schema.maxLength(4096),
  Schema.pattern(/^[^\n\r]*$/, { message: () => "one line" }),
).annotations({ description: "Comment (one line)" })

const poolTarget = (input: { readonly poolid: string }) => [TargetRef.Pool({ pool: input.poolid })]

const memberType = Schema.optional(
  Schema.Literal("qemu", "lxc", "storage").annotations({ description: "Only members of this type" }),
)

export const poolTools = [
  Tool.request({
    name: "pve_list_pools",
    title: "List resource pools",
    description: "Resource pools (poolid, comment); members with pve_get_pool.",
    category: "pools",
    tier: "read-only",
    endpoint: Endpoint.get("/pools"),
    input: { type: memberType, ...pagingFields },
    result: (data, input) => page(sortBy("poolid")(asArray(data)), input),
  }),
  Tool.request({
    name: "pve_get_pool",
    title: "Get a resource pool",
    description: "One pool's comment and members (guests with vmid, node, status; storages).",
    category: "pools",
    tier: "read-only",
    endpoint: Endpoint.get("/pools/{poolid}"),
    input: { poolid: PoolId, type: memberType },
  }),
  Tool.request({
    name: "pve_create_pool",
    title: "Create a resource pool",
    description: "Creates an empty resource pool; add guests and storages with pve_update_pool.",
    category: "pools",
    tier: "full",
    destructive: false,
    endpoint: Endpoint.post("/pools"),
    input: { poolid: PoolId, comment: Schema.optional(comment) },
    targets: poolTarget,
  }),
  Tool.make({
    name: "pve_update_pool",
    title: "Update a resource pool",
    description: "Sets a pool's comment, adds guests (vms) and storages, or removes them (delete: true).",
    category: "pools",
    tier: "full",
    confirm: true,
    idempotent: true,
    impact: "The pool's members change; permissions granted on the pool follow its members.",
    input: {
      poolid: PoolId,
      comment: Schema.optional(comment),
      vms: Schema.optional(
        Schema.String.pipe(
          Schema.maxLength(4096),
          Schema.pattern(/^[1-9]\d{2,8}([,; ][1-9]\d{2,8})*$/, {
            message: () => "guest ids separated by commas",
          }),
        ).annotations({ description: "Guest ids, comma-separated (100,101)" }),
      ),
      storage: Schema.optional(
        Schema.String.pipe(
          Schema.maxLength(4096),
          Schema.pattern(/^[a-zA-Z][a-zA-Z0-9\-_.]*[a-zA-Z0-9]([,; ][a-zA-Z][a-zA-Z0-9\-_.]*[a-zA-Z0-9])*$/, {
            message: () => "storage ids separated by commas",
          }),
        ).annotations({ description: "Storage ids, comma-separated" }),
      ),
      delete: Schema.optional(
        Schema.Boolean.annotations({
          description: "Remove instead of add",
        }),
      ),
      "allow-move": Schema.optional(
        Schema.Boolean.annotations({ description: "Move guests from another pool" }),
      ),
    },
    endpoints: [updatePool],
    targets: poolTarget,
    run: (input) =>
      Effect.gen(function* () {
        if (input.comment === undefined && input.vms === undefined && input.storage === undefined)
          return yield* new ToolInputRejected({ message: "Give at least one of comment, vms, storage." })
        yield* updatePool.call({}, Tool.paramsOf(input, new Set()))
        return { data: { poolid: input.poolid, updated: true } }
      }),
  }),
  Tool.request({
    name: "pve_delete_pool",
    title: "Delete a resource pool",
    description: "Deletes an empty resource pool (PVE refuses while it has members).",
    category: "pools",
    tier: "full",
    confirm: true,
    impact: "The pool and the permissions granted on it are removed.",
    endpoint: Endpoint.del("/pools"),
    input: { poolid: PoolId },
    targets: poolTarget,
  }),
]
