/**
 * QEMU VMs and LXC containers share most of their API shape; these factories declare the
 * per-type tools once (status, config, list, and the lifecycle actions).
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { type GuestType, IntegerInput, type Tier } from "../domain/ids.js"
import { TargetRef } from "../domain/target.js"
import { NodeRegistry } from "../proxmox/registry.js"
import {
  asArray,
  nodeField,
  optionalGuestNode,
  page,
  pagingFields,
  type Row,
  sortBy,
  vmidField,
} from "./common.js"
import * as Endpoint from "./endpoint.js"
import { perNode } from "./fanout.js"
import * as Tool from "./tool.js"

const noun = (type: GuestType) => (type === "qemu" ? "VM" : "container")
const nouns = (type: GuestType) => (type === "qemu" ? "VMs" : "containers")

const statusEndpoint = (type: GuestType) => Endpoint.get(`/nodes/{node}/${type}/{vmid}/status/current`)
const listEndpoint = (type: GuestType) => Endpoint.get(`/nodes/{node}/${type}`)

export const guestStatusTool = <const Name extends string>(type: GuestType, name: Name) =>
  Tool.request({
    name,
    title: `Get ${noun(type)} status`,
    description: `A ${noun(type)}'s runtime state: status${type === "qemu" ? " (paused: qmpstatus)" : ""}, uptime, CPU, memory, disk and network counters, lock, HA.`,
    category: type,
    tier: "read-only",
    endpoint: statusEndpoint(type),
    input: { node: optionalGuestNode, vmid: vmidField },
  })

export const guestConfigTool = <const Name extends string>(type: GuestType, name: Name) =>
  Tool.request({
    name,
    title: `Get ${noun(type)} configuration`,
    description: `A ${noun(type)}'s configuration (${type === "qemu" ? "cores, memory, disks, network, boot, cloud-init" : "cores, memory, rootfs, mounts, network"}, tags), secrets redacted.`,
    category: type,
    tier: "read-only",
    endpoint: Endpoint.get(`/nodes/{node}/${type}/{vmid}/config`),
    input: {
      node: optionalGuestNode,
      vmid: vmidField,
      current: Schema.optional(
        Schema.Boolean.annotations({ description: "true: running values, not pending ones" }),
      ),
    },
  })

const byVmid = sortBy("vmid")

export const guestListTool = <const Name extends string>(type: GuestType, name: Name) =>
  Tool.request({
    name,
    title: `List ${nouns(type)} on a node`,
    description: `One node's ${nouns(type)} (vmid, name, status, CPU, memory, disk, uptime, tags). Whole cluster: pve_list_cluster_resources.`,
    category: type,
    tier: "read-only",
    endpoint: listEndpoint(type),
    input: { node: nodeField, ...pagingFields },
    result: (data, input) => page(byVmid(asArray(data)), input),
  })

/** NANDI's legacy list: one node, or every node (a fan-out, `fanout.ts`) when `node` is omitted. */
export const legacyGuestListTool = <const Name extends string>(type: GuestType, name: Name) => {
  const nodes = Endpoint.get("/nodes")
  const list = listEndpoint(type)
  return Tool.make({
    name,
    title: `List ${nouns(type)} (legacy)`,
    description: `Legacy NANDI tool: ${nouns(type)} on one node, or on every node when node is omitted (each entry has its node; a node that does not answer is in meta.warnings). Prefer pve_list_${type === "qemu" ? "qemu_vms" : "lxc_containers"}.`,
    category: type,
    tier: "read-only",
    deprecated: true,
    input: {
      node: Schema.optional(nodeField.annotations({ description: "Only this node; omit for all nodes." })),
      ...pagingFields,
    },
    endpoints: [nodes, list],
    targets: (input) => [
      input.node === undefined ? TargetRef.Cluster() : TargetRef.Node({ node: input.node }),
    ],
    run: (input) =>
      Effect.gen(function* () {
        const registry = yield* NodeRegistry
        const names =
          input.node === undefined
            ? (yield* registry.nodes).map((n) => n.node)
            : [yield* registry.requireNode(input.node)]
        // A single node that fails is an error, not an empty list.
        if (input.node !== undefined) {
          const data = yield* list.call({ node: names[0]! })
          return {
            data: page(byVmid(asArray(data).map((guest): Row => ({ ...guest, node: names[0]! }))), input),
          }
        }
        const fanOut = yield* perNode(names, (node) =>
          Effect.map(list.call({ node }), (data) => asArray(data).map((guest): Row => ({ ...guest, node }))),
        )
        const guests = fanOut.answers.flatMap((answer) => answer.value)
        return { data: page(byVmid(guests), input), warnings: fanOut.warnings }
      }),
  })
}

type Action = "start" | "stop" | "shutdown" | "reboot" | "reset" | "suspend" | "resume"

interface ActionSpec {
  readonly title: string
  readonly tier: Tier
  readonly confirm: boolean
  readonly description: string
  readonly impact?: string
  /** The guest is already where the action would bring it: nothing is sent. */
  readonly alreadyIn?: (status: Record<string, unknown>) => boolean
}

const isRunning = (s: Record<string, unknown>) => s.status === "running" && s.qmpstatus !== "paused"

const actions = (type: GuestType): Record<Action, ActionSpec> => ({
  start: {
    title: `Start ${noun(type)}`,
    tier: "read-execute",
    confirm: false,
    description: `Starts a stopped ${noun(type)}. Already running: alreadyInState: true, nothing sent.`,
    alreadyIn: (s) => s.status === "running",
  },
  stop: {
    title: `Stop ${noun(type)} (hard)`,
    tier: "read-execute",
    confirm: true,
    description: `Powers a ${noun(type)} off at once, like pulling the plug; for a clean stop use shutdown.`,
    impact: `The ${noun(type)} is powered off at once; unsaved data inside it is lost and its services go down.`,
    alreadyIn: (s) => s.status === "stopped",
  },
  shutdown: {
    title: `Shut down ${noun(type)}`,
    tier: "read-execute",
    confirm: true,
    description: `Shuts a ${noun(type)} down cleanly (${type === "qemu" ? "ACPI or guest agent" : "init system"}); forceStop hard-stops it after timeout.`,
    impact: `The ${noun(type)} shuts down and its services become unavailable.`,
    alreadyIn: (s) => s.status === "stopped",
  },
  reboot: {
    title: `Reboot ${noun(type)}`,
    tier: "read-execute",
    confirm: true,
    description: `Reboots a running ${noun(type)} cleanly (shutdown, then start).`,
    impact: `The ${noun(type)} restarts; its services are briefly unavailable.`,
  },
  reset: {
    title: "Reset VM (hard)",
    tier: "read-execute",
    confirm: true,
    description: "Hard-resets a running VM, like pressing its reset button.",
    impact: "The VM restarts at once without a clean shutdown; unsaved data inside it is lost.",
  },
  suspend: {
    title: `Suspend ${noun(type)}`,
    tier: "read-execute",
    confirm: true,
    description: `Freezes a running ${noun(type)} in memory until resumed.`,
    impact: `The ${noun(type)} stops responding until it is resumed.`,
    ...(type === "qemu" ? { alreadyIn: (s: Record<string, unknown>) => s.qmpstatus === "paused" } : {}),
  },
  resume: {
    title: `Resume ${noun(type)}`,
    tier: "read-execute",
    confirm: false,
    description: `Resumes a suspended ${noun(type)}.`,
    ...(type === "qemu" ? { alreadyIn: isRunning } : {}),
  },
})

/** The guest's state after a lifecycle task: `paused` for a suspended VM, else PVE's status. */
const guestStatusOf = (current: unknown): string | undefined => {
  if (typeof current !== "object" || current === null) return undefined
  if (Tool.fieldOf(current, "qmpstatus") === "paused") return "paused"
  const state = Tool.fieldOf(current, "status")
  return typeof state === "string" ? state : undefined
}

const guestInput = { node: optionalGuestNode, vmid: vmidField }

/** A lifecycle call on a guest already in the state it asks for: nothing was sent. */
export interface AlreadyInState {
  readonly alreadyInState: true
  readonly node: string
  readonly vmid: number
  readonly status: unknown
  readonly qmpstatus: unknown
}

const output = (
  data: AlreadyInState | Tool.TaskStarted,
  node: string,
  upid?: string,
): Tool.ToolOutput<AlreadyInState | Tool.TaskStarted> => ({
  data,
  node,
  ...(upid === undefined ? {} : { upid }),
})

const guestInputKeys: ReadonlySet<string> = new Set(Object.keys(guestInput))

const shutdownInput = {
  ...guestInput,
  timeout: Schema.optional(IntegerInput({ minimum: 0, maximum: 86_400, description: "Seconds to wait" })),
  forceStop: Schema.optional(Schema.Boolean.annotations({ description: "Hard-stop after timeout" })),
}

export const guestActionTool = <const Name extends string>(type: GuestType, action: Action, name: Name) => {
  const spec = actions(type)[action]
  const status = statusEndpoint(type)
  const start = Endpoint.post(`/nodes/{node}/${type}/{vmid}/status/${action}`)
  // Shutdown's own options go to PVE as they are; every action shares node and vmid.
  const fields: typeof guestInput | typeof shutdownInput = action === "shutdown" ? shutdownInput : guestInput
  return Tool.task({
    name,
    title: spec.title,
    description: spec.description,
    category: type,
    tier: spec.tier,
    destructive: true,
    confirm: spec.confirm,
    ...(spec.impact === undefined ? {} : { impact: spec.impact }),
    input: fields,
    endpoints: [status, start],
    targets: (input) => [TargetRef.Guest({ vmid: input.vmid, type, node: input.node })],
    run: (input) =>
      Effect.flatMap(NodeRegistry, (registry) =>
        registry.onGuestNode(input, type, (node) =>
          Effect.gen(function* () {
            const vmid = input.vmid
            const alreadyIn = spec.alreadyIn
            if (alreadyIn !== undefined) {
              const current = yield* status.call({ node, vmid })
              const row: Row = typeof current === "object" && current !== null ? { ...current } : {}
              if (alreadyIn(row)) {
                const data: AlreadyInState = {
                  alreadyInState: true,
                  node,
                  vmid,
                  status: row.status,
                  qmpstatus: row.qmpstatus,
                }
                return output(data, node)
              }
            }
            const answer = yield* start.call({ node, vmid }, Tool.paramsOf(input, guestInputKeys))
            const upid = yield* Tool.startedUpid(answer, start, node)
            return output({ upid, node }, node, upid)
          }),
        ),
      ),
    // The task's status is the task's; the guest's own state is read after it, so that
    // "stopped" after a start can never be mistaken for the VM's state.
    after: (input, task) =>
      status.call({ node: task.node, vmid: input.vmid }).pipe(
        Effect.map((current) => {
          const guestStatus = guestStatusOf(current)
          return guestStatus === undefined ? {} : { guestStatus }
        }),
      ),
  })
}
