// Starting contents of the simulated cluster: node hardware, storages and the demo guests.
import type { GuestSpec } from "./types.js"

const GiB = 1024 ** 3

export interface NodeHardware {
  readonly cpus: number
  readonly sockets: number
  readonly cpuModel: string
  readonly memoryBytes: number
  readonly rootfsBytes: number
  /** Host memory in use without guests (kernel, pmxcfs, ZFS ARC, ...). */
  readonly baseMemoryBytes: number
  /** How long the node has been up when the simulator starts. */
  readonly uptimeSeconds: number
}

const HARDWARE: ReadonlyArray<NodeHardware> = [
  {
    cpus: 16,
    sockets: 1,
    cpuModel: "AMD EPYC 7313P 16-Core Processor",
    memoryBytes: 128 * GiB,
    rootfsBytes: 94 * GiB,
    baseMemoryBytes: 5.2 * GiB,
    uptimeSeconds: 3_024_117,
  },
  {
    cpus: 8,
    sockets: 1,
    cpuModel: "Intel(R) Xeon(R) E-2378G CPU @ 2.80GHz",
    memoryBytes: 64 * GiB,
    rootfsBytes: 94 * GiB,
    baseMemoryBytes: 3.9 * GiB,
    uptimeSeconds: 1_210_544,
  },
  {
    cpus: 8,
    sockets: 1,
    cpuModel: "Intel(R) Xeon(R) E-2378G CPU @ 2.80GHz",
    memoryBytes: 64 * GiB,
    rootfsBytes: 94 * GiB,
    baseMemoryBytes: 3.6 * GiB,
    uptimeSeconds: 1_209_871,
  },
]

export const nodeHardware = (index: number): NodeHardware => HARDWARE[index % HARDWARE.length]!

export interface StorageSpec {
  readonly storage: string
  /** The storage plugin type (dir, lvmthin, nfs, ...). */
  readonly type: string
  readonly content: string
  readonly shared: boolean
  readonly totalBytes: number
  /** Space in use besides guest disks (ISOs, templates, backups). */
  readonly baseUsedBytes: number
  /** Whether guest disks (vm-ID-disk-N volumes) live here and count as used space. */
  readonly holdsGuestDisks: boolean
  /** Storage-type specific settings as in storage.cfg. */
  readonly settings: Readonly<Record<string, string>>
}

export const STORAGES: ReadonlyArray<StorageSpec> = [
  {
    storage: "local",
    type: "dir",
    content: "iso,vztmpl,backup",
    shared: false,
    totalBytes: 94 * GiB,
    baseUsedBytes: 14.3 * GiB,
    holdsGuestDisks: false,
    settings: { path: "/var/lib/vz" },
  },
  {
    storage: "local-lvm",
    type: "lvmthin",
    content: "rootdir,images",
    shared: false,
    totalBytes: 832 * GiB,
    baseUsedBytes: 0,
    holdsGuestDisks: true,
    settings: { thinpool: "data", vgname: "pve" },
  },
  {
    storage: "backup-nfs",
    type: "nfs",
    content: "backup",
    shared: true,
    totalBytes: 4 * 1024 * GiB,
    baseUsedBytes: 1291 * GiB,
    holdsGuestDisks: false,
    settings: {
      server: "192.168.100.50",
      export: "/export/pve-backup",
      path: "/mnt/pve/backup-nfs",
      options: "vers=4.2",
      "prune-backups": "keep-daily=7,keep-weekly=4",
    },
  },
]

/** Demo guests, spread over the first three nodes (fewer nodes: the rest land on the last one). */
export const demoGuests = (nodes: ReadonlyArray<string>): ReadonlyArray<GuestSpec> => {
  const at = (index: number) => nodes[Math.min(index, nodes.length - 1)]!
  return [
    {
      vmid: 100,
      type: "qemu",
      node: at(0),
      name: "web-01",
      status: "running",
      tags: "prod;web",
      cores: 2,
      memoryMiB: 4096,
      diskGiB: 32,
    },
    {
      vmid: 101,
      type: "qemu",
      node: at(0),
      name: "db-01",
      status: "running",
      tags: "prod;db",
      cores: 4,
      memoryMiB: 16384,
      diskGiB: 200,
    },
    {
      vmid: 102,
      type: "qemu",
      node: at(0),
      name: "build-runner",
      status: "stopped",
      tags: "ci",
      cores: 8,
      memoryMiB: 8192,
      diskGiB: 64,
    },
    {
      vmid: 200,
      type: "lxc",
      node: at(0),
      name: "dns",
      status: "running",
      tags: "infra",
      cores: 1,
      memoryMiB: 512,
      diskGiB: 8,
    },
    {
      vmid: 110,
      type: "qemu",
      node: at(1),
      name: "staging-app",
      status: "stopped",
      tags: "staging",
      cores: 2,
      memoryMiB: 4096,
      diskGiB: 32,
    },
    {
      vmid: 210,
      type: "lxc",
      node: at(1),
      name: "monitoring",
      status: "running",
      tags: "infra;monitoring",
      cores: 2,
      memoryMiB: 2048,
      diskGiB: 16,
    },
    {
      vmid: 120,
      type: "qemu",
      node: at(2),
      name: "win-test",
      status: "stopped",
      cores: 4,
      memoryMiB: 8192,
      diskGiB: 80,
    },
    {
      vmid: 9000,
      type: "qemu",
      node: at(2),
      name: "debian-12-template",
      status: "stopped",
      template: true,
      tags: "template",
      cores: 2,
      memoryMiB: 2048,
      diskGiB: 8,
    },
  ]
}
