import type { ClusterState, GuestModel } from "../cluster.js"
import { int, type Route, reply, str, vmPermission } from "../router.js"
import { powerRoutes } from "./guest-power.js"

const MiB = 1024 ** 2

/** pve-container's vmstatus, shared by the list and status/current. */
const ctStatus = (cluster: ClusterState, guest: GuestModel) => {
  const metrics = cluster.guestMetrics(guest)
  return {
    // pve-container reports the id as a string (see fixtures/lxc-list.json).
    vmid: String(guest.vmid),
    name: guest.name,
    type: "lxc",
    // A frozen (suspended) container is still running as far as lxc-info is concerned.
    status: guest.status === "stopped" ? "stopped" : "running",
    cpus: guest.cores,
    ...metrics,
    maxswap: 512 * MiB,
    swap: 0,
    ...(guest.status === "stopped" ? {} : { pid: cluster.guestPid(guest) }),
    ...(guest.tags === undefined ? {} : { tags: guest.tags }),
    ...(guest.lock === undefined ? {} : { lock: guest.lock }),
    ...(guest.template ? { template: 1 } : {}),
  }
}

export const lxcRoutes: ReadonlyArray<Route> = [
  {
    method: "GET",
    path: "/nodes/{node}/lxc",
    handle: ({ cluster, params }) =>
      reply(cluster.guestsOn(str(params, "node"), "lxc").map((guest) => ctStatus(cluster, guest))),
  },
  {
    method: "GET",
    path: "/nodes/{node}/lxc/{vmid}/status/current",
    permission: vmPermission("VM.Audit"),
    handle: ({ cluster, params }) => {
      const guest = cluster.requireGuest(str(params, "node"), "lxc", int(params, "vmid"))
      return reply({ ...ctStatus(cluster, guest), ha: { managed: 0 } })
    },
  },
  {
    method: "GET",
    path: "/nodes/{node}/lxc/{vmid}/config",
    permission: vmPermission("VM.Audit"),
    handle: ({ cluster, params }) => {
      const config = cluster.guestConfig(
        cluster.requireGuest(str(params, "node"), "lxc", int(params, "vmid")),
      )
      return reply({ ...config, digest: cluster.configDigest(config) })
    },
  },
  ...powerRoutes("lxc"),
]
