/**
 * What a call acts on. Every tool declares its targets as a function of its validated input;
 * the policy resolves them (node exists, guest located, its name and tags read) and checks each
 * one: resource patterns, protection, the confirmation text. Nothing here is guessed from field
 * names.
 */
import * as Data from "effect/Data"
import type { GuestType } from "./ids.js"

export type TargetRef = Data.TaggedEnum<{
  /** Cluster-wide: decided by role and tier only. */
  Cluster: {}
  /** A node, e.g. a node's status, or the target node of a migration. */
  Node: { readonly node: string }
  /**
   * An existing guest, located in `/cluster/resources` (`node` given: checked to exist, else
   * found from the vmid). `type` is absent when the tool works for either kind.
   */
  Guest: { readonly vmid: number; readonly type?: GuestType | undefined; readonly node?: string | undefined }
  /**
   * A guest id the call will create (a clone's `newid`, a restore's vmid): it need not exist.
   * Without `node` it is placed on the node of the call's first resolved target. When a guest
   * with that id exists (a restore over it), the target is that guest, with its name and tags.
   */
  NewGuest: { readonly vmid: number; readonly type: GuestType; readonly node?: string | undefined }
  /**
   * Every guest (of one node, or of the cluster): a call that names "all" acts on each of them,
   * so each is checked like a named guest (vzdump's `all`).
   */
  AllGuests: { readonly node?: string | undefined }
  /** A storage, cluster-wide (`/storage/{id}`) or on one node. */
  Storage: { readonly storage: string; readonly node?: string | undefined }
  Pool: { readonly pool: string }
  /** An object under `/access` (user, group, role, realm, ACL), named by its path. */
  Access: { readonly path: string }
  /** A task by UPID: its node, and the guest it works on when the UPID names one. */
  Task: { readonly upid: string }
}>

export const TargetRef = Data.taggedEnum<TargetRef>()

/** A target after resolution: where it is, and for guests their name and tags. */
export interface Target {
  readonly kind: TargetRef["_tag"]
  readonly node?: string
  readonly type?: GuestType
  readonly vmid?: number
  readonly storage?: string
  readonly pool?: string
  /** For `/access` targets: the object's path. */
  readonly path?: string
  /** The guest's name and tags from /cluster/resources (protection, confirmation text). */
  readonly name?: string
  readonly tags?: ReadonlyArray<string>
}

/**
 * The resource path a principal's patterns are matched against (SPEC 12): `/nodes/{node}`,
 * `/nodes/{node}/{type}/{vmid}`, `/nodes/{node}/storage/{id}`, `/storage/{id}`, `/pools/{id}`,
 * `/access/...`, or `/` for the cluster.
 */
export const resourcePath = (target: Target): string => {
  if (target.path !== undefined) return target.path
  if (target.pool !== undefined) return `/pools/${target.pool}`
  if (target.node !== undefined && target.type !== undefined && target.vmid !== undefined) {
    return `/nodes/${target.node}/${target.type}/${target.vmid}`
  }
  if (target.storage !== undefined) {
    return target.node === undefined
      ? `/storage/${target.storage}`
      : `/nodes/${target.node}/storage/${target.storage}`
  }
  if (target.node !== undefined) return `/nodes/${target.node}`
  return "/"
}
