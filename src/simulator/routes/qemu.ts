import type { ClusterState, GuestModel } from "../cluster.js"
import { int, optBool, type Route, reply, str, vmPermission } from "../router.js"
import { powerRoutes } from "./guest-power.js"

/** Fields /nodes/{node}/qemu and status/current share (qemu-server's vmstatus). */
const vmStatus = (cluster: ClusterState, guest: GuestModel) => {
  const metrics = cluster.guestMetrics(guest)
  return {
    vmid: guest.vmid,
    name: guest.name,
    // A paused VM is still a running QEMU process; qmpstatus tells "paused" apart.
    status: guest.status === "stopped" ? "stopped" : "running",
    cpus: guest.cores,
    ...metrics,
    ...(guest.status === "stopped" ? {} : { pid: cluster.guestPid(guest) }),
    ...(guest.tags === undefined ? {} : { tags: guest.tags }),
    ...(guest.lock === undefined ? {} : { lock: guest.lock }),
    ...(guest.template ? { template: 1 } : {}),
  }
}

export const qemuRoutes: ReadonlyArray<Route> = [
  {
    method: "GET",
    path: "/nodes/{node}/qemu",
    handle: ({ cluster, params }) => {
      const full = optBool(params, "full") === true
      return reply(
        cluster
          .guestsOn(str(params, "node"), "qemu")
          .map((guest) => ({ ...vmStatus(cluster, guest), ...(full ? { qmpstatus: guest.status } : {}) })),
      )
    },
  },
  {
    method: "GET",
    path: "/nodes/{node}/qemu/{vmid}/status/current",
    permission: vmPermission("VM.Audit"),
    handle: ({ cluster, params }) => {
      const guest = cluster.requireGuest(str(params, "node"), "qemu", int(params, "vmid"))
      const status = vmStatus(cluster, guest)
      const running =
        guest.status === "stopped"
          ? {}
          : {
              "running-machine": "pc-i440fx-9.2+pve1",
              "running-qemu": "9.2.0",
              balloon: status.maxmem,
              freemem: status.maxmem - status.mem,
              nics: { [`tap${guest.vmid}i0`]: { netin: status.netin, netout: status.netout } },
            }
      return reply({ ...status, qmpstatus: guest.status, ha: { managed: 0 }, agent: 1, ...running })
    },
  },
  {
    method: "GET",
    path: "/nodes/{node}/qemu/{vmid}/config",
    permission: vmPermission("VM.Audit"),
    handle: ({ cluster, params }) => {
      const config = cluster.guestConfig(
        cluster.requireGuest(str(params, "node"), "qemu", int(params, "vmid")),
      )
      return reply({ ...config, digest: cluster.configDigest(config) })
    },
  },
  ...powerRoutes("qemu"),
]
