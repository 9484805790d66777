// Read-mostly guest and node data: the QEMU guest agent's exec, cloud-init dumps, HA resources,
// replication state, the cluster task list, subscription and apt updates. (Agent reads and
// rrddata are in monitoring.ts.)
import { createHash } from "node:crypto"
import type { ClusterState, GuestModel } from "../cluster.js"
import { serverError } from "../errors.js"
import { inventoryOf } from "../inventory.js"
import { int, nodePermission, optInt, optStr, type Route, reply, str, vmPermission } from "../router.js"

/** The agent answers only for a running VM with the agent enabled. */
const agentGuest = (cluster: ClusterState, node: string, vmid: number): GuestModel => {
  const guest = cluster.requireGuest(node, "qemu", vmid)
  if (guest.status === "stopped") throw serverError(`VM ${vmid} is not running`)
  const agent = String(cluster.guestConfig(guest).agent ?? "0")
  if (!/^(1|enabled=1)/.test(agent)) throw serverError("No QEMU guest agent configured")
  return guest
}

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
