import type { Iface } from "../admin-state.js"
import { nodePermission, optStr, type Route, reply, str } from "../router.js"
import type { Params } from "../schema.js"

/** What `type` filters of GET /nodes/{node}/network select. */
const matchesType = (iface: Iface, type: string | undefined) => {
  if (type === undefined) return true
  if (type === "any_bridge" || type === "any_local_bridge")
    return iface.type === "bridge" || iface.type === "OVSBridge"
  return iface.type === type
}

/** The interface settings among validated parameters (booleans as PVE stores them, 1/0). */
const settingsOf = (params: Params): Record<string, string | number> => {
  const settings: Record<string, string | number> = {}
  for (const [key, value] of Object.entries(params)) {
    if (["node", "iface", "type", "delete"].includes(key)) continue
    if (typeof value === "boolean") settings[key] = value ? 1 : 0
    else if (typeof value === "string" || typeof value === "number") settings[key] = value
  }
  if (typeof settings.cidr === "string") {
    const [address = "", netmask = ""] = settings.cidr.split("/")
    settings.address = address
    settings.netmask = netmask
    settings.method = "static"
  }
  return settings
}

export const networkRoutes: ReadonlyArray<Route> = [
  {
    method: "GET",
    path: "/nodes/{node}/network",
    handle: ({ cluster, params }) => {
      const network = cluster.network(str(params, "node"))
      const type = optStr(params, "type")
      return reply(
        [...network.current.values()]
          .filter((iface) => matchesType(iface, type))
          .map((iface) => ({
            ...iface,
            priority: 0,
            ...(network.running.has(iface.iface) && iface.autostart === 1 ? { active: 1 } : {}),
          })),
      )
    },
  },
  {
    method: "GET",
    path: "/nodes/{node}/network/{iface}",
    permission: nodePermission("Sys.Audit"),
    handle: ({ cluster, params }) =>
      reply({ ...cluster.network(str(params, "node")).require(str(params, "iface")) }),
  },
  {
    method: "POST",
    path: "/nodes/{node}/network",
    permission: nodePermission("Sys.Modify"),
    quorumExempt: true,
    handle: ({ cluster, params }) => {
      const iface = str(params, "iface")
      cluster.network(str(params, "node")).create({
        method: "manual",
        families: "inet",
        ...settingsOf(params),
        iface,
        type: str(params, "type"),
      })
      return reply(null)
    },
  },
  {
    method: "PUT",
    path: "/nodes/{node}/network/{iface}",
    permission: nodePermission("Sys.Modify"),
    quorumExempt: true,
    handle: ({ cluster, params }) => {
      const remove = (optStr(params, "delete") ?? "").split(/[,;\s]+/).filter((key) => key !== "")
      cluster
        .network(str(params, "node"))
        .update(str(params, "iface"), str(params, "type"), settingsOf(params), remove)
      return reply(null)
    },
  },
  {
    method: "DELETE",
    path: "/nodes/{node}/network/{iface}",
    permission: nodePermission("Sys.Modify"),
    quorumExempt: true,
    handle: ({ cluster, params }) => {
      cluster.network(str(params, "node")).delete(str(params, "iface"))
      return reply(null)
    },
  },
  {
    method: "PUT",
    path: "/nodes/{node}/network",
    permission: nodePermission("Sys.Modify"),
    quorumExempt: true,
    handle: ({ cluster, params, token }) => {
      const node = str(params, "node")
      const network = cluster.network(node)
      const task = cluster.startTask({
        node,
        type: "srvreload",
        id: "networking",
        user: token.tokenId,
        lines: ["reloading network config"],
        apply: () => network.apply(),
      })
      return reply(task.upid)
    },
  },
  {
    method: "DELETE",
    path: "/nodes/{node}/network",
    permission: nodePermission("Sys.Modify"),
    quorumExempt: true,
    handle: ({ cluster, params }) => {
      cluster.network(str(params, "node")).revert()
      return reply(null)
    },
  },
]
