// Cluster state beyond nodes, guests and tasks: snapshots, storage volumes, backup jobs, guest
// agent processes, HA resources and replication jobs. Kept per ClusterState (one simulated cluster
// each), created on first use.
import type { ClusterState, GuestModel } from "./cluster.js"
import { serverError } from "./errors.js"

export interface Snapshot {
  readonly name: string
  readonly description: string
  readonly snaptime: number
  readonly vmstate: boolean
  readonly parent?: string
  /** The guest's sizes when the snapshot was taken (a rollback restores them). */
  readonly cores: number
  readonly memoryMiB: number
}

export interface Volume {
  readonly volid: string
  readonly content: "iso" | "vztmpl" | "backup" | "images" | "rootdir" | "import"
  readonly format: string
  readonly size: number
  readonly ctime: number
  readonly vmid?: number
  /** For backups: the guest type the archive restores to. */
  readonly subtype?: "qemu" | "lxc"
  readonly notes?: string
}

export interface AgentProcess {
  readonly pid: number
  readonly vmid: number
  readonly command: ReadonlyArray<string>
  readonly startedAt: number
}

export interface Inventory {
  /** Per vmid, oldest first; the current state's parent is the last one. */
  readonly snapshots: Map<number, Array<Snapshot>>
  /** Per storage id (shared storages) or `node/storage` (local ones). */
  readonly volumes: Map<string, Array<Volume>>
  readonly backupJobs: Map<string, Record<string, string | number>>
  readonly agentProcesses: Map<number, AgentProcess>
  nextAgentPid: number
  readonly haResources: Array<{ readonly sid: string; readonly state: string; readonly group?: string }>
  readonly replicationJobs: Array<{
    readonly id: string
    readonly guest: number
    readonly target: string
    readonly schedule: string
  }>
}

const GiB = 1024 ** 3
const DAY = 86_400

const seed = (cluster: ClusterState): Inventory => {
  const now = Math.floor(Date.now() / 1000)
  const first = cluster.nodes[0]!
  const volumes = new Map<string, Array<Volume>>()
  for (const node of cluster.nodes) {
    volumes.set(`${node}/local`, [
      {
        volid: "local:iso/debian-12.8.0-amd64-netinst.iso",
        content: "iso",
        format: "iso",
        size: 661_651_456,
        ctime: now - 40 * DAY,
      },
      {
        volid: "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
        content: "vztmpl",
        format: "tzst",
        size: 126_911_488,
        ctime: now - 60 * DAY,
      },
    ])
  }
  const backup = (vmid: number, subtype: "qemu" | "lxc", ageDays: number): Volume => {
    const stamp = new Date((now - ageDays * DAY) * 1000).toISOString().replace(/\..*$/, "")
    const [date, time] = stamp.split("T")
    const name = `vzdump-${subtype}-${vmid}-${date!.replaceAll("-", "_")}-${time!.replaceAll(":", "_")}`
    return {
      volid: `backup-nfs:backup/${name}.${subtype === "qemu" ? "vma.zst" : "tar.zst"}`,
      content: "backup",
      format: subtype === "qemu" ? "vma.zst" : "tar.zst",
      size: subtype === "qemu" ? 3 * GiB : 0.4 * GiB,
      ctime: now - ageDays * DAY,
      vmid,
      subtype,
      notes: `${subtype === "qemu" ? "VM" : "CT"} ${vmid} nightly`,
    }
  }
  volumes.set("backup-nfs", [backup(100, "qemu", 2), backup(100, "qemu", 1), backup(200, "lxc", 1)])
  return {
    snapshots: new Map(),
    volumes,
    backupJobs: new Map([
      [
        "backup-nightly",
        {
          id: "backup-nightly",
          type: "vzdump",
          enabled: 1,
          schedule: "02:30",
          storage: "backup-nfs",
          mode: "snapshot",
          compress: "zstd",
          vmid: "100,101,200",
          "notes-template": "{{guestname}} nightly",
        },
      ],
    ]),
    agentProcesses: new Map(),
    nextAgentPid: 4100,
    haResources: [{ sid: "vm:101", state: "started", group: "prod" }],
    replicationJobs: [{ id: "101-0", guest: 101, target: cluster.nodes[1] ?? first, schedule: "*/15" }],
  }
}

const inventories = new WeakMap<ClusterState, Inventory>()

export const inventoryOf = (cluster: ClusterState): Inventory => {
  let inventory = inventories.get(cluster)
  if (inventory === undefined) {
    inventory = seed(cluster)
    inventories.set(cluster, inventory)
  }
  return inventory
}

/** The key of a storage's volume list as seen from `node`. */
export const volumeKey = (cluster: ClusterState, node: string, storage: string) =>
  cluster.requireStorage(storage).shared ? storage : `${node}/${storage}`

/** The guest disks on a storage that holds them, derived from the guests on the node. */
export const guestDiskVolumes = (cluster: ClusterState, node: string, storage: string): Array<Volume> => {
  const spec = cluster.requireStorage(storage)
  if (!spec.holdsGuestDisks) return []
  return cluster.guestsOn(node).map((guest) => ({
    volid: `${storage}:${guest.template ? "base" : "vm"}-${guest.vmid}-disk-0`,
    content: guest.type === "lxc" ? "rootdir" : "images",
    format: "raw",
    size: guest.diskGiB * GiB,
    ctime: Math.floor(guest.startedAt / 1000),
    vmid: guest.vmid,
  }))
}

export const storedVolumes = (cluster: ClusterState, node: string, storage: string): Array<Volume> => {
  const inventory = inventoryOf(cluster)
  const key = volumeKey(cluster, node, storage)
  let list = inventory.volumes.get(key)
  if (list === undefined) {
    list = []
    inventory.volumes.set(key, list)
  }
  return list
}

export const snapshotsOf = (cluster: ClusterState, vmid: number): Array<Snapshot> => {
  const inventory = inventoryOf(cluster)
  let list = inventory.snapshots.get(vmid)
  if (list === undefined) {
    list = []
    inventory.snapshots.set(vmid, list)
  }
  return list
}

/** PVE refuses config changes on a locked guest (unless skiplock, which tokens may not use). */
export const requireUnlocked = (guest: GuestModel) => {
  if (guest.lock !== undefined)
    throw serverError(`${guest.type === "qemu" ? "VM" : "CT"} is locked (${guest.lock})`)
}

/** The guest label PVE's messages use. */
export const label = (guest: { readonly type: "qemu" | "lxc"; readonly vmid: number }) =>
  `${guest.type === "qemu" ? "VM" : "CT"} ${guest.vmid}`
