// Power actions of QEMU VMs and LXC containers: which wrong states fail at once (sync 500) and which
// only inside the worker task, as WIRE.md §2.5 "Wrong-state calls" describes.
import type { ClusterState, GuestModel as Guest } from "../cluster.js"
import { parameterError, serverError } from "../errors.js"
import { int, optBool, type Route, reply, str, vmPermission } from "../router.js"
import type { GuestStatus, GuestType } from "../types.js"

interface PowerAction {
  readonly taskType: string
  /** Failure answered synchronously (500) before a task is started. */
  readonly refuse?: (guest: Guest, label: string) => string | undefined
  /** Failure found by the worker: the task ends with this exit status. */
  readonly precheck?: (guest: Guest, label: string) => string | undefined
  readonly apply: (cluster: ClusterState, guest: Guest) => void
}

const notRunning = (guest: Guest, label: string) =>
  guest.status === "stopped" ? `${label} not running` : undefined
const alreadyRunning = (guest: Guest, label: string) =>
  guest.status !== "stopped" ? `${label} already running` : undefined

const setStatus = (status: GuestStatus) => (cluster: ClusterState, guest: Guest) =>
  cluster.setGuestStatus(guest, status)
const restart = (cluster: ClusterState, guest: Guest) => cluster.restartGuest(guest)

const QEMU_ACTIONS: Readonly<Record<string, PowerAction>> = {
  // qemu-server checks "already running" inside the worker, so the start task itself fails.
  start: { taskType: "qmstart", precheck: alreadyRunning, apply: setStatus("running") },
  stop: { taskType: "qmstop", apply: setStatus("stopped") },
  shutdown: { taskType: "qmshutdown", apply: setStatus("stopped") },
  reboot: { taskType: "qmreboot", refuse: notRunning, apply: restart },
  reset: { taskType: "qmreset", refuse: notRunning, apply: restart },
  suspend: { taskType: "qmsuspend", refuse: notRunning, apply: setStatus("paused") },
  resume: { taskType: "qmresume", refuse: notRunning, apply: setStatus("running") },
}

const LXC_ACTIONS: Readonly<Record<string, PowerAction>> = {
  start: { taskType: "vzstart", refuse: alreadyRunning, apply: setStatus("running") },
  stop: { taskType: "vzstop", refuse: notRunning, apply: setStatus("stopped") },
  shutdown: { taskType: "vzshutdown", refuse: notRunning, apply: setStatus("stopped") },
  reboot: { taskType: "vzreboot", refuse: notRunning, apply: restart },
  suspend: { taskType: "vzsuspend", refuse: notRunning, apply: setStatus("paused") },
  resume: {
    taskType: "vzresume",
    refuse: (guest, label) =>
      notRunning(guest, label) ?? (guest.status === "running" ? `${label} already running` : undefined),
    apply: setStatus("running"),
  },
}

const TEMPLATE_START_REFUSAL: Readonly<Record<GuestType, string>> = {
  qemu: "you can't start a vm if it's a template",
  lxc: "you can't start a CT if it's a template",
}

/** POST /nodes/{node}/{qemu|lxc}/{vmid}/status/{action} for every action the guest type has. */
export const powerRoutes = (type: GuestType): ReadonlyArray<Route> =>
  Object.entries(type === "qemu" ? QEMU_ACTIONS : LXC_ACTIONS).map(
    ([name, action]): Route => ({
      method: "POST",
      path: `/nodes/{node}/${type}/{vmid}/status/${name}`,
      permission: vmPermission("VM.PowerMgmt"),
      handle: ({ cluster, params, token }) => {
        const node = str(params, "node")
        const vmid = int(params, "vmid")
        const skiplock = optBool(params, "skiplock") === true
        // PVE allows skiplock for root@pam itself only, never for a token.
        if (skiplock && token.tokenId !== "root@pam") {
          throw parameterError({ skiplock: "Only root may use this option." })
        }
        const guest = cluster.requireGuest(node, type, vmid)
        const label = `${type === "qemu" ? "VM" : "CT"} ${vmid}`
        if (guest.lock !== undefined && !skiplock) {
          throw serverError(`${type === "qemu" ? "VM" : "CT"} is locked (${guest.lock})`)
        }
        if (name === "start" && guest.template) throw serverError(TEMPLATE_START_REFUSAL[type])
        const refusal = action.refuse?.(guest, label)
        if (refusal) throw serverError(refusal)

        const task = cluster.startTask({
          node,
          type: action.taskType,
          id: String(vmid),
          user: token.tokenId,
          lockKey: `guest/${vmid}`,
          ...(action.precheck ? { precheck: () => action.precheck?.(guest, label) } : {}),
          apply: () => action.apply(cluster, guest),
        })
        return reply(task.upid)
      },
    }),
  )
