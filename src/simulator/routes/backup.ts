// Backups (vzdump, backup jobs), storage content (list, delete, download-url) and storage
// definitions (create, read, update, delete).
import { randomUUID } from "node:crypto"
import type { ClusterState } from "../cluster.js"
import { parameterError, serverError } from "../errors.js"
import { guestDiskVolumes, inventoryOf, label, storedVolumes, type Volume } from "../inventory.js"
import {
  nodePermission,
  optBool,
  optInt,
  optStr,
  type Route,
  reply,
  storagePermission,
  str,
} from "../router.js"
import type { Params } from "../schema.js"
import type { StorageSpec } from "../seed.js"

const GiB = 1024 ** 3

const vmidList = (value: string | undefined): ReadonlyArray<number> =>
  value === undefined
    ? []
    : value
        .split(/[,;\s]+/)
        .filter((x) => x !== "")
        .map(Number)

const contentTypes = (spec: StorageSpec) => spec.content.split(",")

/** The volumes of a storage as `node` sees them, optionally filtered. */
const contentOf = (cluster: ClusterState, node: string, storage: string): ReadonlyArray<Volume> => [
  ...storedVolumes(cluster, node, storage),
  ...guestDiskVolumes(cluster, node, storage),
]

const backupName = (type: "qemu" | "lxc", vmid: number) => {
  const [date, time] = new Date().toISOString().replace(/\..*$/, "").split("T")
  return `vzdump-${type}-${vmid}-${date!.replaceAll("-", "_")}-${time!.replaceAll(":", "_")}`
}

/** Job fields as `/cluster/backup` lists them: the schema's, booleans as 0/1. */
const jobFields = (params: Params): Record<string, string | number> => {
  const job: Record<string, string | number> = {}
  for (const [key, value] of Object.entries(params)) {
    if (key === "delete" || key === "digest") continue
    if (typeof value === "boolean") job[key] = value ? 1 : 0
    else if (typeof value === "string" || typeof value === "number") job[key] = value
  }
  return job
}

export const backupRoutes: ReadonlyArray<Route> = [
  {
    method: "POST",
    path: "/nodes/{node}/vzdump",
    permission: nodePermission("VM.Backup"),
    handle: ({ cluster, params, token }) => {
      const node = str(params, "node")
      cluster.requireNode(node)
      const all = optBool(params, "all") === true
      const listed = vmidList(optStr(params, "vmid"))
      if (!all && listed.length === 0 && optStr(params, "pool") === undefined)
        throw parameterError({ vmid: "property is missing and it is not optional" })
      if (all && listed.length > 0) throw parameterError({ all: "option conflicts with option 'vmid'" })
      const excluded = new Set(vmidList(optStr(params, "exclude")))
      const storage = optStr(params, "storage") ?? "local"
      const spec = cluster.requireStorage(storage)
      if (!contentTypes(spec).includes("backup"))
        throw serverError(`storage '${storage}' does not support backups`)
      // vzdump backs up the guests on this node; a listed guest elsewhere is an error in the log.
      const guests = all ? cluster.guestsOn(node).filter((g) => !excluded.has(g.vmid)) : []
      const missing: Array<number> = []
      for (const vmid of listed) {
        const guest = cluster.guest(vmid)
        if (guest === undefined || guest.node !== node) missing.push(vmid)
        else guests.push(guest)
      }
      const lines = [
        `INFO: starting new backup job: vzdump ${all ? "--all 1" : listed.join(" ")} --storage ${storage} --mode ${optStr(params, "mode") ?? "snapshot"}`,
        ...guests.map((g) => `INFO: Starting Backup of ${label(g)} (${g.type})`),
      ]
      const task = cluster.startTask({
        node,
        type: "vzdump",
        id: listed.length === 1 ? String(listed[0]) : "",
        user: token.tokenId,
        lines,
        precheck: () =>
          missing.length > 0 ? `guest(s) ${missing.join(",")} not found on node ${node}` : undefined,
        apply: () => {
          const volumes = storedVolumes(cluster, node, storage)
          for (const guest of guests) {
            const name = backupName(guest.type, guest.vmid)
            const format = guest.type === "qemu" ? "vma.zst" : "tar.zst"
            volumes.push({
              volid: `${storage}:backup/${name}.${format}`,
              content: "backup",
              format,
              size: Math.round(guest.diskGiB * GiB * 0.1),
              ctime: Math.floor(Date.now() / 1000),
              vmid: guest.vmid,
              subtype: guest.type,
              ...(optStr(params, "notes-template") === undefined
                ? {}
                : { notes: str(params, "notes-template") }),
            })
          }
        },
      })
      return reply(task.upid)
    },
  },
  {
    method: "GET",
    path: "/cluster/backup",
    handle: ({ cluster }) => reply([...inventoryOf(cluster).backupJobs.values()]),
  },
  {
    method: "POST",
    path: "/cluster/backup",
    permission: () => ({ path: "/", privilege: "Sys.Modify" }),
    handle: ({ cluster, params }) => {
      const jobs = inventoryOf(cluster).backupJobs
      const id = optStr(params, "id") ?? `backup-${randomUUID().slice(0, 13)}`
      if (jobs.has(id)) throw serverError(`Job ${id} already exists`)
      if (
        optStr(params, "vmid") === undefined &&
        optBool(params, "all") !== true &&
        optStr(params, "pool") === undefined
      )
        throw parameterError({ vmid: "property is missing and it is not optional" })
      const storage = optStr(params, "storage")
      if (storage !== undefined) cluster.requireStorage(storage)
      jobs.set(id, { type: "vzdump", enabled: 1, schedule: "00:00", ...jobFields(params), id })
      return reply(null)
    },
  },
  {
    method: "GET",
    path: "/cluster/backup/{id}",
    handle: ({ cluster, params }) => {
      const job = inventoryOf(cluster).backupJobs.get(str(params, "id"))
      if (job === undefined) throw serverError(`Job '${str(params, "id")}' does not exist`)
      return reply(job)
    },
  },
  {
    method: "DELETE",
    path: "/cluster/backup/{id}",
    permission: () => ({ path: "/", privilege: "Sys.Modify" }),
    handle: ({ cluster, params }) => {
      const id = str(params, "id")
      if (!inventoryOf(cluster).backupJobs.delete(id)) throw serverError(`job '${id}' does not exist`)
      return reply(null)
    },
  },
  {
    method: "GET",
    path: "/nodes/{node}/storage/{storage}/content",
    permission: storagePermission("Datastore.Audit"),
    handle: ({ cluster, params }) => {
      const node = str(params, "node")
      cluster.requireNode(node)
      const storage = str(params, "storage")
      const content = optStr(params, "content")
      const vmid = optInt(params, "vmid")
      return reply(
        contentOf(cluster, node, storage)
          .filter((v) => content === undefined || v.content === content)
          .filter((v) => vmid === undefined || v.vmid === vmid)
          .map((v) => ({
            volid: v.volid,
            content: v.content,
            format: v.format,
            size: v.size,
            ctime: v.ctime,
            ...(v.vmid === undefined ? {} : { vmid: v.vmid }),
            ...(v.subtype === undefined ? {} : { subtype: v.subtype }),
            ...(v.notes === undefined ? {} : { notes: v.notes }),
          })),
      )
    },
  },
  {
    method: "DELETE",
    path: "/nodes/{node}/storage/{storage}/content/{volume}",
    permission: storagePermission("Datastore.Allocate"),
    handle: ({ cluster, params, token }) => {
      const node = str(params, "node")
      cluster.requireNode(node)
      const storage = str(params, "storage")
      // The volume may be given as a full volid or relative to the storage.
      const raw = str(params, "volume")
      const volid = raw.includes(":") ? raw : `${storage}:${raw}`
      if (guestDiskVolumes(cluster, node, storage).some((v) => v.volid === volid))
        throw serverError(`can't remove volume '${volid}' - it is in use by a guest`)
      const volumes = storedVolumes(cluster, node, storage)
      const index = volumes.findIndex((v) => v.volid === volid)
      if (index < 0) throw serverError(`volume '${volid}' does not exist`)
      const task = cluster.startTask({
        node,
        type: "imgdel",
        // pve-storage forks this worker without an id (a volid could not go into a UPID).
        id: "",
        user: token.tokenId,
        apply: () => {
          const at = volumes.findIndex((v) => v.volid === volid)
          if (at >= 0) volumes.splice(at, 1)
        },
      })
      return reply(task.upid)
    },
  },
  {
    method: "POST",
    path: "/nodes/{node}/storage/{storage}/download-url",
    permission: storagePermission("Datastore.AllocateTemplate"),
    handle: ({ cluster, params, token }) => {
      const node = str(params, "node")
      cluster.requireNode(node)
      const storage = str(params, "storage")
      const spec = cluster.requireStorage(storage)
      const content = str(params, "content")
      if (!contentTypes(spec).includes(content))
        throw serverError(`storage '${storage}' does not support content-type '${content}'`)
      const filename = str(params, "filename")
      if (!/^[^/\s]+$/.test(filename)) throw parameterError({ filename: "invalid filename" })
      const volid = `${storage}:${content}/${filename}`
      const volumes = storedVolumes(cluster, node, storage)
      if (volumes.some((v) => v.volid === volid))
        throw serverError(`refusing to override existing file '${filename}'`)
      const url = str(params, "url")
      const task = cluster.startTask({
        node,
        type: "download",
        id: storage,
        user: token.tokenId,
        lines: [`downloading ${url} to /var/lib/vz/template/${content}/${filename}`],
        apply: () =>
          volumes.push({
            volid,
            content: content === "vztmpl" ? "vztmpl" : content === "iso" ? "iso" : "import",
            format: content === "iso" ? "iso" : "raw",
            size: 512 * 1024 ** 2,
            ctime: Math.floor(Date.now() / 1000),
          }),
      })
      return reply(task.upid)
    },
  },
  // --- storage definitions ---
  {
    method: "GET",
    path: "/storage/{storage}",
    permission: storagePermission("Datastore.Audit"),
    handle: ({ cluster, params }) => {
      const spec = cluster.requireStorage(str(params, "storage"))
      return reply({
        storage: spec.storage,
        type: spec.type,
        content: spec.content,
        ...spec.settings,
        ...(spec.shared && spec.type !== "nfs" ? { shared: 1 } : {}),
        digest: cluster.storageDigest(),
      })
    },
  },
  {
    method: "POST",
    path: "/storage",
    permission: () => ({ path: "/storage", privilege: "Datastore.Allocate" }),
    handle: ({ cluster, params }) => {
      const storage = str(params, "storage")
      if (cluster.storages.some((s) => s.storage === storage))
        throw serverError(`storage ID '${storage}' already defined`)
      const type = str(params, "type")
      if (type === "dir" && optStr(params, "path") === undefined)
        throw parameterError({ path: "property is missing and it is not optional" })
      if (
        type === "nfs" &&
        (optStr(params, "server") === undefined || optStr(params, "export") === undefined)
      )
        throw parameterError({ server: "property is missing and it is not optional" })
      const settings: Record<string, string> = {}
      for (const key of ["path", "server", "export", "vgname", "thinpool", "nodes", "prune-backups"]) {
        const value = optStr(params, key)
        if (value !== undefined) settings[key] = value
      }
      if (optBool(params, "disable") === true) settings.disable = "1"
      const spec: StorageSpec = {
        storage,
        type,
        content: optStr(params, "content") ?? (type === "dir" ? "images,rootdir" : "images"),
        shared: type === "nfs" || optBool(params, "shared") === true,
        totalBytes: 500 * GiB,
        baseUsedBytes: 0,
        holdsGuestDisks: false,
        settings,
      }
      cluster.storages = [...cluster.storages, spec]
      return reply({ storage, type })
    },
  },
  {
    method: "PUT",
    path: "/storage/{storage}",
    permission: storagePermission("Datastore.Allocate"),
    handle: ({ cluster, params }) => {
      const spec = cluster.requireStorage(str(params, "storage"))
      const digest = optStr(params, "digest")
      if (digest !== undefined && digest !== cluster.storageDigest())
        throw serverError("detected modified configuration - file changed by other user? Try again.")
      const settings: Record<string, string> = { ...spec.settings }
      const disable = optBool(params, "disable")
      if (disable !== undefined) {
        if (disable) settings.disable = "1"
        else delete settings.disable
      }
      for (const key of ["nodes", "prune-backups"]) {
        const value = optStr(params, key)
        if (value !== undefined) settings[key] = value
      }
      for (const key of optStr(params, "delete")?.split(/[,;\s]+/) ?? []) delete settings[key]
      const updated: StorageSpec = { ...spec, content: optStr(params, "content") ?? spec.content, settings }
      cluster.storages = cluster.storages.map((s) => (s.storage === spec.storage ? updated : s))
      return reply({ storage: spec.storage, type: spec.type })
    },
  },
  {
    method: "DELETE",
    path: "/storage/{storage}",
    permission: storagePermission("Datastore.Allocate"),
    handle: ({ cluster, params }) => {
      const spec = cluster.requireStorage(str(params, "storage"))
      if (spec.holdsGuestDisks && cluster.allGuests().length > 0)
        throw serverError(`storage '${spec.storage}' is used by guests`)
      cluster.storages = cluster.storages.filter((s) => s.storage !== spec.storage)
      return reply(null)
    },
  },
]
