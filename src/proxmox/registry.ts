/**
 * Which nodes exist and where each guest lives.
 *
 * Node names come from `GET /nodes`; a name found nowhere is `UNKNOWN_NODE` listing the known
 * ones. A guest is located from `/cluster/resources` (short cache, refreshed on a miss), so a
 * guest stays addressable by vmid alone after migration or HA relocation.
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { GuestNotFound, UnknownNode } from "../domain/errors.js"
import type { GuestType } from "../domain/ids.js"
import { type ApiError, fresh as freshReads, ProxmoxApi } from "./api.js"

export interface NodeSummary {
  readonly node: string
  readonly status: string
}

export interface GuestLocation {
  readonly vmid: number
  readonly node: string
  readonly type: GuestType
  readonly name?: string
  readonly status?: string
  readonly tags: ReadonlyArray<string>
  readonly template: boolean
}

export interface NodeRegistryService {
  readonly nodes: Effect.Effect<ReadonlyArray<NodeSummary>, ApiError>
  /** Succeeds with the node name when the cluster knows it (refreshing once on a miss). */
  readonly requireNode: (node: string) => Effect.Effect<string, UnknownNode | ApiError>
  /** Finds a guest by vmid anywhere in the cluster (refreshing once on a miss). */
  readonly locateGuest: (
    vmid: number,
    type?: GuestType,
    options?: { readonly fresh?: boolean },
  ) => Effect.Effect<GuestLocation, GuestNotFound | ApiError>
  /** Every guest of the cluster (or of one node), read fresh: for calls that act on all of them. */
  readonly guests: (node?: string) => Effect.Effect<ReadonlyArray<GuestLocation>, ApiError>
  /**
   * Runs `use` on the guest's node: the given `node` (checked to exist), else the node that
   * `/cluster/resources` names. When that location came from the cache and Proxmox says the
   * guest does not exist there, the guest moved: its location is looked up afresh and `use` runs
   * once more on the new node (safe for mutations too: PVE refused before acting).
   */
  readonly onGuestNode: <A, E, R>(
    target: { readonly node?: string | undefined; readonly vmid: number },
    type: GuestType,
    use: (node: string) => Effect.Effect<A, E, R>,
  ) => Effect.Effect<A, E | UnknownNode | GuestNotFound | ApiError, R>
}

export class NodeRegistry extends Context.Tag("proxmox-mcp/NodeRegistry")<
  NodeRegistry,
  NodeRegistryService
>() {}

export interface RegistryOptions {
  readonly nodesTtl?: Duration.DurationInput
  readonly resourcesTtl?: Duration.DurationInput
}

const asRecords = (data: unknown): ReadonlyArray<Record<string, unknown>> =>
  Array.isArray(data)
    ? data.filter((x): x is Record<string, unknown> => typeof x === "object" && x !== null)
    : []

/** PVE separates tags with `;` (also accepts `,` and spaces on input). */
export const parseTags = (raw: unknown): ReadonlyArray<string> =>
  typeof raw === "string" ? raw.split(/[;,\s]+/).filter((t) => t !== "") : []

export const make = (options: RegistryOptions = {}) =>
  Effect.gen(function* () {
    const api = yield* ProxmoxApi

    const fetchNodes = Effect.map(api.request({ method: "GET", path: "/nodes" }), (data) =>
      asRecords(data)
        .filter((n) => typeof n.node === "string")
        .map((n) => ({ node: String(n.node), status: String(n.status ?? "unknown") })),
    )
    const fetchGuests = Effect.map(
      api.request({ method: "GET", path: "/cluster/resources", params: { type: "vm" } }),
      (data) =>
        asRecords(data)
          .filter(
            (r) =>
              (r.type === "qemu" || r.type === "lxc") && r.vmid !== undefined && typeof r.node === "string",
          )
          .map(
            (r): GuestLocation => ({
              vmid: Number(r.vmid),
              node: String(r.node),
              type: r.type as GuestType,
              ...(typeof r.name === "string" ? { name: r.name } : {}),
              ...(typeof r.status === "string" ? { status: r.status } : {}),
              tags: parseTags(r.tags),
              template: Number(r.template ?? 0) === 1,
            }),
          ),
    )

    // Only answers are cached: a failed look-up is dropped at once, so one bad moment does not
    // fail every node-addressed call for the whole TTL.
    const cacheAnswers = <A>(fetch: Effect.Effect<A, ApiError>, ttl: Duration.DurationInput) =>
      Effect.map(Effect.cachedInvalidateWithTTL(fetch, ttl), ([cached, invalidate]) => {
        const answered: Effect.Effect<A, ApiError> = Effect.tapError(cached, () => invalidate)
        return [answered, invalidate] as const
      })
    const [cachedNodes, invalidateNodes] = yield* cacheAnswers(fetchNodes, options.nodesTtl ?? "30 seconds")
    const [cachedGuests, invalidateGuests] = yield* cacheAnswers(
      fetchGuests,
      options.resourcesTtl ?? "5 seconds",
    )

    /** Looks in the cache, and on a miss once more in fresh data. */
    const lookup = <A, B>(
      cached: Effect.Effect<A, ApiError>,
      invalidate: Effect.Effect<void>,
      find: (a: A) => B | undefined,
    ) =>
      Effect.gen(function* () {
        const hit = find(yield* cached)
        if (hit !== undefined) return { found: hit, latest: undefined as A | undefined }
        yield* invalidate
        const latest = yield* cached
        return { found: find(latest), latest }
      })

    const requireNode = (node: string) =>
      Effect.gen(function* () {
        const { found, latest } = yield* lookup(cachedNodes, invalidateNodes, (nodes) =>
          nodes.find((n) => n.node === node),
        )
        if (found !== undefined) return found.node
        return yield* new UnknownNode({ node, knownNodes: (latest ?? []).map((n) => n.node) })
      })

    const locateGuest = (vmid: number, type?: GuestType, options: { readonly fresh?: boolean } = {}) =>
      Effect.gen(function* () {
        if (options.fresh === true) yield* invalidateGuests
        const { found } = yield* lookup(cachedGuests, invalidateGuests, (guests) =>
          guests.find((g) => g.vmid === vmid && (type === undefined || g.type === type)),
        )
        if (found !== undefined) return found
        return yield* new GuestNotFound({ vmid, ...(type === undefined ? {} : { guestType: type }) })
      })

    const isNotFound = (error: unknown) =>
      typeof error === "object" &&
      error !== null &&
      (error as { code?: unknown }).code === "PROXMOX_NOT_FOUND"

    const onGuestNode = <A, E, R>(
      target: { readonly node?: string | undefined; readonly vmid: number },
      type: GuestType,
      use: (node: string) => Effect.Effect<A, E, R>,
    ): Effect.Effect<A, E | UnknownNode | GuestNotFound | ApiError, R> => {
      if (target.node !== undefined) return Effect.flatMap(requireNode(target.node), use)
      return Effect.flatMap(locateGuest(target.vmid, type), (cached) =>
        use(cached.node).pipe(
          Effect.catchIf(isNotFound, (notFound) =>
            Effect.gen(function* () {
              yield* invalidateGuests
              // Its own request: one already in flight may predate the move.
              const moved = yield* freshReads(locateGuest(target.vmid, type))
              return moved.node === cached.node ? yield* Effect.fail(notFound) : yield* use(moved.node)
            }),
          ),
        ),
      )
    }

    const guests = (node?: string) =>
      Effect.map(Effect.zipRight(invalidateGuests, cachedGuests), (all) =>
        node === undefined ? all : all.filter((guest) => guest.node === node),
      )

    return NodeRegistry.of({ nodes: cachedNodes, requireNode, locateGuest, onGuestNode, guests })
  })

export const layer = (options: RegistryOptions = {}) => Layer.effect(NodeRegistry, make(options))

/**
 * The registry with its cache lifetimes read from configuration, in the embedder's own variables
 * (e.g. `layerConfig({ nodesTtl: Config.duration("NODES_TTL") })`): proxmox-mcp defines none
 * for them, and its binary uses the defaults.
 */
export const layerConfig = (options: Config.Config.Wrap<RegistryOptions>) =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(options), layer))
