/** Input fields and request helpers shared by the tool declarations. */
import { Effect, Schema } from "effect"
import { IntegerInput, NodeName, Upid, VmId } from "../domain/ids.js"
import { type ApiRequest, ProxmoxApi } from "../proxmox/api.js"
import { type GuestType, NodeRegistry } from "../proxmox/registry.js"

export const nodeField = NodeName
export const optionalGuestNode = Schema.optional(
  NodeName.annotations({
    description:
      "Node that holds the guest. Optional: when omitted, the node is found from the vmid (also after a migration).",
  }),
)
export const vmidField = VmId
export const upidField = Upid
export const optionalUpidNode = Schema.optional(
  NodeName.annotations({
    description: "Node of the task. Optional: the node is part of the UPID; if given it must match.",
  }),
)

export const limitField = (description: string, maximum = 10_000) =>
  Schema.optional(IntegerInput({ minimum: 1, maximum, description }))

export const offsetField = Schema.optional(
  IntegerInput({ minimum: 0, maximum: 1_000_000, description: "Skip this many entries first (for paging)." }),
)

/** Sends one request with the API of the current environment. */
export const pve = (request: ApiRequest) => Effect.flatMap(ProxmoxApi, (api) => api.request(request))

/** Runs `use` on the guest's node (see `NodeRegistry.onGuestNode`). */
export const onGuestNode = <A, E, R>(
  input: { readonly node?: string | undefined; readonly vmid: number },
  type: GuestType,
  use: (node: string) => Effect.Effect<A, E, R>,
) => Effect.flatMap(NodeRegistry, (registry) => registry.onGuestNode(input, type, use))

export const requireNode = (node: string) =>
  Effect.flatMap(NodeRegistry, (registry) => registry.requireNode(node))

/** Applies `offset`/`limit` to a list PVE returns whole. */
export const page = <A>(
  items: ReadonlyArray<A>,
  input: { readonly offset?: number | undefined; readonly limit?: number | undefined },
) => items.slice(input.offset ?? 0, input.limit === undefined ? undefined : (input.offset ?? 0) + input.limit)

export const asArray = (data: unknown): ReadonlyArray<Record<string, unknown>> =>
  Array.isArray(data) ? (data as ReadonlyArray<Record<string, unknown>>) : []
