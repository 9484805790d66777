import { PVE_VERSION } from "../cluster.js"
import { parameterError } from "../errors.js"
import { optInt, optStr, type Route, reply } from "../router.js"

export const clusterRoutes: ReadonlyArray<Route> = [
  {
    method: "GET",
    path: "/version",
    handle: () => reply({ ...PVE_VERSION }),
  },
  {
    method: "GET",
    path: "/cluster/status",
    // As PVE: Sys.Audit on / (a token without it cannot read the cluster's name or quorum).
    permission: () => ({ path: "/", privilege: "Sys.Audit" }),
    handle: ({ cluster, endpointNode }) =>
      reply([
        {
          type: "cluster",
          id: "cluster",
          name: cluster.clusterName,
          nodes: cluster.nodes.length,
          quorate: cluster.isQuorate() ? 1 : 0,
          version: cluster.nodes.length + 1,
        },
        ...cluster.nodes.map((node) => {
          const model = cluster.requireNode(node)
          return {
            type: "node",
            id: `node/${node}`,
            name: node,
            nodeid: model.nodeid,
            ip: model.ip,
            local: node === endpointNode ? 1 : 0,
            online: cluster.isOnline(node) ? 1 : 0,
            level: "",
          }
        }),
      ]),
  },
  {
    method: "GET",
    path: "/cluster/resources",
    handle: ({ cluster, params }) => {
      const type = optStr(params, "type")
      const rows: Array<Record<string, unknown>> = []

      if (type === undefined || type === "vm") {
        for (const guest of cluster.allGuests()) {
          const base = {
            id: `${guest.type}/${guest.vmid}`,
            type: guest.type,
            vmid: guest.vmid,
            name: guest.name,
            node: guest.node,
            template: guest.template ? 1 : 0,
            maxcpu: guest.cores,
            ...(guest.tags === undefined ? {} : { tags: guest.tags }),
            ...(guest.lock === undefined ? {} : { lock: guest.lock }),
          }
          const metrics = cluster.guestMetrics(guest)
          // Without fresh data from an offline node PVE shows its guests as "unknown".
          rows.push(
            cluster.isOnline(guest.node)
              ? { ...base, status: guest.status, ...metrics }
              : { ...base, status: "unknown", maxmem: metrics.maxmem, maxdisk: metrics.maxdisk },
          )
        }
      }

      if (type === undefined || type === "node") {
        for (const node of cluster.nodes) {
          const base = { id: `node/${node}`, type: "node", node, level: "", "cgroup-mode": 2 }
          rows.push(
            cluster.isOnline(node)
              ? { ...base, status: "online", ...cluster.nodeMetrics(node) }
              : { ...base, status: "offline" },
          )
        }
      }

      if (type === undefined || type === "storage") {
        for (const node of cluster.nodes) {
          for (const spec of cluster.storages) {
            const base = {
              id: `storage/${node}/${spec.storage}`,
              type: "storage",
              storage: spec.storage,
              node,
              plugintype: spec.type,
              content: spec.content,
              shared: spec.shared ? 1 : 0,
            }
            if (!cluster.isOnline(node)) {
              rows.push({ ...base, status: "unknown" })
              continue
            }
            const usage = cluster.storageUsage(spec, node)
            rows.push({ ...base, status: "available", disk: usage.used, maxdisk: usage.total })
          }
        }
      }

      if (type === undefined || type === "sdn") {
        for (const node of cluster.nodes) {
          rows.push({ id: `sdn/${node}/localnetwork`, type: "sdn", sdn: "localnetwork", node, status: "ok" })
        }
      }

      return reply(rows)
    },
  },
  {
    method: "GET",
    path: "/cluster/nextid",
    handle: ({ cluster, params }) => {
      // PVE answers the id as a string.
      const wanted = optInt(params, "vmid")
      if (wanted !== undefined) {
        if (cluster.guest(wanted)) throw parameterError({ vmid: `VM ${wanted} already exists` })
        return reply(String(wanted))
      }
      let vmid = 100
      while (cluster.guest(vmid)) vmid++
      return reply(String(vmid))
    },
  },
]
