/**
 * Catalog part 1 (guests, snapshots, backups, templates, storage, agent, metrics, HA, tasks),
 * end to end: a real MCP client calls each tool against the simulated cluster, and the test
 * checks the cluster's state changed as the tool says. Then the policy over the same cases: a
 * protected guest survives every state-changing tool, walked from the catalog.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { Effect, type Either, type Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { InvalidInput } from "../../src/domain/errors.js"
import type { TargetRef } from "../../src/domain/target.js"
import { isStateChanging } from "../../src/domain/tool.js"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { endpointFacts, resolvePath } from "../../src/simulator/schema.js"
import type { RecordedRequest } from "../../src/simulator/types.js"
import { builtin } from "../../src/tools/catalog.js"
import type { Envelope } from "../../src/tools/envelope.js"
import { encodeSshKeys } from "../../src/tools/templates.js"
import type * as Tool from "../../src/tools/tool.js"
import { startTestCluster } from "../support/cluster.js"
import { connectInProcess } from "../support/server.js"
import { part1Names, part1Tools } from "./part1-tools.js"

const FULL = { PVE_ACCESS_TIER: "full", PVE_MODULE_MODE: "advanced", PVE_CONFIRM_MODE: "argument" }

let sim: RunningSimulator
let session: Awaited<ReturnType<typeof connectInProcess>>
/** Every request the cases sent, for the parameter check against the official schema. */
const sent: Array<RecordedRequest> = []

beforeAll(async () => {
  // Short tasks: the cases wait for dozens of them.
  sim = await startTestCluster({ taskDurationMs: 20 })
  session = await connectInProcess(sim, { env: FULL })
})
afterAll(async () => {
  await session.close()
  await sim.close()
})

const callWith = async (client: Client, name: string, args: Record<string, unknown>): Promise<Envelope> => {
  const result = await client.callTool({ name, arguments: args })
  return result.structuredContent as unknown as Envelope
}
const call = (name: string, args: Record<string, unknown> = {}) => callWith(session.client, name, args)

const ok = async (name: string, args: Record<string, unknown> = {}) => {
  const envelope = await call(name, args)
  if (!envelope.ok) throw new Error(`${name}: expected ok, got ${JSON.stringify(envelope.error)}`)
  return envelope.data as never
}

type Row = Record<string, unknown>

type GuestSpec = Parameters<RunningSimulator["cluster"]["addGuest"]>[0]
const addVm = (vmid: number, node = "pve1", extra: Partial<GuestSpec> = {}) =>
  void sim.cluster.addGuest({ vmid, type: "qemu", node, name: `vm-${vmid}`, status: "stopped", ...extra })
const addCt = (vmid: number, node = "pve1", extra: Partial<GuestSpec> = {}) =>
  void sim.cluster.addGuest({ vmid, type: "lxc", node, name: `ct-${vmid}`, status: "stopped", ...extra })

const snapshotNames = async (type: "qemu" | "lxc", vmid: number) =>
  ((await ok(`pve_list_${type}_snapshots`, { vmid })) as Array<Row>).map((s) => s.name)

const backupOf = async (vmid: number) => {
  const backups = (await ok("pve_list_backups", { node: "pve1", storage: "backup-nfs", vmid })) as Array<Row>
  return String(backups[0]?.volid)
}

interface Case {
  /** Prepares the state the call needs (run once, before the call against the full server). */
  readonly setup?: () => Promise<void> | void
  /** The tool's arguments (no side effects: the protection table calls it again). */
  readonly args: () => Promise<Record<string, unknown>> | Record<string, unknown>
  /** Checks the state after the call (and its data). */
  readonly check?: (data: never) => Promise<void> | void
}

let agentPid = 0
const ISO = "local:iso/debian-12.8.0-amd64-netinst.iso"
const CT_TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"

const cases: Record<string, Case> = {
  // --- create, clone, migrate, config, resize, template, delete ---
  pve_qemu_create: {
    args: () => ({ node: "pve2", vmid: 7001, name: "created-vm", memory: 1024, iso: ISO, wait: true }),
    check: async () => {
      expect(sim.cluster.getGuest(7001)).toMatchObject({
        node: "pve2",
        type: "qemu",
        memoryMiB: 1024,
        diskGiB: 32,
        cores: 2,
      })
      const config = (await ok("pve_get_qemu_config", { vmid: 7001 })) as Row
      expect(config).toMatchObject({ ide2: `${ISO},media=cdrom`, ostype: "l26", agent: "1" })
      expect(String(config.net0)).toContain("bridge=vmbr0")
    },
  },
  pve_lxc_create: {
    args: () => ({
      node: "pve1",
      vmid: 7101,
      ostemplate: CT_TEMPLATE,
      hostname: "ct-created",
      password: "correct-horse",
      "ssh-public-keys": "ssh-ed25519 AAAAC3Nza test@host",
      ip: "10.0.0.5/24",
      gw: "10.0.0.1",
      wait: true,
    }),
    check: async () => {
      expect(sim.cluster.getGuest(7101)).toMatchObject({
        node: "pve1",
        type: "lxc",
        name: "ct-created",
        memoryMiB: 512,
        diskGiB: 8,
      })
      const post = sim.cluster.requests.find((r) => r.method === "POST" && r.path === "/nodes/pve1/lxc")
      expect(post?.body).toMatchObject({ rootfs: "local-lvm:8", unprivileged: "1" })
      expect(String(post?.body.net0)).toBe("name=eth0,bridge=vmbr0,ip=10.0.0.5/24,gw=10.0.0.1,firewall=1")
      // The password went to Proxmox but is not in the audit.
      expect(JSON.stringify(session.records())).not.toContain("correct-horse")
    },
  },
  pve_qemu_clone: {
    args: () => ({ vmid: 9000, newid: 7002, name: "from-template", target: "pve1", wait: true }),
    check: () =>
      expect(sim.cluster.getGuest(7002)).toMatchObject({
        node: "pve1",
        name: "from-template",
        template: false,
      }),
  },
  pve_lxc_clone: {
    setup: () => {
      addCt(7102, "pve2")
    },
    args: () => ({ vmid: 7102, newid: 7103, hostname: "ct-copy", full: true, wait: true }),
    check: () =>
      expect(sim.cluster.getGuest(7103)).toMatchObject({ node: "pve2", name: "ct-copy", type: "lxc" }),
  },
  pve_qemu_migrate: {
    setup: () => {
      addVm(7003, "pve1", { status: "running" })
    },
    args: () => ({ vmid: 7003, target: "pve3", online: true, confirm: true, wait: true }),
    check: () => expect(sim.cluster.getGuest(7003)).toMatchObject({ node: "pve3", status: "running" }),
  },
  pve_lxc_migrate: {
    setup: () => {
      addCt(7104, "pve2", { status: "running" })
    },
    args: () => ({ vmid: 7104, target: "pve1", restart: true, confirm: true, wait: true }),
    check: () => expect(sim.cluster.getGuest(7104)?.node).toBe("pve1"),
  },
  pve_qemu_update_config: {
    setup: () => {
      addVm(7004)
    },
    args: () => ({ vmid: 7004, memory: 3072, cores: 3, onboot: true, tags: "resized", confirm: true }),
    check: async (data: Row) => {
      expect(data).toMatchObject({
        updated: true,
        changed: expect.arrayContaining(["memory", "cores", "onboot"]),
      })
      expect(sim.cluster.getGuest(7004)).toMatchObject({ memoryMiB: 3072, cores: 3 })
      expect(await ok("pve_get_qemu_config", { vmid: 7004 })).toMatchObject({
        onboot: 1,
        tags: "resized",
        memory: "3072",
      })
    },
  },
  pve_lxc_update_config: {
    setup: () => {
      addCt(7105)
    },
    args: () => ({ vmid: 7105, memory: 1024, swap: 256, hostname: "renamed", confirm: true }),
    check: async () => {
      expect(sim.cluster.getGuest(7105)).toMatchObject({ memoryMiB: 1024, name: "renamed" })
      expect(await ok("pve_get_lxc_config", { vmid: 7105 })).toMatchObject({ swap: 256, hostname: "renamed" })
    },
  },
  pve_qemu_resize_disk: {
    setup: () => {
      addVm(7005, "pve1", { diskGiB: 32 })
    },
    args: () => ({ vmid: 7005, disk: "scsi0", size: "+8G", confirm: true, wait: true }),
    check: () => expect(sim.cluster.getGuest(7005)?.diskGiB).toBe(40),
  },
  pve_lxc_resize_disk: {
    setup: () => {
      addCt(7106, "pve1", { diskGiB: 8 })
    },
    args: () => ({ vmid: 7106, disk: "rootfs", size: "12G", confirm: true, wait: true }),
    check: () => expect(sim.cluster.getGuest(7106)?.diskGiB).toBe(12),
  },
  pve_qemu_create_template: {
    setup: () => {
      addVm(7006)
    },
    args: () => ({ vmid: 7006, confirm: true, wait: true }),
    check: () => expect(sim.cluster.getGuest(7006)?.template).toBe(true),
  },
  pve_lxc_create_template: {
    setup: () => {
      addCt(7107)
    },
    args: () => ({ vmid: 7107, confirm: true }),
    check: () => expect(sim.cluster.getGuest(7107)?.template).toBe(true),
  },
  pve_qemu_delete: {
    setup: () => {
      addVm(7007)
    },
    args: () => ({ vmid: 7007, purge: true, confirm: true, wait: true }),
    check: () => expect(sim.cluster.getGuest(7007)).toBeUndefined(),
  },
  pve_lxc_delete: {
    setup: () => {
      addCt(7108)
    },
    args: () => ({ vmid: 7108, confirm: true, wait: true }),
    check: () => expect(sim.cluster.getGuest(7108)).toBeUndefined(),
  },
  // --- snapshots ---
  pve_list_qemu_snapshots: {
    setup: async () => {
      addVm(7204)
      await ok("pve_qemu_create_snapshot", { vmid: 7204, snapname: "first", wait: true })
    },
    args: () => ({ vmid: 7204 }),
    check: (data: Array<Row>) => {
      expect(data.map((s) => s.name)).toEqual(["first", "current"])
      expect(data[1]).toMatchObject({ parent: "first" })
    },
  },
  pve_list_lxc_snapshots: {
    args: () => ({ vmid: 200 }),
    check: (data: Array<Row>) => expect(data.map((s) => s.name)).toEqual(["current"]),
  },
  pve_qemu_create_snapshot: {
    setup: () => {
      addVm(7201, "pve2", { status: "running" })
    },
    args: () => ({ vmid: 7201, snapname: "before-upgrade", description: "pre", vmstate: true, wait: true }),
    check: async () => expect(await snapshotNames("qemu", 7201)).toEqual(["before-upgrade", "current"]),
  },
  pve_lxc_create_snapshot: {
    setup: () => {
      addCt(7211, "pve2")
    },
    args: () => ({ vmid: 7211, snapname: "s1", wait: true }),
    check: async () => expect(await snapshotNames("lxc", 7211)).toEqual(["s1", "current"]),
  },
  pve_qemu_rollback_snapshot: {
    setup: async () => {
      addVm(7202, "pve1", { cores: 1 })
      await ok("pve_qemu_create_snapshot", { vmid: 7202, snapname: "good", wait: true })
      await ok("pve_qemu_update_config", { vmid: 7202, cores: 4, confirm: true })
      expect(sim.cluster.getGuest(7202)?.cores).toBe(4)
    },
    args: () => ({ vmid: 7202, snapname: "good", confirm: true, wait: true }),
    check: () => expect(sim.cluster.getGuest(7202)?.cores).toBe(1),
  },
  pve_lxc_rollback_snapshot: {
    setup: async () => {
      addCt(7212, "pve1", { memoryMiB: 512 })
      await ok("pve_lxc_create_snapshot", { vmid: 7212, snapname: "good", wait: true })
      await ok("pve_lxc_update_config", { vmid: 7212, memory: 2048, confirm: true })
    },
    args: () => ({ vmid: 7212, snapname: "good", start: true, confirm: true, wait: true }),
    check: () => expect(sim.cluster.getGuest(7212)).toMatchObject({ memoryMiB: 512, status: "running" }),
  },
  pve_qemu_delete_snapshot: {
    setup: async () => {
      addVm(7203)
      await ok("pve_qemu_create_snapshot", { vmid: 7203, snapname: "old", wait: true })
      await ok("pve_qemu_create_snapshot", { vmid: 7203, snapname: "new", wait: true })
    },
    args: () => ({ vmid: 7203, snapname: "old", confirm: true, wait: true }),
    check: async () => {
      const list = (await ok("pve_list_qemu_snapshots", { vmid: 7203 })) as Array<Row>
      expect(list.map((s) => s.name)).toEqual(["new", "current"])
      // The remaining snapshot no longer names the deleted one as its parent.
      expect(list[0]?.parent).toBeUndefined()
    },
  },
  pve_lxc_delete_snapshot: {
    setup: async () => {
      addCt(7213)
      await ok("pve_lxc_create_snapshot", { vmid: 7213, snapname: "gone", wait: true })
    },
    args: () => ({ vmid: 7213, snapname: "gone", confirm: true, wait: true }),
    check: async () => expect(await snapshotNames("lxc", 7213)).toEqual(["current"]),
  },
  // --- backups ---
  pve_list_backup_jobs: {
    args: () => ({}),
    check: (data: Array<Row>) => expect(data.map((j) => j.id)).toContain("backup-nightly"),
  },
  pve_get_backup_job: {
    args: () => ({ id: "backup-nightly" }),
    check: (data: Row) => expect(data).toMatchObject({ id: "backup-nightly", storage: "backup-nfs" }),
  },
  pve_list_backups: {
    args: () => ({ node: "pve1", storage: "backup-nfs", vmid: 100 }),
    check: (data: Array<Row>) => {
      expect(data).toHaveLength(2)
      expect(data.every((b) => b.content === "backup" && b.vmid === 100)).toBe(true)
      expect(Number(data[0]?.ctime)).toBeGreaterThan(Number(data[1]?.ctime))
      const query = sim.cluster.requests.find((r) => r.path.endsWith("/content"))?.query
      expect(query).toMatchObject({ content: "backup", vmid: "100" })
    },
  },
  pve_run_backup: {
    args: () => ({ node: "pve1", vmid: "101,102", storage: "backup-nfs", mode: "snapshot", wait: true }),
    check: async (data: Row) => {
      expect(data).toMatchObject({ exitstatus: "OK" })
      for (const vmid of [101, 102]) {
        const backups = (await ok("pve_list_backups", {
          node: "pve1",
          storage: "backup-nfs",
          vmid,
        })) as Array<Row>
        expect(backups.length, `backups of ${vmid}`).toBeGreaterThan(0)
      }
    },
  },
  pve_create_backup_job: {
    args: () => ({
      id: "weekly-test",
      vmid: "102",
      storage: "backup-nfs",
      schedule: "sat 03:00",
      mode: "stop",
      "prune-backups": "keep-weekly=4",
    }),
    check: async () =>
      expect(await ok("pve_get_backup_job", { id: "weekly-test" })).toMatchObject({
        schedule: "sat 03:00",
        vmid: "102",
        mode: "stop",
      }),
  },
  pve_delete_backup_job: {
    setup: async () => {
      await ok("pve_create_backup_job", {
        id: "to-delete",
        all: true,
        storage: "backup-nfs",
        schedule: "daily",
      })
    },
    args: () => ({ id: "to-delete", confirm: true }),
    check: async () =>
      expect(((await ok("pve_list_backup_jobs")) as Array<Row>).map((j) => j.id)).not.toContain("to-delete"),
  },
  pve_restore_qemu_backup: {
    args: async () => ({
      node: "pve2",
      vmid: 7301,
      archive: await backupOf(100),
      storage: "local-lvm",
      confirm: true,
      wait: true,
    }),
    check: () => expect(sim.cluster.getGuest(7301)).toMatchObject({ node: "pve2", type: "qemu" }),
  },
  pve_restore_lxc_backup: {
    args: async () => ({ node: "pve1", vmid: 7302, archive: await backupOf(200), confirm: true, wait: true }),
    check: () => {
      expect(sim.cluster.getGuest(7302)).toMatchObject({ node: "pve1", type: "lxc" })
      // pve-container restores through create with the archive as ostemplate and restore=1.
      const post = sim.cluster.requests.find((r) => r.method === "POST" && r.path === "/nodes/pve1/lxc")
      expect(post?.body).toMatchObject({ restore: "1", vmid: "7302" })
      expect(String(post?.body.ostemplate)).toMatch(/^backup-nfs:backup\/vzdump-lxc-200-/)
    },
  },
  // --- templates ---
  pve_get_qemu_cloudinit_dump: {
    args: () => ({ vmid: 100 }),
    check: (data: string) => expect(data).toMatch(/^#cloud-config/),
  },
  pve_list_qemu_templates: {
    args: () => ({ node: "pve3" }),
    check: (data: Array<Row>) => expect(data.map((vm) => vm.vmid)).toEqual([9000]),
  },
  pve_list_iso_images: {
    args: () => ({ node: "pve1", storage: "local" }),
    check: (data: Array<Row>) => {
      expect(data.map((v) => v.volid)).toContain(ISO)
      expect(data.every((v) => v.content === "iso")).toBe(true)
    },
  },
  pve_list_storage_templates: {
    args: () => ({ node: "pve1", storage: "local" }),
    check: (data: Array<Row>) => expect(data.map((v) => v.volid)).toEqual([CT_TEMPLATE]),
  },
  pve_set_qemu_cloudinit: {
    setup: () => addVm(7401),
    args: () => ({
      vmid: 7401,
      ciuser: "admin",
      cipassword: "hunter2-secret",
      sshkeys: "ssh-ed25519 AAAA a@b\nssh-rsa BBBB c@d",
      ipconfig0: "ip=10.0.0.9/24,gw=10.0.0.1",
      confirm: true,
    }),
    check: async () => {
      const put = sim.cluster.requests.find((r) => r.method === "PUT" && r.path.endsWith("/7401/config"))
      expect(put?.body.sshkeys).toBe(encodeSshKeys("ssh-ed25519 AAAA a@b\nssh-rsa BBBB c@d"))
      const dump = (await ok("pve_get_qemu_cloudinit_dump", { vmid: 7401 })) as string
      expect(dump).toContain("  - ssh-rsa BBBB c@d")
      expect(dump).toContain("user: admin")
      expect(JSON.stringify(session.records())).not.toContain("hunter2-secret")
      // PVE shows the password masked; the server's redactor hides the value either way.
      const config = (await ok("pve_get_qemu_config", { vmid: 7401 })) as Row
      expect(config.ciuser).toBe("admin")
      expect(JSON.stringify(config)).not.toContain("hunter2-secret")
    },
  },
  // --- storage ---
  pve_get_storage_config: {
    args: () => ({ storage: "backup-nfs" }),
    check: (data: Row) => expect(data).toMatchObject({ type: "nfs", server: "192.168.100.50" }),
  },
  pve_list_storage_content: {
    args: () => ({ node: "pve1", storage: "local-lvm", content: "images" }),
    check: (data: Array<Row>) => expect(data.map((v) => v.volid)).toContain("local-lvm:vm-100-disk-0"),
  },
  pve_create_storage: {
    args: () => ({ storage: "scratch", type: "dir", path: "/mnt/scratch", content: "iso,backup" }),
    check: async () =>
      expect(await ok("pve_get_storage_config", { storage: "scratch" })).toMatchObject({
        type: "dir",
        path: "/mnt/scratch",
        content: "iso,backup",
      }),
  },
  pve_update_storage: {
    setup: async () => {
      await ok("pve_create_storage", { storage: "scratch2", type: "dir", path: "/mnt/scratch2" })
    },
    args: () => ({ storage: "scratch2", content: "iso", disable: true, confirm: true }),
    check: async () =>
      expect(await ok("pve_get_storage_config", { storage: "scratch2" })).toMatchObject({
        content: "iso",
        disable: "1",
      }),
  },
  pve_delete_storage: {
    setup: async () => {
      await ok("pve_create_storage", {
        storage: "scratch3",
        type: "nfs",
        server: "10.0.0.2",
        export: "/srv/nfs",
      })
    },
    args: () => ({ storage: "scratch3", confirm: true }),
    check: async () => {
      const ids = ((await ok("pve_list_storage")) as Array<Row>).map((s) => s.storage)
      expect(ids).not.toContain("scratch3")
    },
  },
  pve_delete_storage_content: {
    args: () => ({ node: "pve3", storage: "local", volume: ISO, confirm: true, wait: true }),
    check: async () => {
      expect(await ok("pve_list_iso_images", { node: "pve3", storage: "local" })).toEqual([])
      // `local` is per node: pve1's copy stays.
      expect(
        ((await ok("pve_list_iso_images", { node: "pve1", storage: "local" })) as Array<Row>).length,
      ).toBe(1)
    },
  },
  pve_download_url_to_storage: {
    args: () => ({
      node: "pve2",
      storage: "local",
      url: "https://example.com/alpine.iso",
      content: "iso",
      filename: "alpine.iso",
      wait: true,
    }),
    check: async () =>
      expect(
        ((await ok("pve_list_iso_images", { node: "pve2", storage: "local" })) as Array<Row>).map(
          (v) => v.volid,
        ),
      ).toContain("local:iso/alpine.iso"),
  },
  // --- agent ---
  pve_get_qemu_agent_info: {
    args: () => ({ vmid: 100 }),
    check: (data: Row) => expect(data).toHaveProperty("result.version"),
  },
  pve_get_qemu_agent_network: {
    args: () => ({ vmid: 100 }),
    check: (data: { result: Array<Row> }) => expect(data.result.map((i) => i.name)).toContain("eth0"),
  },
  pve_get_qemu_agent_osinfo: {
    args: () => ({ vmid: 101 }),
    check: (data: Row) => expect(data).toHaveProperty("result.id", "debian"),
  },
  pve_get_qemu_agent_fsinfo: {
    args: () => ({ vmid: 101 }),
    check: (data: { result: Array<Row> }) => expect(data.result[0]).toMatchObject({ mountpoint: "/" }),
  },
  pve_exec_qemu_guest_command: {
    args: () => ({ vmid: 100, command: `echo 'hello world' "a \\"b\\""`, confirm: true }),
    check: (data: Row) => {
      expect(data).toMatchObject({ pid: expect.any(Number), argv: ["echo", "hello world", 'a "b"'] })
      // One `command` value per argument, as PVE's array parameter wants.
      const post = sim.cluster.requests.find((r) => r.method === "POST" && r.path.endsWith("/agent/exec"))
      expect(post?.body.command).toEqual(["echo", "hello world", 'a "b"'])
    },
  },
  pve_get_qemu_agent_exec_status: {
    setup: async () => {
      const started = (await ok("pve_exec_qemu_guest_command", {
        vmid: 101,
        command: "hostname",
        confirm: true,
      })) as Row
      agentPid = Number(started.pid)
    },
    args: () => ({ vmid: 101, pid: agentPid }),
    check: (data: Row) => expect(data).toMatchObject({ exited: 1, exitcode: 0, "out-data": "db-01\n" }),
  },
  // --- HA, replication, tasks, node ---
  pve_list_ha_resources: {
    args: () => ({ type: "vm" }),
    check: (data: Array<Row>) => expect(data[0]).toMatchObject({ sid: "vm:101" }),
  },
  pve_list_node_replication: {
    args: () => ({ node: "pve1" }),
    check: (data: Array<Row>) => expect(data[0]).toMatchObject({ guest: 101 }),
  },
  pve_list_cluster_tasks: {
    args: () => ({ limit: 3 }),
    check: (data: Array<Row>) => {
      expect(data).toHaveLength(3)
      expect(Number(data[0]?.starttime)).toBeGreaterThanOrEqual(Number(data[2]?.starttime))
    },
  },
  pve_get_node_subscription: {
    args: () => ({ node: "pve1" }),
    check: (data: Row) => expect(data).toHaveProperty("status"),
  },
  pve_list_node_apt_updates: {
    args: () => ({ node: "pve2" }),
    check: (data: Array<Row>) => expect(data.map((p) => p.Package)).toContain("pve-manager"),
  },
}

// Metrics: every timeframe tool sends the timeframe its name says.
for (const type of ["qemu", "lxc"] as const) {
  for (const timeframe of ["hour", "day", "week", "month", "year"]) {
    cases[`pve_get_${type}_metrics_${timeframe}`] = {
      args: () => ({ vmid: type === "qemu" ? 101 : 200, ...(timeframe === "week" ? { cf: "MAX" } : {}) }),
      check: (data: Array<Row>) => {
        expect(data.length).toBe(70)
        const query = sim.cluster.requests.find((r) => r.path.endsWith("/rrddata"))?.query
        expect(query).toEqual({ timeframe, cf: timeframe === "week" ? "MAX" : "AVERAGE" })
      },
    }
  }
}

/** A path template matches a recorded (decoded) request path. */
const matches = (template: string, requestPath: string) =>
  new RegExp(`^${template.replace("{volume}", ".+").replace(/\{[^}]+\}/g, "[^/]+")}$`).test(requestPath)

describe("catalog part 1 against the simulated cluster", () => {
  it("has a case for every tool of part 1, and every name is in the catalog", () => {
    // Also cases for part 2's agent and guest metrics tools, which part 1 once declared too.
    expect(Object.keys(cases)).toEqual(expect.arrayContaining([...part1Names]))
    for (const name of Object.keys(cases)) expect(builtin.lookup(name), name).toBeDefined()
  })

  for (const [name, testCase] of Object.entries(cases)) {
    it(name, async () => {
      await testCase.setup?.()
      const args = await testCase.args()
      sim.cluster.clearRequests()
      const envelope = await call(name, args)
      if (!envelope.ok) throw new Error(`${name}: ${JSON.stringify(envelope.error)}`)
      const tool = builtin.lookup(name)!.tool
      const endpoint = tool.endpoints.at(-1)!
      expect(
        sim.cluster.requests.some(
          (r) => r.method === endpoint.method && matches(endpoint.path, r.path) && r.status === 200,
        ),
        `${endpoint.method} ${endpoint.path} was sent`,
      ).toBe(true)
      sent.push(...sim.cluster.requests)
      await testCase.check?.(envelope.data as never)
    })
  }
})

/** Inputs a tool composes into other parameters or applies itself (documented in docs/tools.md). */
const COMPOSED: Readonly<Record<string, ReadonlyArray<string>>> = {
  pve_qemu_create: ["diskSize", "bridge", "iso"],
  pve_lxc_create: ["diskSize", "bridge", "ip", "gw"],
  pve_restore_lxc_backup: ["archive"],
  // Picks the entry out of GET /storage (see its note in docs/tools.md).
  pve_get_storage_config: ["storage"],
}

describe("every input of part 1 is a PVE parameter, or composed into one", () => {
  it("each input name is a parameter of one of the tool's endpoints (generated schema table)", () => {
    for (const tool of part1Tools) {
      const declared = new Set(
        tool.endpoints
          .flatMap((e) => Object.keys(endpointFacts(e.method, e.path)?.parameters ?? {}))
          .map((n) => n.replace("[n]", "")),
      )
      for (const name of Object.keys(tool.input)) {
        if (COMPOSED[tool.name]?.includes(name)) continue
        // limit/offset page a whole list here when PVE has no such parameter; fields projects it.
        if ((name === "limit" || name === "offset" || name === "fields") && !declared.has(name)) continue
        // Numbered families (ipconfig0, net0) are declared as ipconfig[n], net[n].
        expect(declared.has(name) || declared.has(name.replace(/\d+$/, "")), `${tool.name}: ${name}`).toBe(
          true,
        )
      }
    }
  })
})

const OFFICIAL_SCHEMA = path.resolve(
  import.meta.dirname,
  "../../../shared/reference/pve-api/pve-api-schema.json",
)

interface SchemaNode {
  readonly path: string
  readonly info?: Record<string, { readonly parameters?: { readonly properties?: Record<string, unknown> } }>
  readonly children?: ReadonlyArray<SchemaNode>
}

describe("every request part 1 sent is one PVE accepts", () => {
  it.skipIf(!fs.existsSync(OFFICIAL_SCHEMA))(
    "each parameter name of each request is declared by the official PVE schema (skipped without ../shared)",
    () => {
      const byPath = new Map<string, SchemaNode>()
      const walk = (node: SchemaNode) => {
        byPath.set(node.path, node)
        for (const child of node.children ?? []) walk(child)
      }
      for (const root of JSON.parse(fs.readFileSync(OFFICIAL_SCHEMA, "utf8")) as Array<SchemaNode>) walk(root)
      expect(sent.length).toBeGreaterThan(100)
      for (const request of sent) {
        // A volume id is one (encoded) segment; the recorded path shows it decoded.
        const volume = /^(\/nodes\/[^/]+\/storage\/[^/]+\/content)\/(.+)$/.exec(request.path)
        const segments =
          volume === null
            ? request.path.split("/").filter((s) => s !== "")
            : [...volume[1]!.split("/").filter((s) => s !== ""), volume[2]!]
        const resolved = resolvePath(segments)
        expect(resolved, request.path).toBeDefined()
        const declared = byPath.get(resolved!.template)?.info?.[request.method]?.parameters?.properties ?? {}
        // `[n]` families (scsi0, net0, ipconfig0) are declared as scsi[n], net[n], ipconfig[n].
        const names = new Set(Object.keys(declared).map((name) => name.replace("[n]", "")))
        for (const name of [...Object.keys(request.query), ...Object.keys(request.body)]) {
          expect(
            names.has(name) || names.has(name.replace(/\d+$/, "")),
            `${request.method} ${resolved!.template}: ${name}`,
          ).toBe(true)
        }
      }
    },
  )
})

// ---------------------------------------------------------------------------------------------
// Protection, over the catalog

const decodeTargets = (name: string, args: Record<string, unknown>): ReadonlyArray<TargetRef> => {
  const tool = builtin.lookup(name)!.tool
  const decoded = Effect.runSync(
    // Input schemas need no services; the catalog's existential type cannot say so.
    Effect.either(tool.decode(args)) as Effect.Effect<
      Either.Either<Tool.Decoded<Schema.Struct.Fields>, InvalidInput>
    >,
  )
  if (decoded._tag === "Left") throw new Error(`${name}: ${decoded.left.message}`)
  return tool.targets(decoded.right.input)
}

const GUEST_REFS = new Set(["Guest", "NewGuest", "AllGuests"])

/** The categories of catalog part 1 (issue 10); the others are part 2's. */
const PART1_CATEGORIES: ReadonlySet<string> = new Set([
  "qemu",
  "lxc",
  "backup",
  "templates",
  "storage",
  "tasks",
  "nodes",
  "monitoring",
])

/**
 * Arguments for a protection check: the case's, or for the foundation's guest lifecycle tools
 * (vmid only) a guest id, or for a task tool a guest's task. Undefined: the table needs a case.
 */
const protectionArgs = async (name: string): Promise<Record<string, unknown> | undefined> => {
  const known = cases[name]
  if (known !== undefined) return known.args()
  const tool = builtin.lookup(name)!.tool
  const fields = Object.keys(tool.input)
  const confirm = tool.confirm ? { confirm: true } : {}
  if (fields.includes("upid")) {
    const task = sim.cluster
      .listTasks()
      .find((t) => /^\d+$/.test(t.id) && sim.cluster.getGuest(Number(t.id)) !== undefined)
    return task === undefined ? undefined : { upid: task.upid, ...confirm }
  }
  if (fields.includes("vmid") && fields.every((f) => ["node", "vmid", "timeout", "forceStop"].includes(f))) {
    const type = tool.category === "lxc" ? "lxc" : "qemu"
    return { vmid: sim.cluster.listGuests().find((g) => g.type === type && !g.template)!.vmid, ...confirm }
  }
  return undefined
}

describe("a protected guest survives every state-changing tool of part 1", () => {
  let guarded: Awaited<ReturnType<typeof connectInProcess>>
  // Every guest id is protected, so any call that names a guest (as target, source, the id it
  // writes to, through a task, or through `all`) must be refused before anything changes.
  beforeAll(async () => {
    guarded = await connectInProcess(sim, { env: { ...FULL, PVE_PROTECTED_VMIDS: "100-999999999" } })
  })
  afterAll(async () => {
    await guarded.close()
  })

  // The table is the catalog: every state-changing tool of part 1's categories, whoever declared it.
  const stateChanging = builtin.entries.filter(
    (entry) =>
      entry.aliasFor === undefined &&
      isStateChanging(entry.tool) &&
      PART1_CATEGORIES.has(entry.tool.category),
  )

  it("covers the lifecycle, task and part 1 tools", () => {
    const names = stateChanging.map((e) => e.name)
    expect(names).toEqual(
      expect.arrayContaining(["pve_stop_qemu_vm", "pve_stop_task", "pve_qemu_delete", "pve_run_backup"]),
    )
    expect(names.length).toBeGreaterThan(40)
  })

  for (const entry of stateChanging) {
    it(entry.name, async () => {
      const args = await protectionArgs(entry.name)
      expect(args, `${entry.name} needs a case in part1.test.ts`).toBeDefined()
      const refs = decodeTargets(entry.name, args!)
      // A guest an earlier case deleted is there again, so the refusal is about protection.
      for (const ref of refs) {
        if (ref._tag === "Guest" && sim.cluster.getGuest(ref.vmid) === undefined)
          (ref.type === "lxc" ? addCt : addVm)(ref.vmid, ref.node ?? "pve1")
      }
      sim.cluster.clearRequests()
      const before = sim.cluster.listGuests()
      const envelope = await callWith(guarded.client, entry.name, args!)
      if (!refs.some((ref) => GUEST_REFS.has(ref._tag) || ref._tag === "Task")) {
        // No guest involved (storage, backup jobs): protection does not apply.
        expect(envelope.ok || envelope.error.code !== "PROTECTED_GUEST").toBe(true)
        return
      }
      expect(envelope.ok ? undefined : envelope.error.code).toBe("PROTECTED_GUEST")
      expect(sim.cluster.requests.filter((r) => r.method !== "GET")).toEqual([])
      expect(sim.cluster.listGuests()).toEqual(before)
    })
  }
})

describe("targets of part 1 in the policy", () => {
  let tagged: Awaited<ReturnType<typeof connectInProcess>>
  beforeAll(async () => {
    tagged = await connectInProcess(sim, { env: { ...FULL, PVE_PROTECTED_TAGS: "keep" } })
  })
  afterAll(async () => {
    await tagged.close()
  })

  it("vzdump with all: true is refused when any guest of the node is protected, and runs elsewhere", async () => {
    addCt(7501, "pve3", { tags: "keep" })
    sim.cluster.clearRequests()
    const refused = await callWith(tagged.client, "pve_run_backup", {
      node: "pve3",
      all: true,
      storage: "backup-nfs",
    })
    expect(refused.ok ? undefined : refused.error).toMatchObject({
      code: "PROTECTED_GUEST",
      details: { vmid: 7501 },
    })
    expect(sim.cluster.requests.filter((r) => r.method !== "GET")).toEqual([])
    const allowed = await callWith(tagged.client, "pve_run_backup", {
      node: "pve2",
      all: true,
      storage: "backup-nfs",
      wait: true,
    })
    expect(allowed.ok).toBe(true)
  })

  it("a restore over a protected guest is refused (tags read from the guest that has the id)", async () => {
    addVm(7502, "pve2", { tags: "db;keep" })
    const envelope = await callWith(tagged.client, "pve_restore_qemu_backup", {
      node: "pve2",
      vmid: 7502,
      archive: await backupOf(100),
      force: true,
      confirm: true,
    })
    expect(envelope.ok ? undefined : envelope.error.code).toBe("PROTECTED_GUEST")
    expect(sim.cluster.getGuest(7502)?.name).toBe("vm-7502")
  })

  it("a clone is refused when its newid is a protected guest, a migration checks the target node", async () => {
    addVm(7503, "pve1")
    addVm(7504, "pve1", { tags: "keep" })
    const clone = await callWith(tagged.client, "pve_qemu_clone", { vmid: 7503, newid: 7504 })
    expect(clone.ok ? undefined : clone.error.code).toBe("PROTECTED_GUEST")
    // An operator limited to pve1 may not move a guest off it.
    const limited = await connectInProcess(sim, {
      env: FULL,
      principal: {
        sub: "ops",
        role: "operator",
        transport: "http",
        resources: ["/nodes/pve1", "/nodes/pve1/*"],
      },
    })
    try {
      const migrate = await callWith(limited.client, "pve_qemu_migrate", {
        vmid: 7503,
        target: "pve2",
        confirm: true,
      })
      expect(migrate.ok ? undefined : migrate.error).toMatchObject({
        code: "FORBIDDEN",
        details: { rule: "principal resources" },
      })
      expect(migrate.ok ? "" : migrate.error.message).toContain("/nodes/pve2")
      const unknownTarget = await callWith(limited.client, "pve_qemu_migrate", {
        vmid: 7503,
        target: "pve9",
        confirm: true,
      })
      expect(unknownTarget.ok ? undefined : unknownTarget.error.code).toBe("UNKNOWN_NODE")
      expect(sim.cluster.getGuest(7503)?.node).toBe("pve1")
    } finally {
      await limited.close()
    }
  })
})

describe("bad input to part 1 is refused before anything is sent", () => {
  it.each([
    ["pve_qemu_delete_snapshot", { vmid: 100, snapname: "..", confirm: true }, "snapname"],
    ["pve_qemu_rollback_snapshot", { vmid: 100, snapname: "a/b", confirm: true }, "snapname"],
    [
      "pve_delete_storage_content",
      { node: "pve1", storage: "local", volume: "local:iso/../../etc/passwd", confirm: true },
      "volume",
    ],
    ["pve_get_backup_job", { id: "../x" }, "id"],
    ["pve_qemu_resize_disk", { vmid: 100, disk: "scsi99", size: "+1G", confirm: true }, "disk"],
    ["pve_qemu_resize_disk", { vmid: 100, disk: "scsi0", size: "-1G", confirm: true }, "size"],
    [
      "pve_lxc_create",
      { node: "pve1", vmid: 7999, ostemplate: "local:vztmpl/x.tar.zst", password: "abc" },
      "password",
    ],
    ["pve_run_backup", { node: "pve1", vmid: "100;rm -rf /" }, "vmid"],
  ])("%s %j is INVALID_INPUT naming %s", async (name, args, field) => {
    sim.cluster.clearRequests()
    const envelope = await call(name, args)
    expect(envelope.ok ? undefined : envelope.error).toMatchObject({
      code: "INVALID_INPUT",
      details: { field },
    })
    expect(sim.cluster.requests).toEqual([])
  })

  it("an update without any setting is TOOL_INPUT_REJECTED; vzdump needs vmid or all", async () => {
    sim.cluster.clearRequests()
    const update = await call("pve_qemu_update_config", { vmid: 100, confirm: true })
    expect(update.ok ? undefined : update.error.code).toBe("TOOL_INPUT_REJECTED")
    const backup = await call("pve_run_backup", { node: "pve1" })
    expect(backup.ok ? undefined : backup.error).toMatchObject({
      code: "INVALID_INPUT",
      details: { field: "vmid" },
    })
    expect(sim.cluster.requests.filter((r) => r.method !== "GET")).toEqual([])
  })

  it("an agent command with unbalanced quotes is INVALID_INPUT", async () => {
    const envelope = await call("pve_exec_qemu_guest_command", {
      vmid: 100,
      command: "echo 'oops",
      confirm: true,
    })
    expect(envelope.ok ? undefined : envelope.error).toMatchObject({
      code: "INVALID_INPUT",
      details: { field: "command" },
    })
  })

  it("Proxmox's refusals come back with their reason: snapshot name taken, running VM delete, shrinking", async () => {
    addVm(7601, "pve1", { status: "running" })
    await ok("pve_qemu_create_snapshot", { vmid: 7601, snapname: "dup", wait: true })
    const dup = await call("pve_qemu_create_snapshot", { vmid: 7601, snapname: "dup" })
    expect(dup.ok ? "" : dup.error.message).toContain("snapshot name 'dup' already used")
    const del = await call("pve_qemu_delete", { vmid: 7601, confirm: true })
    expect(del.ok ? "" : del.error.message).toContain("is running - destroy failed")
    const shrink = await call("pve_qemu_resize_disk", {
      vmid: 7601,
      disk: "scsi0",
      size: "1G",
      confirm: true,
    })
    expect(shrink.ok ? "" : shrink.error.message).toContain("shrinking disks is not supported")
    expect(sim.cluster.getGuest(7601)).toBeDefined()
  })
})
