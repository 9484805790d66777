/**
 * Guest administration for QEMU VMs and LXC containers: create, clone, migrate, delete, resize,
 * configuration updates and template conversion. Each factory declares the tool once per type.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { GuestType } from "../domain/ids.js"
import { TargetRef } from "../domain/target.js"
import { NodeRegistry } from "../proxmox/registry.js"
import { nodeField, optionalGuestNode, vmidField } from "./common.js"
import * as Endpoint from "./endpoint.js"
import {
  dnsName,
  newIdField,
  noun,
  optionalBoolean,
  optionalInteger,
  requireSomething,
  startOnGuest,
  startOnNode,
  storageField,
  tagsField,
  targetNodeField,
  text,
  volumeIdField,
} from "./fields.js"
import * as Tool from "./tool.js"

const guestInput = { node: optionalGuestNode, vmid: vmidField }
const guestTarget =
  (type: GuestType) => (input: { readonly node?: string | undefined; readonly vmid: number }) => [
    TargetRef.Guest({ vmid: input.vmid, type, node: input.node }),
  ]

const bridgeField = Schema.optional(
  text(/^[a-zA-Z][a-zA-Z0-9_.]{0,20}$/, "bridge name", "Network bridge (default vmbr0)", 21),
)
// ---------------------------------------------------------------------------------------------
// Create

const QEMU_OSTYPES = [
  "l26",
  "l24",
  "win11",
  "win10",
  "win8",
  "win7",
  "wvista",
  "w2k8",
  "w2k3",
  "w2k",
  "wxp",
  "solaris",
  "other",
] as const
export const QEMU_CREATE_DEFAULTS = {
  memory: 2048,
  cores: 2,
  ostype: "l26",
  storage: "local-lvm",
  diskSize: 32,
  bridge: "vmbr0",
} as const
export const LXC_CREATE_DEFAULTS = {
  memory: 512,
  swap: 512,
  cores: 1,
  storage: "local-lvm",
  diskSize: 8,
  bridge: "vmbr0",
  ip: "dhcp",
} as const

const qemuCreate = Endpoint.post("/nodes/{node}/qemu")
const lxcCreate = Endpoint.post("/nodes/{node}/lxc")

export const qemuCreateTool = Tool.task({
  name: "pve_qemu_create",
  title: "Create VM",
  description:
    "Creates a VM: one disk, a virtio NIC, guest agent on; iso attaches an installer. Cloud-init: pve_set_qemu_cloudinit.",
  category: "qemu",
  tier: "full",
  destructive: false,
  input: {
    node: nodeField,
    vmid: newIdField,
    name: Schema.optional(dnsName("VM name")),
    memory: optionalInteger(`MiB (default ${QEMU_CREATE_DEFAULTS.memory})`, 16, 4_194_304),
    cores: optionalInteger(`Cores (default ${QEMU_CREATE_DEFAULTS.cores})`, 1, 1024),
    ostype: Schema.optional(
      Schema.Literal(...QEMU_OSTYPES).annotations({ description: "OS type (default l26: Linux)" }),
    ),
    storage: Schema.optional(storageField(`Disk storage (default ${QEMU_CREATE_DEFAULTS.storage})`)),
    diskSize: optionalInteger(`Disk GiB (default ${QEMU_CREATE_DEFAULTS.diskSize})`, 1, 65_536),
    bridge: bridgeField,
    iso: Schema.optional(volumeIdField("Installer ISO volume for the CD-ROM")),
    start: optionalBoolean("Start it once created"),
    tags: tagsField,
  },
  endpoints: [qemuCreate],
  targets: (input) => [TargetRef.NewGuest({ vmid: input.vmid, type: "qemu", node: input.node })],
  run: (input) =>
    startOnNode(input.node, qemuCreate, {
      vmid: input.vmid,
      name: input.name,
      memory: String(input.memory ?? QEMU_CREATE_DEFAULTS.memory),
      cores: input.cores ?? QEMU_CREATE_DEFAULTS.cores,
      ostype: input.ostype ?? QEMU_CREATE_DEFAULTS.ostype,
      scsihw: "virtio-scsi-single",
      scsi0: `${input.storage ?? QEMU_CREATE_DEFAULTS.storage}:${input.diskSize ?? QEMU_CREATE_DEFAULTS.diskSize},iothread=1`,
      net0: `virtio,bridge=${input.bridge ?? QEMU_CREATE_DEFAULTS.bridge},firewall=1`,
      ide2: input.iso === undefined ? undefined : `${input.iso},media=cdrom`,
      boot: input.iso === undefined ? "order=scsi0;net0" : "order=scsi0;ide2;net0",
      agent: "1",
      start: input.start,
      tags: input.tags,
    }),
})

const ipv4Cidr = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/

export const lxcCreateTool = Tool.task({
  name: "pve_lxc_create",
  title: "Create container",
  description:
    "Creates an unprivileged container from a template (pve_list_storage_templates) with a root disk and eth0. Give password or SSH keys.",
  category: "lxc",
  tier: "full",
  destructive: false,
  input: {
    node: nodeField,
    vmid: newIdField,
    ostemplate: volumeIdField("Template volume, e.g. local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"),
    hostname: Schema.optional(dnsName("Hostname")),
    memory: optionalInteger(`MiB (default ${LXC_CREATE_DEFAULTS.memory})`, 16, 4_194_304),
    swap: optionalInteger(`Swap MiB (default ${LXC_CREATE_DEFAULTS.swap})`, 0, 4_194_304),
    cores: optionalInteger(`Cores (default ${LXC_CREATE_DEFAULTS.cores})`, 1, 8192),
    storage: Schema.optional(storageField(`Root disk storage (default ${LXC_CREATE_DEFAULTS.storage})`)),
    diskSize: optionalInteger(`Root disk GiB (default ${LXC_CREATE_DEFAULTS.diskSize})`, 1, 65_536),
    bridge: bridgeField,
    ip: Schema.optional(
      text(
        /^(dhcp|manual|(\d{1,3}\.){3}\d{1,3}\/\d{1,2})$/,
        "IPv4 setting",
        "eth0: dhcp (default), manual or a CIDR",
        18,
      ),
    ),
    gw: Schema.optional(text(/^(\d{1,3}\.){3}\d{1,3}$/, "IPv4 address", "Gateway for a CIDR ip", 15)),
    password: Schema.optional(
      Schema.String.pipe(Schema.minLength(5), Schema.maxLength(256)).annotations({
        description: "Root password (5+ characters)",
      }),
    ),
    "ssh-public-keys": Schema.optional(
      Schema.String.pipe(
        Schema.maxLength(16_384),
        Schema.pattern(/^(ssh|ecdsa|sk-)[^\r]*$/, {
          message: () => "not OpenSSH public keys (one per line)",
        }),
      ).annotations({ description: "Root's SSH public keys, one per line" }),
    ),
    start: optionalBoolean("Start it once created"),
    tags: tagsField,
  },
  endpoints: [lxcCreate],
  targets: (input) => [TargetRef.NewGuest({ vmid: input.vmid, type: "lxc", node: input.node })],
  run: (input) => {
    const ip = input.ip ?? LXC_CREATE_DEFAULTS.ip
    const gw = input.gw !== undefined && ipv4Cidr.test(ip) ? `,gw=${input.gw}` : ""
    return startOnNode(input.node, lxcCreate, {
      vmid: input.vmid,
      ostemplate: input.ostemplate,
      hostname: input.hostname,
      memory: input.memory ?? LXC_CREATE_DEFAULTS.memory,
      swap: input.swap ?? LXC_CREATE_DEFAULTS.swap,
      cores: input.cores ?? LXC_CREATE_DEFAULTS.cores,
      rootfs: `${input.storage ?? LXC_CREATE_DEFAULTS.storage}:${input.diskSize ?? LXC_CREATE_DEFAULTS.diskSize}`,
      net0: `name=eth0,bridge=${input.bridge ?? LXC_CREATE_DEFAULTS.bridge},ip=${ip}${gw},firewall=1`,
      password: input.password,
      "ssh-public-keys": input["ssh-public-keys"],
      unprivileged: true,
      start: input.start,
      tags: input.tags,
    })
  },
})

// ---------------------------------------------------------------------------------------------
// Clone, migrate, delete

const cloneCommon = {
  ...guestInput,
  newid: newIdField,
  target: Schema.optional(
    targetNodeField.annotations({ description: "Node for the copy (default: the source's)" }),
  ),
  full: optionalBoolean("Full copy (default); false: linked clone of a template"),
  storage: Schema.optional(storageField("Storage for a full copy")),
}
const qemuCloneInput = { ...cloneCommon, name: Schema.optional(dnsName("Name of the copy")) }
const lxcCloneInput = { ...cloneCommon, hostname: Schema.optional(dnsName("Hostname of the copy")) }

export const cloneTool = <const Name extends string>(type: GuestType, name: Name) => {
  const clone = Endpoint.post(`/nodes/{node}/${type}/{vmid}/clone`)
  const input: typeof qemuCloneInput | typeof lxcCloneInput = type === "qemu" ? qemuCloneInput : lxcCloneInput
  return Tool.task({
    name,
    title: `Clone ${noun(type)}`,
    description: `Copies a ${noun(type)} or template to newid, optionally onto another node or storage.`,
    category: type,
    tier: "full",
    destructive: false,
    input,
    endpoints: [clone],
    targets: (input) => [
      TargetRef.Guest({ vmid: input.vmid, type, node: input.node }),
      TargetRef.NewGuest({ vmid: input.newid, type, node: input.target }),
      ...(input.target === undefined ? [] : [TargetRef.Node({ node: input.target })]),
    ],
    run: ({ node, vmid, ...params }) => startOnGuest(type, { node, vmid }, clone, params),
  })
}

const qemuMigrateInput = {
  ...guestInput,
  target: targetNodeField,
  online: optionalBoolean("Live migration (needed when running)"),
}
const lxcMigrateInput = {
  ...guestInput,
  target: targetNodeField,
  restart: optionalBoolean("Shut down, move, start (needed when running)"),
}

export const migrateTool = <const Name extends string>(type: GuestType, name: Name) => {
  const migrate = Endpoint.post(`/nodes/{node}/${type}/{vmid}/migrate`)
  const input: typeof qemuMigrateInput | typeof lxcMigrateInput =
    type === "qemu" ? qemuMigrateInput : lxcMigrateInput
  return Tool.task({
    name,
    title: `Migrate ${noun(type)}`,
    description: `Moves a ${noun(type)} to another node of the cluster.`,
    category: type,
    tier: "read-execute",
    confirm: true,
    impact: `The ${noun(type)} moves to another node; ${type === "qemu" ? "a live migration pauses it briefly" : "a running container is restarted"} and its node-local resources change.`,
    input,
    endpoints: [migrate],
    targets: (input) => [
      TargetRef.Guest({ vmid: input.vmid, type, node: input.node }),
      TargetRef.Node({ node: input.target }),
    ],
    run: ({ node, vmid, ...params }) => startOnGuest(type, { node, vmid }, migrate, params),
  })
}

const qemuDeleteInput = {
  ...guestInput,
  purge: optionalBoolean("Also remove it from backup jobs, replication and HA"),
}
const lxcDeleteInput = { ...qemuDeleteInput, force: optionalBoolean("Destroy even if running") }

export const deleteTool = <const Name extends string>(type: GuestType, name: Name) => {
  const destroy = Endpoint.del(`/nodes/{node}/${type}/{vmid}`)
  const input: typeof qemuDeleteInput | typeof lxcDeleteInput =
    type === "qemu" ? qemuDeleteInput : lxcDeleteInput
  return Tool.task({
    name,
    title: `Delete ${noun(type)}`,
    description: `Destroys a stopped ${noun(type)} with its disks and snapshots, for good.`,
    category: type,
    tier: "full",
    confirm: true,
    impact: `The ${noun(type)} and all its disks and snapshots are destroyed; this cannot be undone.`,
    input,
    endpoints: [destroy],
    targets: guestTarget(type),
    run: ({ node, vmid, ...params }) => startOnGuest(type, { node, vmid }, destroy, params),
  })
}

// ---------------------------------------------------------------------------------------------
// Resize, config, template

const DISK_PATTERN: Readonly<Record<GuestType, RegExp>> = {
  qemu: /^(ide[0-3]|scsi([0-9]|[12][0-9]|30)|virtio([0-9]|1[0-5])|sata[0-5]|efidisk0|tpmstate0)$/,
  lxc: /^(rootfs|mp([0-9]|[1-9][0-9]|2[0-4][0-9]|25[0-5]))$/,
}

export const resizeTool = <const Name extends string>(type: GuestType, name: Name) => {
  const resize = Endpoint.put(`/nodes/{node}/${type}/{vmid}/resize`)
  return Tool.task({
    name,
    title: `Resize ${noun(type)} disk`,
    description: `Grows one disk of a ${noun(type)}; disks never shrink.`,
    category: type,
    tier: "full",
    confirm: true,
    impact: `The ${noun(type)}'s disk grows; this cannot be undone (PVE cannot shrink disks).`,
    input: {
      ...guestInput,
      disk: text(
        DISK_PATTERN[type],
        "disk name",
        type === "qemu" ? "Disk, e.g. scsi0" : "Disk: rootfs or mpN",
        10,
      ),
      size: text(/^\+?\d+(\.\d+)?[KMGT]?$/, "size", "New size ('64G') or growth ('+10G')", 20),
    },
    endpoints: [resize],
    targets: guestTarget(type),
    run: ({ node, vmid, ...params }) => startOnGuest(type, { node, vmid }, resize, params),
  })
}

const deleteKeysField = Schema.optional(
  text(/^[a-z][a-z0-9_-]*([,; ][a-z][a-z0-9_-]*)*$/, "list of config keys", "Config keys to remove", 1024),
)

const configCommon = {
  ...guestInput,
  onboot: optionalBoolean("Start at node boot"),
  tags: tagsField,
  delete: deleteKeysField,
}
const qemuConfigInput = {
  ...configCommon,
  memory: optionalInteger("MiB", 16, 4_194_304),
  cores: optionalInteger("Cores per socket", 1, 1024),
  sockets: optionalInteger("Sockets", 1, 16),
  name: Schema.optional(dnsName("VM name")),
}
const lxcConfigInput = {
  ...configCommon,
  memory: optionalInteger("MiB", 16, 4_194_304),
  cores: optionalInteger("Cores", 1, 8192),
  swap: optionalInteger("Swap MiB", 0, 4_194_304),
  hostname: Schema.optional(dnsName("Hostname")),
}

export const updateConfigTool = <const Name extends string>(type: GuestType, name: Name) => {
  const config = Endpoint.put(`/nodes/{node}/${type}/{vmid}/config`)
  const input: typeof qemuConfigInput | typeof lxcConfigInput =
    type === "qemu" ? qemuConfigInput : lxcConfigInput
  return Tool.make({
    name,
    title: `Update ${noun(type)} configuration`,
    description: `Changes a ${noun(type)}'s settings (at least one); delete removes config keys.`,
    category: type,
    tier: "full",
    confirm: true,
    impact: `The ${noun(type)}'s configuration changes; resource changes can affect the services running in it.`,
    input,
    endpoints: [config],
    targets: guestTarget(type),
    run: ({ node: given, vmid, ...changes }) =>
      Effect.gen(function* () {
        // qemu-server takes memory as a property string (PVE 8.1+), pve-container as an integer.
        const memory =
          type === "qemu" && changes.memory !== undefined ? String(changes.memory) : changes.memory
        const params = { ...changes, memory }
        yield* requireSomething(params, "setting")
        const registry = yield* NodeRegistry
        return yield* registry.onGuestNode({ node: given, vmid }, type, (node) =>
          Effect.map(config.call({ node, vmid }, params), () => ({
            data: {
              updated: true,
              node,
              vmid,
              changed: Object.entries(params)
                .filter(([, value]) => value !== undefined)
                .map(([key]) => key),
            },
            node,
          })),
        )
      }),
  })
}

export const qemuTemplateTool = (() => {
  const template = Endpoint.post("/nodes/{node}/qemu/{vmid}/template")
  return Tool.task({
    name: "pve_qemu_create_template",
    title: "Convert VM to template",
    description:
      "Turns a stopped VM into a template for cloning (pve_qemu_clone); a template cannot be started again.",
    category: "qemu",
    tier: "full",
    confirm: true,
    impact: "The VM becomes a read-only template for good: it can no longer be started, only cloned.",
    input: {
      ...guestInput,
      disk: Schema.optional(
        text(DISK_PATTERN.qemu, "disk name", "Convert only this disk to a base image", 10),
      ),
    },
    endpoints: [template],
    targets: guestTarget("qemu"),
    run: ({ node, vmid, ...params }) => startOnGuest("qemu", { node, vmid }, template, params),
  })
})()

export const lxcTemplateTool = (() => {
  const template = Endpoint.post("/nodes/{node}/lxc/{vmid}/template")
  return Tool.make({
    name: "pve_lxc_create_template",
    title: "Convert container to template",
    description: "Turns a stopped container without snapshots into a template for pve_lxc_clone.",
    category: "lxc",
    tier: "full",
    confirm: true,
    impact: "The container becomes a read-only template for good: it can no longer be started, only cloned.",
    input: guestInput,
    endpoints: [template],
    targets: guestTarget("lxc"),
    run: (input) =>
      Effect.flatMap(NodeRegistry, (registry) =>
        registry.onGuestNode(input, "lxc", (node) =>
          Effect.map(template.call({ node, vmid: input.vmid }), () => ({
            data: { template: true, node, vmid: input.vmid },
            node,
          })),
        ),
      ),
  })
})()

export const qemuAdminTools = [
  qemuCreateTool,
  cloneTool("qemu", "pve_qemu_clone"),
  migrateTool("qemu", "pve_qemu_migrate"),
  updateConfigTool("qemu", "pve_qemu_update_config"),
  resizeTool("qemu", "pve_qemu_resize_disk"),
  qemuTemplateTool,
  deleteTool("qemu", "pve_qemu_delete"),
]

export const lxcAdminTools = [
  lxcCreateTool,
  cloneTool("lxc", "pve_lxc_clone"),
  migrateTool("lxc", "pve_lxc_migrate"),
  updateConfigTool("lxc", "pve_lxc_update_config"),
  resizeTool("lxc", "pve_lxc_resize_disk"),
  lxcTemplateTool,
  deleteTool("lxc", "pve_lxc_delete"),
]
