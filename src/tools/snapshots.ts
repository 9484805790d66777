/** Snapshots of QEMU VMs and LXC containers: list, create, delete, roll back. */
import * as Schema from "effect/Schema"
import { type GuestType, SnapshotName } from "../domain/ids.js"
import { TargetRef } from "../domain/target.js"
import { asArray, optionalGuestNode, vmidField } from "./common.js"
import * as Endpoint from "./endpoint.js"
import { freeText, noun, optionalBoolean, startOnGuest } from "./fields.js"
import * as Tool from "./tool.js"

const guestInput = { node: optionalGuestNode, vmid: vmidField }
const snapshotInput = { ...guestInput, snapname: SnapshotName }
const guestTarget =
  (type: GuestType) => (input: { readonly node?: string | undefined; readonly vmid: number }) => [
    TargetRef.Guest({ vmid: input.vmid, type, node: input.node }),
  ]

/** Snapshots oldest first; PVE's "current" pseudo-entry (the live state) stays last. */
const bySnaptime = (data: unknown) =>
  [...asArray(data)].sort((a, b) => {
    if (a.name === "current") return 1
    if (b.name === "current") return -1
    return Number(a.snaptime ?? 0) - Number(b.snaptime ?? 0)
  })

export const listSnapshotsTool = <const Name extends string>(type: GuestType, name: Name) =>
  Tool.request({
    name,
    title: `List ${noun(type)} snapshots`,
    description: `A ${noun(type)}'s snapshots, oldest first; 'current' is the live state, with its parent.`,
    category: type,
    tier: "read-only",
    endpoint: Endpoint.get(`/nodes/{node}/${type}/{vmid}/snapshot`),
    input: guestInput,
    result: bySnaptime,
  })

const qemuCreateInput = {
  ...snapshotInput,
  description: freeText("Note"),
  vmstate: optionalBoolean("Also save the RAM"),
}
const lxcCreateInput = { ...snapshotInput, description: freeText("Note") }

export const createSnapshotTool = <const Name extends string>(type: GuestType, name: Name) => {
  const create = Endpoint.post(`/nodes/{node}/${type}/{vmid}/snapshot`)
  const input: typeof qemuCreateInput | typeof lxcCreateInput =
    type === "qemu" ? qemuCreateInput : lxcCreateInput
  return Tool.task({
    name,
    title: `Snapshot ${noun(type)}`,
    description: `Snapshots a ${noun(type)}'s disks and config.`,
    category: type,
    tier: "full",
    destructive: false,
    input,
    endpoints: [create],
    targets: guestTarget(type),
    run: ({ node, vmid, ...params }) => startOnGuest(type, { node, vmid }, create, params),
  })
}

export const deleteSnapshotTool = <const Name extends string>(type: GuestType, name: Name) => {
  const remove = Endpoint.del(`/nodes/{node}/${type}/{vmid}/snapshot/{snapname}`)
  return Tool.task({
    name,
    title: `Delete ${noun(type)} snapshot`,
    description: `Deletes one snapshot of a ${noun(type)}.`,
    category: type,
    tier: "full",
    confirm: true,
    impact: "The snapshot is deleted; the state it saved can no longer be restored.",
    input: {
      ...snapshotInput,
      force: optionalBoolean("Remove it from the config even if deleting its disk data fails"),
    },
    endpoints: [remove],
    targets: guestTarget(type),
    run: ({ node, vmid, snapname, ...params }) =>
      startOnGuest(type, { node, vmid }, remove, params, { snapname }),
  })
}

export const rollbackSnapshotTool = <const Name extends string>(type: GuestType, name: Name) => {
  const rollback = Endpoint.post(`/nodes/{node}/${type}/{vmid}/snapshot/{snapname}/rollback`)
  return Tool.task({
    name,
    title: `Roll back ${noun(type)} to snapshot`,
    description: `Returns a ${noun(type)} to a snapshot; stopped after, unless the snapshot has RAM or start.`,
    category: type,
    tier: "full",
    confirm: true,
    impact: `Everything the ${noun(type)} wrote since the snapshot is lost; a running ${noun(type)} is stopped.`,
    input: {
      ...snapshotInput,
      start: Schema.optional(Schema.Boolean.annotations({ description: "Start it after" })),
    },
    endpoints: [rollback],
    targets: guestTarget(type),
    run: ({ node, vmid, snapname, ...params }) =>
      startOnGuest(type, { node, vmid }, rollback, params, { snapname }),
  })
}

export const snapshotTools = [
  listSnapshotsTool("qemu", "pve_list_qemu_snapshots"),
  createSnapshotTool("qemu", "pve_qemu_create_snapshot"),
  rollbackSnapshotTool("qemu", "pve_qemu_rollback_snapshot"),
  deleteSnapshotTool("qemu", "pve_qemu_delete_snapshot"),
  listSnapshotsTool("lxc", "pve_list_lxc_snapshots"),
  createSnapshotTool("lxc", "pve_lxc_create_snapshot"),
  rollbackSnapshotTool("lxc", "pve_lxc_rollback_snapshot"),
  deleteSnapshotTool("lxc", "pve_lxc_delete_snapshot"),
]
