import { serverError } from "../errors.js"
import { optBool, optStr, type Permission, type Route, reply, str } from "../router.js"
import type { RawParams } from "../schema.js"

const poolPermission =
  (privilege: string) =>
  (raw: RawParams): Permission => ({ path: `/pool/${String(raw.poolid)}`, privilege })

const split = (value: string | undefined) =>
  value === undefined ? [] : value.split(/[,;\s]+/).filter((item) => item !== "")

export const poolRoutes: ReadonlyArray<Route> = [
  {
    method: "GET",
    path: "/pools",
    handle: ({ cluster, params }) => {
      const only = optStr(params, "poolid")
      return reply(
        [...cluster.pools.pools.entries()]
          .filter(([poolid]) => only === undefined || poolid === only)
          .map(([poolid, pool]) => ({
            poolid,
            ...(pool.comment === undefined ? {} : { comment: pool.comment }),
          })),
      )
    },
  },
  {
    method: "GET",
    path: "/pools/{poolid}",
    permission: poolPermission("Pool.Audit"),
    handle: ({ cluster, params }) => {
      const pool = cluster.pools.require(str(params, "poolid"))
      const type = optStr(params, "type")
      const guests = [...pool.vms]
        .map((vmid) => cluster.guest(vmid))
        .filter((guest) => guest !== undefined)
        .filter((guest) => type === undefined || guest.type === type)
        .map((guest) => ({
          id: `${guest.type}/${guest.vmid}`,
          type: guest.type,
          vmid: guest.vmid,
          name: guest.name,
          node: guest.node,
          status: guest.status === "paused" ? "running" : guest.status,
          template: guest.template ? 1 : 0,
        }))
      const storages =
        type === undefined || type === "storage"
          ? [...pool.storage].flatMap((storage) =>
              cluster.nodes.map((node) => ({
                id: `storage/${node}/${storage}`,
                type: "storage",
                storage,
                node,
              })),
            )
          : []
      return reply({
        ...(pool.comment === undefined ? {} : { comment: pool.comment }),
        members: [...guests, ...storages],
      })
    },
  },
  {
    method: "POST",
    path: "/pools",
    permission: poolPermission("Pool.Allocate"),
    handle: ({ cluster, params }) => {
      const poolid = str(params, "poolid")
      if (cluster.pools.pools.has(poolid)) throw serverError(`pool '${poolid}' already exists`)
      const comment = optStr(params, "comment")
      cluster.pools.pools.set(poolid, {
        ...(comment === undefined ? {} : { comment }),
        vms: new Set(),
        storage: new Set(),
      })
      return reply(null)
    },
  },
  {
    method: "PUT",
    path: "/pools",
    permission: poolPermission("Pool.Allocate"),
    handle: ({ cluster, params }) => {
      const poolid = str(params, "poolid")
      const pool = cluster.pools.require(poolid)
      const remove = optBool(params, "delete") === true
      const vms = split(optStr(params, "vms")).map(Number)
      const storages = split(optStr(params, "storage"))
      for (const vmid of vms) {
        if (!cluster.guest(vmid)) throw serverError(`VM ${vmid} does not exist`)
        const current = cluster.pools.poolOf(vmid)
        if (!remove && current !== undefined && current !== poolid && optBool(params, "allow-move") !== true)
          throw serverError(`VM ${vmid} belongs already to pool '${current}'`)
      }
      for (const storage of storages) cluster.requireStorage(storage)
      const comment = optStr(params, "comment")
      if (comment !== undefined) pool.comment = comment
      for (const vmid of vms) {
        if (remove) pool.vms.delete(vmid)
        else {
          for (const other of cluster.pools.pools.values()) other.vms.delete(vmid)
          pool.vms.add(vmid)
        }
      }
      for (const storage of storages) {
        if (remove) pool.storage.delete(storage)
        else pool.storage.add(storage)
      }
      return reply(null)
    },
  },
  {
    method: "DELETE",
    path: "/pools",
    permission: poolPermission("Pool.Allocate"),
    handle: ({ cluster, params }) => {
      const poolid = str(params, "poolid")
      const pool = cluster.pools.require(poolid)
      if (pool.vms.size > 0 || pool.storage.size > 0) throw serverError("pool is not empty")
      cluster.pools.pools.delete(poolid)
      return reply(null)
    },
  },
]
