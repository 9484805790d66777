// Read-mostly guest and node data: the QEMU guest agent, guest rrddata, cloud-init dumps, HA
// resources, replication state, the cluster task list, subscription and apt updates.
import { createHash } from "node:crypto"
import type { ClusterState, GuestModel } from "../cluster.js"
import { serverError } from "../errors.js"
import { inventoryOf } from "../inventory.js"
import { int, nodePermission, optInt, optStr, type Route, reply, str, vmPermission } from "../router.js"
import type { GuestType } from "../types.js"

/** The agent answers only for a running VM with the agent enabled. */
const agentGuest = (cluster: ClusterState, node: string, vmid: number): GuestModel => {
  const guest = cluster.requireGuest(node, "qemu", vmid)
  if (guest.status === "stopped") throw serverError(`VM ${vmid} is not running`)
  const agent = String(cluster.guestConfig(guest).agent ?? "0")
  if (!/^(1|enabled=1)/.test(agent)) throw serverError("No QEMU guest agent configured")
  return guest
}

const agentRead = (path: string, answer: (guest: GuestModel, cluster: ClusterState) => unknown): Route => ({
  method: "GET",
  path: `/nodes/{node}/qemu/{vmid}/agent/${path}`,
  permission: vmPermission("VM.GuestAgent.Audit"),
  handle: ({ cluster, params }) => {
    const guest = agentGuest(cluster, str(params, "node"), int(params, "vmid"))
    return reply({ result: answer(guest, cluster) })
  },
})

const ipOf = (vmid: number) => `192.168.100.${100 + (vmid % 150)}`

const TIMEFRAME_SECONDS: Readonly<Record<string, number>> = {
  hour: 60,
  day: 1800,
  week: 10_800,
  month: 43_200,
  year: 604_800,
}

const rrdRoute = (type: GuestType): Route => ({
  method: "GET",
  path: `/nodes/{node}/${type}/{vmid}/rrddata`,
  permission: vmPermission("VM.Audit"),
  handle: ({ cluster, params }) => {
    const guest = cluster.requireGuest(str(params, "node"), type, int(params, "vmid"))
    const step = TIMEFRAME_SECONDS[str(params, "timeframe")] ?? 60
    const max = optStr(params, "cf") === "MAX"
    const metrics = cluster.guestMetrics(guest)
    const now = Math.floor(Date.now() / 1000 / step) * step
    // 70 points like PVE; values vary per point and are higher for MAX.
    return reply(
      Array.from({ length: 70 }, (_, i) => {
        const wave = 1 + 0.2 * Math.sin((guest.vmid + i) / 5) + (max ? 0.25 : 0)
        const time = now - (69 - i) * step
        return guest.status === "stopped"
          ? { time, maxmem: metrics.maxmem, maxcpu: guest.cores, maxdisk: metrics.maxdisk }
          : {
              time,
              cpu: metrics.cpu * wave,
              maxcpu: guest.cores,
              mem: Math.round(metrics.mem * Math.min(wave, 1.3)),
              maxmem: metrics.maxmem,
              disk: metrics.disk,
              maxdisk: metrics.maxdisk,
              netin: Math.round(1800 * wave),
              netout: Math.round(900 * wave),
              diskread: Math.round(4000 * wave),
              diskwrite: Math.round(6500 * wave),
            }
      }),
    )
  },
})

const cloudInitDump = (cluster: ClusterState, guest: GuestModel, kind: string) => {
  const config = cluster.guestConfig(guest)
  if (kind === "user") {
    const keys = typeof config.sshkeys === "string" ? decodeURIComponent(config.sshkeys).split("\n") : []
    return [
      "#cloud-config",
      `hostname: ${guest.name}`,
      "manage_etc_hosts: true",
      `user: ${config.ciuser ?? "root"}`,
      ...(config.cipassword === undefined ? [] : ["password: **********"]),
      ...(keys.length === 0
        ? []
        : ["ssh_authorized_keys:", ...keys.filter((k) => k !== "").map((k) => `  - ${k}`)]),
      "chpasswd:",
      "  expire: False",
      "package_upgrade: true",
      "",
    ].join("\n")
  }
  if (kind === "network") {
    const ip = String(config.ipconfig0 ?? "ip=dhcp")
    return [
      "version: 1",
      "config:",
      "    - type: physical",
      "      name: eth0",
      `      subnets:`,
      `      - type: ${ip.includes("dhcp") ? "dhcp4" : "static"}`,
      "",
    ].join("\n")
  }
  const id = createHash("sha1").update(`ci-${guest.vmid}`).digest("hex")
  return `instance-id: ${id}\n`
}

export const guestExtraRoutes: ReadonlyArray<Route> = [
  agentRead("info", () => ({
    version: "8.2.2",
    supported_commands: [
      "exec",
      "exec-status",
      "get-osinfo",
      "get-fsinfo",
      "network-get-interfaces",
      "ping",
    ].map((name) => ({ name, enabled: true, "success-response": true })),
  })),
  agentRead("get-osinfo", (guest) =>
    /^win/i.test(guest.name)
      ? {
          id: "mswindows",
          name: "Microsoft Windows",
          "pretty-name": "Windows 11 Pro",
          version: "11",
          "kernel-release": "22631",
          machine: "x86_64",
        }
      : {
          id: "debian",
          name: "Debian GNU/Linux",
          "pretty-name": "Debian GNU/Linux 12 (bookworm)",
          version: "12 (bookworm)",
          "version-id": "12",
          "kernel-release": "6.1.0-28-amd64",
          machine: "x86_64",
        },
  ),
  agentRead("get-fsinfo", (guest) => [
    {
      name: "sda1",
      mountpoint: "/",
      type: "ext4",
      "total-bytes": guest.diskGiB * 1024 ** 3 * 0.95,
      "used-bytes": guest.diskGiB * 1024 ** 3 * 0.31,
      disk: [{ "bus-type": "scsi", bus: 0, target: 0, unit: 0, dev: "/dev/sda1" }],
    },
  ]),
  agentRead("network-get-interfaces", (guest) => [
    {
      name: "lo",
      "hardware-address": "00:00:00:00:00:00",
      "ip-addresses": [{ "ip-address-type": "ipv4", "ip-address": "127.0.0.1", prefix: 8 }],
    },
    {
      name: "eth0",
      "hardware-address":
        /virtio=([^,]+)/.exec(String(guest.extraConfig?.net0 ?? ""))?.[1]?.toLowerCase() ??
        "bc:24:11:00:00:01",
      "ip-addresses": [{ "ip-address-type": "ipv4", "ip-address": ipOf(guest.vmid), prefix: 24 }],
    },
  ]),
  {
    method: "POST",
    path: "/nodes/{node}/qemu/{vmid}/agent/exec",
    permission: vmPermission("VM.GuestAgent.Unrestricted"),
    handle: ({ cluster, params }) => {
      const guest = agentGuest(cluster, str(params, "node"), int(params, "vmid"))
      const raw = params.command
      const command = (Array.isArray(raw) ? raw : [raw]).map(String)
      const inventory = inventoryOf(cluster)
      const pid = inventory.nextAgentPid++
      inventory.agentProcesses.set(pid, { pid, vmid: guest.vmid, command, startedAt: Date.now() })
      return reply({ pid })
    },
  },
  {
    method: "GET",
    path: "/nodes/{node}/qemu/{vmid}/agent/exec-status",
    permission: vmPermission("VM.GuestAgent.Unrestricted"),
    handle: ({ cluster, params }) => {
      const guest = agentGuest(cluster, str(params, "node"), int(params, "vmid"))
      const process = inventoryOf(cluster).agentProcesses.get(int(params, "pid"))
      if (process === undefined || process.vmid !== guest.vmid)
        throw serverError(`Agent error: Invalid parameter 'pid'`)
      const [program, ...args] = process.command
      // A few commands answer like a Linux guest would; anything else is "not found" (127).
      const outputs: Readonly<Record<string, () => string>> = {
        echo: () => `${args.join(" ")}\n`,
        hostname: () => `${guest.name}\n`,
        uname: () =>
          `Linux ${guest.name} 6.1.0-28-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 x86_64 GNU/Linux\n`,
        uptime: () => " 10:00:00 up 3 days,  1 user,  load average: 0.02, 0.05, 0.01\n",
      }
      const run = program === undefined ? undefined : outputs[program.replace(/^.*\//, "")]
      return reply(
        run === undefined
          ? { exited: 1, exitcode: 127, "err-data": `${program ?? ""}: command not found\n` }
          : { exited: 1, exitcode: 0, "out-data": run() },
      )
    },
  },
  rrdRoute("qemu"),
  rrdRoute("lxc"),
  {
    method: "GET",
    path: "/nodes/{node}/qemu/{vmid}/cloudinit/dump",
    permission: vmPermission("VM.Audit"),
    handle: ({ cluster, params }) => {
      const guest = cluster.requireGuest(str(params, "node"), "qemu", int(params, "vmid"))
      return reply(cloudInitDump(cluster, guest, str(params, "type")))
    },
  },
  {
    method: "GET",
    path: "/cluster/ha/resources",
    handle: ({ cluster, params }) => {
      const type = optStr(params, "type")
      return reply(
        inventoryOf(cluster)
          .haResources.filter((r) => type === undefined || r.sid.startsWith(`${type}:`))
          .map((r) => ({
            sid: r.sid,
            type: r.sid.split(":")[0],
            state: r.state,
            ...(r.group === undefined ? {} : { group: r.group }),
            digest: "0",
          })),
      )
    },
  },
  {
    method: "GET",
    path: "/nodes/{node}/replication",
    permission: nodePermission("Sys.Audit"),
    handle: ({ cluster, params }) => {
      const node = str(params, "node")
      cluster.requireNode(node)
      const guestFilter = optInt(params, "guest")
      const now = Math.floor(Date.now() / 1000)
      return reply(
        inventoryOf(cluster)
          .replicationJobs.filter((job) => cluster.guest(job.guest)?.node === node)
          .filter((job) => guestFilter === undefined || job.guest === guestFilter)
          .map((job) => ({
            id: job.id,
            guest: job.guest,
            jobnum: Number(job.id.split("-")[1]),
            target: job.target,
            type: "local",
            schedule: job.schedule,
            source: node,
            last_sync: now - 600,
            next_sync: now + 300,
            duration: 4.2,
            fail_count: 0,
            vmtype: cluster.guest(job.guest)?.type,
          })),
      )
    },
  },
  {
    method: "GET",
    path: "/cluster/tasks",
    handle: ({ cluster }) =>
      reply(
        cluster.listTasks().map((task) => ({
          upid: task.upid,
          node: task.node,
          type: task.type,
          id: task.id,
          user: task.user,
          starttime: task.starttime,
          ...(task.endtime === undefined ? {} : { endtime: task.endtime }),
          ...(task.exitstatus === undefined ? {} : { status: task.exitstatus }),
        })),
      ),
  },
  {
    method: "GET",
    path: "/nodes/{node}/subscription",
    permission: nodePermission("Sys.Audit"),
    handle: ({ cluster, params }) => {
      cluster.requireNode(str(params, "node"))
      return reply({
        status: "notfound",
        message: "There is no subscription key",
        url: "https://www.proxmox.com/en/proxmox-virtual-environment/pricing",
      })
    },
  },
  {
    method: "GET",
    path: "/nodes/{node}/apt/update",
    permission: nodePermission("Sys.Modify"),
    handle: ({ cluster, params }) => {
      cluster.requireNode(str(params, "node"))
      return reply([
        {
          Package: "pve-manager",
          Title: "Proxmox Virtual Environment",
          OldVersion: "9.1.1",
          Version: "9.1.2",
          Origin: "Proxmox",
          Priority: "important",
          Section: "admin",
          Arch: "amd64",
        },
        {
          Package: "proxmox-kernel-6.17",
          Title: "Latest Proxmox Kernel Image",
          OldVersion: "6.17.2-1",
          Version: "6.17.2-2",
          Origin: "Proxmox",
          Priority: "optional",
          Section: "admin",
          Arch: "all",
        },
      ])
    },
  },
]
