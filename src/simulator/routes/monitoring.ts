import type { ClusterState, GuestModel } from "../cluster.js"
import { serverError } from "../errors.js"
import { int, nodePermission, optInt, optStr, type Route, reply, str, vmPermission } from "../router.js"
import type { Params } from "../schema.js"

/** Seconds between points of each RRD timeframe (PVE answers about 70 points). */
const STEP: Readonly<Record<string, number>> = {
  hour: 60,
  day: 1800,
  week: 10_800,
  month: 43_200,
  year: 604_800,
  decade: 6_048_000,
}
const POINTS = 70

/** A smooth, deterministic wave around `base` (0..1), higher for MAX consolidation. */
const wave = (base: number, index: number, salt: number, max: boolean) => {
  const value = base * (0.85 + 0.15 * Math.sin(index / 5 + salt)) * (max ? 1.25 : 1)
  return Math.max(0, value)
}

const series = (params: Params, point: (index: number, max: boolean) => Record<string, number>) => {
  const step = STEP[str(params, "timeframe")] ?? 60
  const max = optStr(params, "cf") === "MAX"
  const end = Math.floor(Date.now() / 1000 / step) * step
  return Array.from({ length: POINTS }, (_, index) => ({
    time: end - (POINTS - 1 - index) * step,
    ...point(index, max),
  }))
}

const guestSeries = (cluster: ClusterState, guest: GuestModel, params: Params) => {
  const metrics = cluster.guestMetrics(guest)
  const running = guest.status !== "stopped"
  return series(params, (index, max) => ({
    maxcpu: guest.cores,
    maxmem: metrics.maxmem,
    maxdisk: metrics.maxdisk,
    disk: metrics.disk,
    ...(running
      ? {
          cpu: Math.min(1, wave(metrics.cpu, index, guest.vmid, max)),
          mem: Math.min(metrics.maxmem, Math.round(wave(metrics.mem, index, guest.vmid + 1, max))),
          netin: wave(2_000 + (guest.vmid % 7) * 900, index, 2, max),
          netout: wave(1_000 + (guest.vmid % 5) * 600, index, 3, max),
          diskread: wave(8_000 + (guest.vmid % 3) * 4_000, index, 4, max),
          diskwrite: wave(12_000 + (guest.vmid % 4) * 5_000, index, 5, max),
        }
      : {}),
  }))
}

const guestRrd = (type: "qemu" | "lxc"): Route => ({
  method: "GET",
  path: `/nodes/{node}/${type}/{vmid}/rrddata`,
  permission: vmPermission("VM.Audit"),
  handle: ({ cluster, params }) =>
    reply(guestSeries(cluster, cluster.requireGuest(str(params, "node"), type, int(params, "vmid")), params)),
})

const SERVICES: ReadonlyArray<readonly [string, string]> = [
  ["chrony", "chrony, an NTP client/server"],
  ["corosync", "Corosync Cluster Engine"],
  ["cron", "Regular background program processing daemon"],
  ["pve-cluster", "The Proxmox VE cluster filesystem"],
  ["pve-firewall", "Proxmox VE firewall"],
  ["pve-ha-crm", "PVE Cluster HA Resource Manager Daemon"],
  ["pve-ha-lrm", "PVE Local HA Resource Manager Daemon"],
  ["pvedaemon", "PVE API Daemon"],
  ["pvefw-logger", "Proxmox VE firewall logger"],
  ["pveproxy", "PVE API Proxy Server"],
  ["pvestatd", "PVE Status Daemon"],
  ["spiceproxy", "PVE SPICE Proxy Server"],
  ["sshd", "OpenBSD Secure Shell server"],
  ["systemd-journald", "Journal Service"],
  ["systemd-timesyncd", "Network Time Synchronization"],
]

/** The running VM the guest agent answers for (PVE: "VM N is not running" otherwise). */
const agentGuest = (cluster: ClusterState, params: Params) => {
  const guest = cluster.requireGuest(str(params, "node"), "qemu", int(params, "vmid"))
  if (guest.status === "stopped") throw serverError(`VM ${guest.vmid} is not running`)
  return guest
}

const isWindows = (guest: GuestModel) => /^win/i.test(guest.name)

const agentRoute = (
  command: string,
  answer: (cluster: ClusterState, guest: GuestModel) => unknown,
): Route => ({
  method: "GET",
  path: `/nodes/{node}/qemu/{vmid}/agent/${command}`,
  permission: vmPermission("VM.GuestAgent.Audit"),
  handle: ({ cluster, params }) => reply({ result: answer(cluster, agentGuest(cluster, params)) }),
})

const mac = (vmid: number) =>
  `bc:24:11:${[1, 2, 3].map((i) => ((vmid * 37 * i) % 256).toString(16).padStart(2, "0")).join(":")}`

export const monitoringRoutes: ReadonlyArray<Route> = [
  {
    method: "GET",
    path: "/nodes/{node}/rrddata",
    permission: nodePermission("Sys.Audit"),
    handle: ({ cluster, params }) => {
      const node = str(params, "node")
      const { hardware } = cluster.requireNode(node)
      const metrics = cluster.nodeMetrics(node)
      return reply(
        series(params, (index, max) => ({
          cpu: Math.min(1, wave(metrics.cpu, index, 1, max)),
          maxcpu: hardware.cpus,
          iowait: wave(0.002, index, 2, max),
          loadavg: wave(metrics.cpu * hardware.cpus, index, 3, max),
          memtotal: metrics.maxmem,
          memused: Math.min(metrics.maxmem, Math.round(wave(metrics.mem, index, 4, max))),
          swaptotal: 8 * 1024 ** 3,
          swapused: 0,
          roottotal: metrics.maxdisk,
          rootused: metrics.disk,
          netin: wave(45_000, index, 5, max),
          netout: wave(30_000, index, 6, max),
        })),
      )
    },
  },
  guestRrd("qemu"),
  guestRrd("lxc"),
  {
    method: "GET",
    path: "/nodes/{node}/dns",
    permission: nodePermission("Sys.Audit"),
    handle: () => reply({ search: "sim.lan", dns1: "192.168.100.1", dns2: "9.9.9.9" }),
  },
  {
    method: "GET",
    path: "/nodes/{node}/time",
    permission: nodePermission("Sys.Audit"),
    handle: () => {
      const time = Math.floor(Date.now() / 1000)
      return reply({ timezone: "Europe/Berlin", time, localtime: time + 3600 })
    },
  },
  {
    method: "GET",
    path: "/nodes/{node}/syslog",
    permission: nodePermission("Sys.Syslog"),
    handle: ({ cluster, params }) => {
      const node = str(params, "node")
      const service = optStr(params, "service")
      const stamp = new Date(cluster.requireNode(node).bootTime).toISOString().slice(0, 19).replace("T", " ")
      const lines = [
        `${stamp} ${node} kernel: Linux version 6.17.2-1-pve`,
        `${stamp} ${node} systemd[1]: Started pve-cluster.service - The Proxmox VE cluster filesystem.`,
        `${stamp} ${node} corosync[1234]:   [QUORUM] Members[${cluster.nodes.length}]`,
        `${stamp} ${node} pveproxy[2345]: starting 3 worker(s)`,
        `${stamp} ${node} pvestatd[2346]: status update time (0.512 seconds)`,
        ...cluster
          .listTasks()
          .filter((task) => task.node === node)
          .map((task) => `${stamp} ${node} pvedaemon[2400]: <${task.user}> starting task ${task.upid}`),
      ].filter((line) => service === undefined || line.includes(` ${service}[`))
      const start = optInt(params, "start") ?? 0
      const limit = optInt(params, "limit") ?? 50
      return reply(
        lines.slice(start, start + limit).map((t, index) => ({ n: start + index + 1, t })),
        lines.length,
      )
    },
  },
  {
    method: "GET",
    path: "/nodes/{node}/services",
    permission: nodePermission("Sys.Audit"),
    handle: () =>
      reply(
        SERVICES.map(([service, desc]) => ({
          service,
          name: service,
          desc,
          state: "running",
          "active-state": "active",
          "unit-state": "enabled",
        })),
      ),
  },
  agentRoute("info", () => ({
    version: "9.2.0",
    supported_commands: [
      "guest-info",
      "guest-ping",
      "guest-get-osinfo",
      "guest-get-fsinfo",
      "guest-network-get-interfaces",
    ].map((name) => ({ name, enabled: true, "success-response": true })),
  })),
  agentRoute("network-get-interfaces", (_cluster, guest) => [
    {
      name: isWindows(guest) ? "Loopback Pseudo-Interface 1" : "lo",
      "hardware-address": "00:00:00:00:00:00",
      "ip-addresses": [{ "ip-address-type": "ipv4", "ip-address": "127.0.0.1", prefix: 8 }],
    },
    {
      name: isWindows(guest) ? "Ethernet" : "eth0",
      "hardware-address": mac(guest.vmid),
      "ip-addresses": [
        { "ip-address-type": "ipv4", "ip-address": `192.168.100.${100 + (guest.vmid % 150)}`, prefix: 24 },
      ],
      statistics: {
        "rx-bytes": 1_000 * guest.vmid,
        "tx-bytes": 600 * guest.vmid,
        "rx-packets": guest.vmid,
        "tx-packets": guest.vmid,
      },
    },
  ]),
  agentRoute("get-osinfo", (_cluster, guest) =>
    isWindows(guest)
      ? {
          id: "mswindows",
          name: "Microsoft Windows",
          "pretty-name": "Windows 11 Pro",
          version: "11",
          machine: "x86_64",
          "kernel-release": "26100",
        }
      : {
          id: "debian",
          name: "Debian GNU/Linux",
          "pretty-name": "Debian GNU/Linux 13 (trixie)",
          version: "13 (trixie)",
          "version-id": "13",
          machine: "x86_64",
          "kernel-release": "6.12.48+deb13-amd64",
        },
  ),
  agentRoute("get-fsinfo", (cluster, guest) => {
    const total = guest.diskGiB * 1024 ** 3
    return [
      {
        name: isWindows(guest) ? "C:\\" : "sda1",
        mountpoint: isWindows(guest) ? "C:\\" : "/",
        type: isWindows(guest) ? "NTFS" : "ext4",
        "total-bytes": Math.round(total * 0.97),
        "used-bytes": Math.round(total * (0.2 + (cluster.guestPid(guest) % 50) / 100)),
        disk: [{ "bus-type": "scsi", bus: 0, target: 0, unit: 0, serial: `drive-scsi0-${guest.vmid}` }],
      },
    ]
  }),
]
