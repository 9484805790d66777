import type { ClusterState } from "../cluster.js"
import { optStr, type Route, reply, storagePermission, str } from "../router.js"
import type { StorageSpec } from "../seed.js"

/** One storage as a node sees it (pvesm status). */
const storageStatus = (cluster: ClusterState, spec: StorageSpec, node: string) => {
  const usage = cluster.storageUsage(spec, node)
  return {
    type: spec.type,
    content: spec.content,
    active: 1,
    enabled: 1,
    shared: spec.shared ? 1 : 0,
    total: usage.total,
    used: usage.used,
    avail: usage.avail,
  }
}

export const storageRoutes: ReadonlyArray<Route> = [
  {
    method: "GET",
    path: "/storage",
    handle: ({ cluster, params }) => {
      const type = optStr(params, "type")
      const digest = cluster.storageDigest()
      return reply(
        cluster.storages
          .filter((spec) => type === undefined || spec.type === type)
          .map((spec) => ({
            storage: spec.storage,
            type: spec.type,
            content: spec.content,
            ...spec.settings,
            ...(spec.shared && spec.type !== "nfs" ? { shared: 1 } : {}),
            digest,
          })),
      )
    },
  },
  {
    method: "GET",
    path: "/nodes/{node}/storage",
    handle: ({ cluster, params }) => {
      const node = str(params, "node")
      const only = optStr(params, "storage")
      const contentTypes = optStr(params, "content")?.split(/[,;\s]+/)
      // Every simulated storage is enabled and available on every node, so the `enabled`,
      // `format` and `target` filters keep them all.
      return reply(
        cluster.storages
          .filter((spec) => only === undefined || spec.storage === only)
          .filter(
            (spec) =>
              contentTypes === undefined ||
              contentTypes.some((content) => spec.content.split(",").includes(content)),
          )
          .map((spec) => {
            const status = storageStatus(cluster, spec, node)
            return { storage: spec.storage, ...status, used_fraction: status.used / status.total }
          }),
      )
    },
  },
  {
    method: "GET",
    path: "/nodes/{node}/storage/{storage}/status",
    permission: storagePermission("Datastore.Audit"),
    handle: ({ cluster, params }) =>
      reply(storageStatus(cluster, cluster.requireStorage(str(params, "storage")), str(params, "node"))),
  },
]
