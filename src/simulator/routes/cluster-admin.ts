import { serverError } from "../errors.js"
import { optInt, type Permission, type Route, reply } from "../router.js"

const onRoot = (privilege: string) => (): Permission => ({ path: "/", privilege })

export const clusterAdminRoutes: ReadonlyArray<Route> = [
  {
    method: "GET",
    path: "/cluster/log",
    handle: ({ cluster, params, token }) => {
      // The cluster log holds task starts and ends, newest first; without Sys.Syslog on / only
      // the caller's own entries.
      const everything = cluster.access.allowed(token.tokenId, "/", "Sys.Syslog")
      const entries = cluster
        .listTasks()
        .filter((task) => everything || task.user === token.tokenId)
        .flatMap((task) => [
          {
            time: task.starttime,
            node: task.node,
            user: task.user,
            tag: "pvedaemon",
            msg: `starting task ${task.upid}`,
            pri: 6,
          },
          ...(task.endtime === undefined
            ? []
            : [
                {
                  time: task.endtime,
                  node: task.node,
                  user: task.user,
                  tag: "pvedaemon",
                  msg: `end task ${task.upid} ${task.exitstatus ?? ""}`.trim(),
                  pri: task.exitstatus === "OK" ? 6 : 3,
                },
              ]),
        ])
        .sort((a, b) => b.time - a.time)
        .slice(0, optInt(params, "max") ?? 50)
      return reply(entries.map((entry, index) => ({ uid: `${entries.length - index}`, pid: 2400, ...entry })))
    },
  },
  {
    method: "GET",
    path: "/cluster/options",
    handle: () =>
      reply({
        keyboard: "en-us",
        console: "html5",
        mac_prefix: "BC:24:11",
        migration: { type: "secure" },
        ha: { shutdown_policy: "conditional" },
        "next-id": { lower: 100, upper: 1000000 },
      }),
  },
  {
    method: "GET",
    path: "/cluster/replication",
    handle: () => reply([]),
  },
  {
    method: "GET",
    path: "/cluster/ha/status/current",
    permission: onRoot("Sys.Audit"),
    handle: ({ cluster }) => {
      const now = Math.floor(Date.now() / 1000)
      const master = cluster.nodes.find((node) => cluster.isOnline(node)) ?? cluster.nodes[0]!
      return reply([
        {
          id: "quorum",
          type: "quorum",
          node: master,
          quorate: cluster.isQuorate() ? 1 : 0,
          status: cluster.isQuorate() ? "OK" : "No quorum on node",
        },
        {
          id: "master",
          type: "master",
          node: master,
          status: `${master} (active, ${new Date(now * 1000).toUTCString()})`,
          timestamp: now,
        },
        ...cluster.nodes.map((node) => ({
          id: `lrm:${node}`,
          type: "lrm",
          node,
          status: cluster.isOnline(node)
            ? `${node} (idle, ${new Date(now * 1000).toUTCString()})`
            : `${node} (old timestamp - dead?)`,
          timestamp: now,
        })),
      ])
    },
  },
  {
    method: "GET",
    path: "/cluster/backup-info/not-backed-up",
    permission: onRoot("Sys.Audit"),
    // The simulator has no backup jobs (yet): every guest that is not a template is listed.
    handle: ({ cluster }) =>
      reply(
        cluster
          .allGuests()
          .filter((guest) => !guest.template)
          .map((guest) => ({ vmid: guest.vmid, name: guest.name, type: guest.type })),
      ),
  },
  {
    method: "GET",
    path: "/cluster/ha/groups",
    permission: onRoot("Sys.Audit"),
    handle: () => reply([]),
  },
  {
    method: "GET",
    path: "/cluster/ceph/status",
    permission: onRoot("Sys.Audit"),
    // PVE::Ceph::Tools::check_ceph_inited on a cluster without Ceph packages.
    handle: () => {
      throw serverError("binary not installed: /usr/bin/ceph-mon")
    },
  },
]
