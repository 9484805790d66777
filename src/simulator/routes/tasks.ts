// Task list, status, log and stop, following pve-manager's PVE/API2/Tasks.pm.
import type { ClusterState } from "../cluster.js"
import { parameterError } from "../errors.js"
import {
  nodePermission,
  optBool,
  optInt,
  optStr,
  permissionDenied,
  type Route,
  reply,
  str,
} from "../router.js"
import type { Params } from "../schema.js"
import { type TaskState, upidNode } from "../tasks.js"

/** A token's tasks carry `user@realm!token`; PVE's answers split it into user and tokenid. */
const splitUser = (user: string) => {
  const bang = user.lastIndexOf("!")
  return bang < 0 ? { user } : { user: user.slice(0, bang), tokenid: user.slice(bang + 1) }
}

/** PVE's upid_normalize_status_type. */
const statusType = (status: string | undefined) => {
  if (!status || status === "unexpected status") return "unknown"
  if (status === "OK") return "ok"
  return /^WARNINGS: \d+$/.test(status) ? "warning" : "error"
}

/**
 * The task a UPID names, as the node in the path sees it: another node's task is "no such task".
 * A `lookup` (status, log) may also miss a task just started, under a `task-status-lag` fault.
 */
const requireTask = (cluster: ClusterState, params: Params, lookup: boolean): TaskState => {
  const upid = str(params, "upid")
  if (upidNode(upid) === undefined) throw parameterError({ upid: "unable to parse worker upid" })
  const task = cluster.getTask(upid)
  if (!task || task.node !== str(params, "node") || (lookup && cluster.hidesFreshTask(task))) {
    throw parameterError({ upid: "no such task" })
  }
  return task
}

const taskFields = (task: TaskState) => ({
  upid: task.upid,
  node: task.node,
  pid: task.pid,
  pstart: task.pstart,
  starttime: task.starttime,
  type: task.type,
  id: task.id,
  ...splitUser(task.user),
})

export const taskRoutes: ReadonlyArray<Route> = [
  {
    method: "GET",
    path: "/nodes/{node}/tasks",
    handle: ({ cluster, params }) => {
      const node = str(params, "node")
      const start = optInt(params, "start") ?? 0
      const limit = optInt(params, "limit") ?? 50
      const source = optStr(params, "source") ?? "archive"
      const userfilter = optStr(params, "userfilter")?.toLowerCase()
      const typefilter = optStr(params, "typefilter")
      const vmid = optInt(params, "vmid")
      const since = optInt(params, "since")
      const until = optInt(params, "until")
      const statusfilter = optStr(params, "statusfilter")
      const wantedTypes = optBool(params, "errors")
        ? new Set(["warning", "error", "unknown"])
        : statusfilter === undefined
          ? new Set(["ok", "warning", "error", "unknown"])
          : new Set(statusfilter.toLowerCase().split(/[,;\s]+/))

      const tasks = cluster.listTasks().filter((task) => task.node === node)
      // "archive" is the finished tasks (PVE's index file), "active" the running ones.
      const active = source === "archive" ? [] : tasks.filter((task) => task.status === "running")
      const archived = source === "active" ? [] : tasks.filter((task) => task.status === "stopped")
      const matches = [...active, ...archived].filter(
        (task) =>
          (userfilter === undefined || task.user.toLowerCase().includes(userfilter)) &&
          (typefilter === undefined || task.type === typefilter) &&
          (vmid === undefined || task.id === String(vmid)) &&
          (since === undefined || task.starttime >= since) &&
          (until === undefined || task.starttime <= until) &&
          wantedTypes.has(statusType(task.exitstatus)),
      )
      const page = matches.slice(start, start + limit).map((task) => ({
        ...taskFields(task),
        ...(task.status === "running"
          ? { status: "RUNNING" }
          : { status: task.exitstatus, ...(task.endtime === undefined ? {} : { endtime: task.endtime }) }),
      }))
      return reply(page, matches.length)
    },
  },
  {
    method: "GET",
    path: "/nodes/{node}/tasks/{upid}",
    handle: () => reply([{ name: "log" }, { name: "status" }]),
  },
  {
    method: "GET",
    path: "/nodes/{node}/tasks/{upid}/status",
    handle: ({ cluster, params }) => {
      const task = requireTask(cluster, params, true)
      // No endtime here: only the task list has it.
      return reply({
        ...taskFields(task),
        status: task.status,
        ...(task.exitstatus === undefined ? {} : { exitstatus: task.exitstatus }),
      })
    },
  },
  {
    method: "GET",
    path: "/nodes/{node}/tasks/{upid}/log",
    handle: ({ cluster, params }) => {
      const task = requireTask(cluster, params, true)
      const start = optInt(params, "start") ?? 0
      const limit = optInt(params, "limit") ?? 50
      // An empty log still answers one line (PVE's ExtJS workaround in dump_logfile).
      const lines = task.log.length > 0 ? task.log : ["no content"]
      return reply(
        lines.slice(start, start + limit).map((text, index) => ({ n: start + index + 1, t: text })),
        lines.length,
      )
    },
  },
  {
    method: "DELETE",
    path: "/nodes/{node}/tasks/{upid}",
    // Killing a local worker needs no cluster filesystem, so it works without quorum.
    quorumExempt: true,
    handle: ({ cluster, params, token }) => {
      const task = requireTask(cluster, params, false)
      // Owners may stop their own tasks; anybody else needs Sys.Modify on the node.
      const owner = task.user === token.tokenId
      const needed = nodePermission("Sys.Modify")(params)
      if (!owner && !token.privileges.includes(needed.privilege)) throw permissionDenied(needed)
      cluster.tasks.stop(task.upid)
      return reply(null)
    },
  },
]
