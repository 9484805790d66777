// Creating, cloning, migrating, resizing, reconfiguring, templating and destroying guests, and
// their snapshots. State changes run as tasks (applied when the task ends OK), with the checks
// PVE makes before forking answered synchronously as 500s.
import type { ClusterState, GuestModel } from "../cluster.js"
import { parameterError, serverError } from "../errors.js"
import { label, requireUnlocked, type Snapshot, snapshotsOf, storedVolumes } from "../inventory.js"
import {
  int,
  optBool,
  optInt,
  optStr,
  type Route,
  type RouteContext,
  reply,
  str,
  vmPermission,
} from "../router.js"
import type { Params } from "../schema.js"
import type { GuestType } from "../types.js"

const GiB = 1024 ** 3

/** GiB per unit of a PVE size (`32G`, `512M`, ...; no unit is bytes). */
const GIB_PER_UNIT: Readonly<Record<string, number>> = {
  K: 1 / 1024 ** 2,
  M: 1 / 1024,
  G: 1,
  T: 1024,
  "": 1 / GiB,
}

/** Leading MiB of PVE 9's memory property string (`4096` or `current=4096,...`). */
const memoryMiB = (value: string | undefined): number | undefined => {
  if (value === undefined) return undefined
  const match = /^(?:current=)?(\d+)/.exec(value)
  return match === null ? undefined : Number(match[1])
}

/** `size=32G` inside a disk property string, in GiB. */
const diskSizeGiB = (spec: string | undefined): number | undefined => {
  const match = spec === undefined ? null : /(?:^|,)size=(\d+(?:\.\d+)?)([KMGT]?)/.exec(spec)
  if (match === null) return undefined
  return Number(match[1]) * (GIB_PER_UNIT[match[2] ?? ""] ?? 1)
}

/** New disks are `STORAGE:SIZE` (GiB) on create; the storage must exist. */
const newDiskGiB = (cluster: ClusterState, spec: string | undefined): number | undefined => {
  if (spec === undefined) return undefined
  const match = /^([^:,]+):(\d+)(?:,|$)/.exec(spec)
  if (match === null) return diskSizeGiB(spec)
  cluster.requireStorage(match[1]!)
  return Number(match[2])
}

/** Config keys the modelled guest has fields for; others are kept as they were sent. */
const MODELLED = new Set(["cores", "memory", "name", "hostname", "node", "vmid", "digest", "delete"])

const configExtras = (params: Params, skip: ReadonlySet<string>) => {
  const extra: Record<string, string | number> = {}
  for (const [key, value] of Object.entries(params)) {
    if (MODELLED.has(key) || skip.has(key)) continue
    // qemu-server keeps a hash of the cloud-init password and shows it masked.
    if (key === "cipassword") extra[key] = "**********"
    else if (typeof value === "boolean") extra[key] = value ? 1 : 0
    else if (typeof value === "string" || typeof value === "number") extra[key] = value
  }
  return extra
}

const taskTypes = {
  qemu: {
    create: "qmcreate",
    restore: "qmrestore",
    destroy: "qmdestroy",
    clone: "qmclone",
    migrate: "qmigrate",
    resize: "resize",
    template: "qmtemplate",
    snapshot: "qmsnapshot",
    delsnapshot: "qmdelsnapshot",
    rollback: "qmrollback",
  },
  lxc: {
    create: "vzcreate",
    restore: "vzrestore",
    destroy: "vzdestroy",
    clone: "vzclone",
    migrate: "vzmigrate",
    resize: "resize",
    template: "vztemplate",
    snapshot: "vzsnapshot",
    delsnapshot: "vzdelsnapshot",
    rollback: "vzrollback",
  },
} as const

type TaskKind = keyof (typeof taskTypes)[GuestType]

/** The guest a task is about (or the one it creates), and the node whose worker runs it. */
interface TaskSubject {
  readonly node: string
  readonly type: GuestType
  readonly vmid: number
}

/**
 * Starts the guest's `kind` worker holding the guest's lock and answers its UPID; `apply` changes
 * the state when the task ends OK. A guest from `pathGuest` is on the path's node.
 */
const guestTask = (
  { cluster, token }: RouteContext,
  { node, type, vmid }: TaskSubject,
  kind: TaskKind,
  apply: () => void,
  lines: ReadonlyArray<string> = [],
) =>
  reply(
    cluster.startTask({
      node,
      type: taskTypes[type][kind],
      id: String(vmid),
      user: token.tokenId,
      lockKey: `guest/${vmid}`,
      lines,
      apply,
    }).upid,
  )

/** The guest `{node}` and `{vmid}` of the path name; a 500 when that node has no such guest. */
const pathGuest = ({ cluster, params }: RouteContext, type: GuestType): GuestModel =>
  cluster.requireGuest(str(params, "node"), type, int(params, "vmid"))

/** The path's guest, refused (500) while a lock is held on it. */
const unlockedPathGuest = (context: RouteContext, type: GuestType): GuestModel => {
  const guest = pathGuest(context, type)
  requireUnlocked(guest)
  return guest
}

/** How PVE's messages call a guest of this type. */
const guestNoun = (type: GuestType) => (type === "qemu" ? "VM" : "CT")

/** The guest's name parameter: `name` for a VM, `hostname` for a container. */
const nameParam = (type: GuestType, params: Params) =>
  type === "qemu" ? optStr(params, "name") : optStr(params, "hostname")

/** The memory parameter in MiB: a property string for a VM, a number for a container. */
const memoryParam = (type: GuestType, params: Params) =>
  type === "qemu" ? memoryMiB(optStr(params, "memory")) : optInt(params, "memory")

const hasSnapshot = (cluster: ClusterState, vmid: number, name: string) =>
  snapshotsOf(cluster, vmid).some((s) => s.name === name)

const requireSnapshot = (cluster: ClusterState, guest: GuestModel, name: string) => {
  const snapshot = snapshotsOf(cluster, guest.vmid).find((s) => s.name === name)
  if (snapshot === undefined) throw serverError(`snapshot '${name}' does not exist`)
  return snapshot
}

/** POST /nodes/{node}/{type}: create, or restore from a backup archive. */
const createRoute = (type: GuestType): Route => ({
  method: "POST",
  path: `/nodes/{node}/${type}`,
  permission: (params) => ({ path: `/vms/${String(params.vmid)}`, privilege: "VM.Allocate" }),
  handle: (context) => {
    const { cluster, params } = context
    const node = str(params, "node")
    cluster.requireNode(node)
    const vmid = int(params, "vmid")
    const subject = { node, type, vmid }
    const archive =
      type === "qemu"
        ? optStr(params, "archive")
        : optBool(params, "restore")
          ? str(params, "ostemplate")
          : undefined
    const force = optBool(params, "force") === true
    const existing = cluster.guest(vmid)
    if (existing !== undefined && (archive === undefined || !force)) {
      throw serverError(
        archive === undefined
          ? `unable to create ${guestNoun(type)} ${vmid} - ${label(existing)} already exists on node '${existing.node}'`
          : `unable to restore ${label(existing)} - ${label(existing)} already exists on node '${existing.node}'`,
      )
    }
    if (existing !== undefined && existing.status !== "stopped")
      throw serverError(`unable to restore ${label(existing)} - ${label(existing)} is running`)
    const storage = optStr(params, "storage")
    if (storage !== undefined) cluster.requireStorage(storage)
    if (archive !== undefined) {
      // The archive must be a backup volume that exists.
      const [archiveStorage] = archive.split(":")
      const volume =
        archiveStorage === undefined
          ? undefined
          : storedVolumes(cluster, node, archiveStorage).find(
              (v) => v.volid === archive && v.content === "backup",
            )
      if (volume === undefined) throw serverError(`volume '${archive}' does not exist`)
      if (volume.subtype !== type)
        throw serverError(`archive '${archive}' is not a ${type === "qemu" ? "VM" : "container"} backup`)
      const source = volume.vmid ?? vmid
      return guestTask(
        context,
        subject,
        "restore",
        () => {
          if (existing !== undefined) cluster.removeGuest(vmid)
          cluster.addGuest({
            vmid,
            type,
            node,
            name: existing?.name ?? `restored-${source}`,
            status: "stopped",
            ...(existing?.tags === undefined ? {} : { tags: existing.tags }),
          })
        },
        [`restore ${type === "qemu" ? "vma" : "tar"} archive '${archive}'`],
      )
    }
    const name = nameParam(type, params)
    if (type === "lxc") {
      const template = str(params, "ostemplate")
      const [templateStorage] = template.split(":")
      const found =
        templateStorage !== undefined &&
        storedVolumes(cluster, node, templateStorage).some((v) => v.volid === template)
      if (!found) throw serverError(`volume '${template}' does not exist`)
    }
    const disk =
      type === "qemu"
        ? ["scsi0", "virtio0", "sata0", "ide0"]
            .map((key) => newDiskGiB(cluster, optStr(params, key)))
            .find((x) => x !== undefined)
        : newDiskGiB(cluster, optStr(params, "rootfs"))
    const memory = memoryParam(type, params)
    const extra = configExtras(
      params,
      new Set([
        "archive",
        "storage",
        "force",
        "unique",
        "start",
        "ostemplate",
        "password",
        "ssh-public-keys",
        "cipassword",
        "restore",
        "pool",
      ]),
    )
    const start = optBool(params, "start") === true
    return guestTask(context, subject, "create", () => {
      cluster.addGuest({
        vmid,
        type,
        node,
        name: name ?? `${guestNoun(type)}${vmid}`,
        status: start ? "running" : "stopped",
        ...(optStr(params, "tags") === undefined ? {} : { tags: str(params, "tags") }),
        ...(optInt(params, "cores") === undefined ? {} : { cores: int(params, "cores") }),
        ...(memory === undefined ? {} : { memoryMiB: memory }),
        ...(disk === undefined ? {} : { diskGiB: disk }),
      })
      const created = cluster.guest(vmid)
      if (created !== undefined) created.extraConfig = extra
    })
  },
})

const destroyRoute = (type: GuestType): Route => ({
  method: "DELETE",
  path: `/nodes/{node}/${type}/{vmid}`,
  permission: vmPermission("VM.Allocate"),
  handle: (context) => {
    const { cluster, params } = context
    const guest = unlockedPathGuest(context, type)
    if (guest.status !== "stopped" && !(type === "lxc" && optBool(params, "force") === true))
      throw serverError(`${label(guest)} is running - destroy failed`)
    return guestTask(context, guest, "destroy", () => {
      cluster.removeGuest(guest.vmid)
      snapshotsOf(cluster, guest.vmid).length = 0
    })
  },
})

const cloneRoute = (type: GuestType): Route => ({
  method: "POST",
  path: `/nodes/{node}/${type}/{vmid}/clone`,
  permission: vmPermission("VM.Clone"),
  handle: (context) => {
    const { cluster, params } = context
    const source = pathGuest(context, type)
    const newid = int(params, "newid")
    const target = optStr(params, "target") ?? source.node
    cluster.requireNode(target)
    if (cluster.guest(newid) !== undefined)
      throw serverError(`unable to create ${guestNoun(type)} ${newid}: config file already exists`)
    const full = optBool(params, "full")
    // A linked clone needs a template; a clone to another node needs shared disks or a full clone.
    if (full === false && !source.template)
      throw parameterError({ full: `linked clone feature is not supported for drive 'scsi0'` })
    if (target !== source.node && !source.template && full !== true && type === "lxc")
      throw serverError("Can't clone to a different node without 'full' flag")
    const snapname = optStr(params, "snapname")
    if (snapname !== undefined) requireSnapshot(cluster, source, snapname)
    const name = nameParam(type, params)
    return guestTask(
      context,
      source,
      "clone",
      () =>
        cluster.addGuest({
          vmid: newid,
          type,
          node: target,
          name: name ?? `Copy-of-${source.name}`,
          status: "stopped",
          cores: source.cores,
          memoryMiB: source.memoryMiB,
          diskGiB: source.diskGiB,
          ...(source.tags === undefined ? {} : { tags: source.tags }),
        }),
      [`create ${full === false || source.template ? "linked" : "full"} clone of drive scsi0`],
    )
  },
})

const migrateRoute = (type: GuestType): Route => ({
  method: "POST",
  path: `/nodes/{node}/${type}/{vmid}/migrate`,
  permission: vmPermission("VM.Migrate"),
  handle: (context) => {
    const { cluster, params } = context
    const guest = pathGuest(context, type)
    const target = str(params, "target")
    // PVE checks the target before the guest's lock.
    if (target === guest.node) throw parameterError({ target: "target is local node." })
    cluster.requireNode(target)
    if (!cluster.isOnline(target)) throw serverError(`target node '${target}' is not online`)
    requireUnlocked(guest)
    const running = guest.status !== "stopped"
    if (running && type === "qemu" && optBool(params, "online") !== true)
      throw serverError(`can't migrate running VM without --online`)
    if (running && type === "lxc" && optBool(params, "restart") !== true)
      throw serverError("lxc live migration is currently not implemented")
    return guestTask(context, guest, "migrate", () => cluster.migrateGuest(guest.vmid, target), [
      `starting migration of ${label(guest)} to node '${target}'`,
    ])
  },
})

const DISK_KEYS: Readonly<Record<GuestType, RegExp>> = {
  qemu: /^(scsi|virtio|sata|ide)\d+$|^efidisk0$|^tpmstate0$/,
  lxc: /^(rootfs|mp\d+)$/,
}

const resizeRoute = (type: GuestType): Route => ({
  method: "PUT",
  path: `/nodes/{node}/${type}/{vmid}/resize`,
  permission: vmPermission("VM.Config.Disk"),
  handle: (context) => {
    const { cluster, params } = context
    const guest = unlockedPathGuest(context, type)
    const disk = str(params, "disk")
    const config = cluster.guestConfig(guest)
    if (!DISK_KEYS[type].test(disk) || config[disk] === undefined)
      throw serverError(`disk '${disk}' does not exist`)
    if (guest.template) throw serverError("you can't resize a template")
    const size = str(params, "size")
    const match = /^(\+?)(\d+(?:\.\d+)?)([KMGT]?)$/.exec(size)
    if (match === null) throw parameterError({ size: "value does not match the regex pattern" })
    const amount = Number(match[2]) * (GIB_PER_UNIT[match[3] ?? ""] ?? 1)
    const current = diskSizeGiB(String(config[disk])) ?? guest.diskGiB
    const next = match[1] === "+" ? current + amount : amount
    if (next < current) throw serverError("shrinking disks is not supported")
    return guestTask(
      context,
      guest,
      "resize",
      () => {
        guest.diskGiB = Math.round(next * 100) / 100
      },
      [`resize ${disk} to ${next}G`],
    )
  },
})

const configRoute = (type: GuestType): Route => ({
  method: "PUT",
  path: `/nodes/{node}/${type}/{vmid}/config`,
  permission: vmPermission("VM.Config.Options"),
  handle: (context) => {
    const { cluster, params } = context
    const guest = unlockedPathGuest(context, type)
    const digest = optStr(params, "digest")
    if (digest !== undefined && digest !== cluster.configDigest(cluster.guestConfig(guest)))
      throw serverError("detected modified configuration - file changed by other user? Try again.")
    const cores = optInt(params, "cores")
    const memory = memoryParam(type, params)
    const name = nameParam(type, params)
    const extra = configExtras(params, new Set(["skiplock", "force", "revert"]))
    if (cores !== undefined) guest.cores = cores
    if (memory !== undefined) guest.memoryMiB = memory
    if (name !== undefined) guest.name = name
    if (extra.tags !== undefined) {
      guest.tags = String(extra.tags)
      delete extra.tags
    }
    const merged = { ...guest.extraConfig, ...extra }
    for (const key of optStr(params, "delete")?.split(/[,;\s]+/) ?? []) delete merged[key]
    guest.extraConfig = merged
    return reply(null)
  },
})

const templateRoute = (type: GuestType): Route => ({
  method: "POST",
  path: `/nodes/{node}/${type}/{vmid}/template`,
  permission: vmPermission("VM.Allocate"),
  handle: (context) => {
    const { cluster } = context
    const guest = unlockedPathGuest(context, type)
    if (guest.template) throw serverError(`${label(guest)} is already a template`)
    if (guest.status !== "stopped") throw serverError("you can't convert a running VM to a template")
    if (snapshotsOf(cluster, guest.vmid).length > 0 && type === "lxc")
      throw serverError("you can't convert a CT to template if the CT has snapshots")
    // qemu-server converts in a worker; pve-container answers after converting (null).
    if (type === "lxc") {
      guest.template = true
      return reply(null)
    }
    return guestTask(context, guest, "template", () => {
      guest.template = true
    })
  },
})

// --- snapshots ------------------------------------------------------------------------------------

const snapshotRow = (snapshot: Snapshot) => ({
  name: snapshot.name,
  description: snapshot.description,
  snaptime: snapshot.snaptime,
  ...(snapshot.parent === undefined ? {} : { parent: snapshot.parent }),
  ...(snapshot.vmstate ? { vmstate: 1 } : {}),
})

const snapshotRoutes = (type: GuestType): ReadonlyArray<Route> => [
  {
    method: "GET",
    path: `/nodes/{node}/${type}/{vmid}/snapshot`,
    permission: vmPermission("VM.Audit"),
    handle: (context) => {
      const { cluster } = context
      const guest = pathGuest(context, type)
      const snapshots = snapshotsOf(cluster, guest.vmid)
      const last = snapshots.at(-1)
      return reply([
        ...snapshots.map(snapshotRow),
        {
          name: "current",
          description: "You are here!",
          digest: cluster.configDigest(cluster.guestConfig(guest)),
          ...(guest.status === "stopped" ? {} : { running: 1 }),
          ...(last === undefined ? {} : { parent: last.name }),
        },
      ])
    },
  },
  {
    method: "POST",
    path: `/nodes/{node}/${type}/{vmid}/snapshot`,
    permission: vmPermission("VM.Snapshot"),
    handle: (context) => {
      const { cluster, params } = context
      const guest = unlockedPathGuest(context, type)
      const name = str(params, "snapname")
      if (name === "current")
        throw parameterError({ snapname: "invalid format - snapshot name 'current' is reserved" })
      if (hasSnapshot(cluster, guest.vmid, name)) throw serverError(`snapshot name '${name}' already used`)
      const parent = snapshotsOf(cluster, guest.vmid).at(-1)?.name
      const snapshot: Snapshot = {
        name,
        description: optStr(params, "description") ?? "",
        snaptime: Math.floor(Date.now() / 1000),
        vmstate: optBool(params, "vmstate") === true,
        ...(parent === undefined ? {} : { parent }),
        cores: guest.cores,
        memoryMiB: guest.memoryMiB,
      }
      return guestTask(
        context,
        guest,
        "snapshot",
        () => {
          // Checked again when the worker runs: two creates of one name race for it.
          if (!hasSnapshot(cluster, guest.vmid, name)) snapshotsOf(cluster, guest.vmid).push(snapshot)
        },
        [`snapshotting '${name}'`],
      )
    },
  },
  {
    method: "DELETE",
    path: `/nodes/{node}/${type}/{vmid}/snapshot/{snapname}`,
    permission: vmPermission("VM.Snapshot"),
    handle: (context) => {
      const { cluster, params } = context
      const guest = pathGuest(context, type)
      const name = str(params, "snapname")
      requireSnapshot(cluster, guest, name)
      return guestTask(context, guest, "delsnapshot", () => {
        const list = snapshotsOf(cluster, guest.vmid)
        const index = list.findIndex((s) => s.name === name)
        if (index < 0) return
        const removed = list[index]!
        list.splice(index, 1)
        // Children now hang from the removed snapshot's parent.
        list.forEach((s, i) => {
          if (s.parent === name) {
            const { parent: _dropped, ...rest } = s
            list[i] = removed.parent === undefined ? rest : { ...rest, parent: removed.parent }
          }
        })
      })
    },
  },
  {
    method: "POST",
    path: `/nodes/{node}/${type}/{vmid}/snapshot/{snapname}/rollback`,
    permission: vmPermission("VM.Snapshot.Rollback"),
    handle: (context) => {
      const { cluster, params } = context
      const guest = unlockedPathGuest(context, type)
      const snapshot = requireSnapshot(cluster, guest, str(params, "snapname"))
      const start = optBool(params, "start") === true
      return guestTask(
        context,
        guest,
        "rollback",
        () => {
          guest.cores = snapshot.cores
          guest.memoryMiB = snapshot.memoryMiB
          // Without RAM state the guest is stopped after a rollback, unless asked to start.
          cluster.setGuestStatus(guest, snapshot.vmstate || start ? "running" : "stopped")
          // Snapshots taken after this one stay, the current state's parent becomes this one.
          const list = snapshotsOf(cluster, guest.vmid)
          const index = list.findIndex((s) => s.name === snapshot.name)
          list.push(...list.splice(index, 1))
        },
        [`rollback to snapshot '${snapshot.name}'`],
      )
    },
  },
]

export const guestAdminRoutes: ReadonlyArray<Route> = (["qemu", "lxc"] as const).flatMap((type) => [
  createRoute(type),
  destroyRoute(type),
  cloneRoute(type),
  migrateRoute(type),
  resizeRoute(type),
  configRoute(type),
  templateRoute(type),
  ...snapshotRoutes(type),
])
