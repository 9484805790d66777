/**
 * QEMU VMs and LXC containers share most of their API shape; these factories declare the
 * per-type tools once (status, config, list, and the lifecycle actions).
 */
import { Effect, Schema } from "effect"
import { IntegerInput, type Tier } from "../domain/ids.js"
import type { GuestType } from "../proxmox/registry.js"
import { NodeRegistry } from "../proxmox/registry.js"
import {
  asArray,
  limitField,
  nodeField,
  offsetField,
  onGuestNode,
  optionalGuestNode,
  page,
  pve,
  requireNode,
  vmidField,
} from "./common.js"
import { defineTool, type ToolDeclaration } from "./tool.js"

const noun = (type: GuestType) => (type === "qemu" ? "VM" : "container")
const nouns = (type: GuestType) => (type === "qemu" ? "VMs" : "containers")

export const guestStatusTool = (type: GuestType, name: string) =>
  defineTool({
    name,
    title: `Get ${noun(type)} status`,
    description: `Current runtime status of one ${type === "qemu" ? "QEMU VM" : "LXC container"}: status (running/stopped${type === "qemu" ? "/paused via qmpstatus" : ""}), uptime, CPU, memory, disk and network counters, lock, HA state. Use before acting on a guest.`,
    category: type,
    tier: "read-only",
    destructive: false,
    confirm: false,
    input: { node: optionalGuestNode, vmid: vmidField },
    endpoints: [{ method: "GET", path: `/nodes/{node}/${type}/{vmid}/status/current` }],
    run: (input) =>
      onGuestNode(input, type, (node) =>
        Effect.map(
          pve({
            method: "GET",
            path: `/nodes/{node}/${type}/{vmid}/status/current`,
            pathParams: { node, vmid: input.vmid },
          }),
          (data) => ({ data, node }),
        ),
      ),
  })

export const guestConfigTool = (type: GuestType, name: string) =>
  defineTool({
    name,
    title: `Get ${noun(type)} configuration`,
    description: `Configuration of one ${noun(type)} (${type === "qemu" ? "cores, memory, disks, network, boot order, cloud-init" : "cores, memory, rootfs, mount points, network"}, tags, digest). Secrets such as cipassword are redacted (as in every tool result).`,
    category: type,
    tier: "read-only",
    destructive: false,
    confirm: false,
    input: {
      node: optionalGuestNode,
      vmid: vmidField,
      current: Schema.optional(
        Schema.Boolean.annotations({
          description: "true: the running values instead of the pending configuration",
        }),
      ),
    },
    endpoints: [{ method: "GET", path: `/nodes/{node}/${type}/{vmid}/config` }],
    run: (input) =>
      onGuestNode(input, type, (node) =>
        Effect.map(
          pve({
            method: "GET",
            path: `/nodes/{node}/${type}/{vmid}/config`,
            pathParams: { node, vmid: input.vmid },
            params: { current: input.current },
          }),
          (data) => ({ data, node }),
        ),
      ),
  })

const sortByVmid = (items: ReadonlyArray<Record<string, unknown>>) =>
  [...items].sort((a, b) => Number(a.vmid) - Number(b.vmid))

export const guestListTool = (type: GuestType, name: string) =>
  defineTool({
    name,
    title: `List ${nouns(type)} on a node`,
    description: `All ${type === "qemu" ? "QEMU VMs" : "LXC containers"} on one node with vmid, name, status, CPU, memory, disk, uptime and tags, sorted by vmid. For the whole cluster use pve_list_cluster_resources.`,
    category: type,
    tier: "read-only",
    destructive: false,
    confirm: false,
    input: {
      node: nodeField,
      limit: limitField("Return at most this many entries."),
      offset: offsetField,
    },
    endpoints: [{ method: "GET", path: `/nodes/{node}/${type}` }],
    run: (input) =>
      Effect.gen(function* () {
        const node = yield* requireNode(input.node)
        const data = yield* pve({ method: "GET", path: `/nodes/{node}/${type}`, pathParams: { node } })
        return { data: page(sortByVmid(asArray(data)), input), node }
      }),
  })

/** NANDI's legacy list: one node, or every node concurrently when `node` is omitted. */
export const legacyGuestListTool = (type: GuestType, name: string) =>
  defineTool({
    name,
    title: `List ${nouns(type)} (legacy)`,
    description: `Legacy NANDI tool: lists ${nouns(type)} on one node, or on every node when node is omitted (each entry has its node). A node that does not answer is reported in meta.warnings. Prefer pve_list_${type === "qemu" ? "qemu_vms" : "lxc_containers"} or pve_list_cluster_resources.`,
    category: type,
    tier: "read-only",
    destructive: false,
    confirm: false,
    deprecated: true,
    input: {
      node: Schema.optional(nodeField.annotations({ description: "Only this node; omit for all nodes." })),
      limit: limitField("Return at most this many entries."),
      offset: offsetField,
    },
    endpoints: [
      { method: "GET", path: "/nodes" },
      { method: "GET", path: `/nodes/{node}/${type}` },
    ],
    run: (input) =>
      Effect.gen(function* () {
        const registry = yield* NodeRegistry
        const nodes =
          input.node === undefined
            ? (yield* registry.nodes).map((n) => n.node)
            : [yield* registry.requireNode(input.node)]
        const perNode = yield* Effect.forEach(
          nodes,
          (node) =>
            pve({ method: "GET", path: `/nodes/{node}/${type}`, pathParams: { node } }).pipe(
              Effect.map((data) => ({ node, guests: asArray(data).map((g) => ({ ...g, node })) })),
              Effect.either,
            ),
          { concurrency: "unbounded" },
        )
        const warnings: Array<string> = []
        const guests: Array<Record<string, unknown>> = []
        perNode.forEach((result, i) => {
          if (result._tag === "Right") guests.push(...result.right.guests)
          else warnings.push(`node ${nodes[i]} did not answer: ${result.left.message}`)
        })
        // A single node that fails is an error, not an empty list.
        if (input.node !== undefined && perNode[0]?._tag === "Left")
          return yield* Effect.fail(perNode[0].left)
        return { data: page(sortByVmid(guests), input), warnings }
      }),
  })

type Action = "start" | "stop" | "shutdown" | "reboot" | "reset" | "suspend" | "resume"

interface ActionSpec {
  readonly title: string
  readonly tier: Tier
  readonly confirm: boolean
  readonly description: string
  readonly impact?: string
  /** The guest is already where the action would bring it: nothing is sent. */
  readonly alreadyIn?: (status: Record<string, unknown>) => boolean
  readonly extraInput?: Record<string, Schema.optional<Schema.Schema.Any>>
}

const isRunning = (s: Record<string, unknown>) => s.status === "running" && s.qmpstatus !== "paused"

const actions = (type: GuestType): Record<Action, ActionSpec> => ({
  start: {
    title: `Start ${noun(type)}`,
    tier: "read-execute",
    confirm: false,
    description: `Starts a stopped ${noun(type)}. Returns the task UPID, or with wait: true the task's exit status and log tail. A guest that is already running is reported with alreadyInState: true and nothing is sent.`,
    alreadyIn: (s) => s.status === "running",
  },
  stop: {
    title: `Stop ${noun(type)} (hard)`,
    tier: "read-execute",
    confirm: true,
    description: `Stops a ${noun(type)} immediately, like pulling the power (use the shutdown tool for a clean shutdown). Needs confirmation.`,
    impact: `The ${noun(type)} is powered off at once; unsaved data inside it is lost and its services go down.`,
    alreadyIn: (s) => s.status === "stopped",
  },
  shutdown: {
    title: `Shut down ${noun(type)}`,
    tier: "read-execute",
    confirm: true,
    description: `Asks the ${noun(type)} to shut down cleanly (${type === "qemu" ? "ACPI or guest agent" : "init system"}); optionally force-stops it after timeout seconds. Needs confirmation.`,
    impact: `The ${noun(type)} shuts down and its services become unavailable.`,
    alreadyIn: (s) => s.status === "stopped",
    extraInput: {
      timeout: Schema.optional(
        IntegerInput({ minimum: 0, maximum: 86_400, description: "Seconds to wait for the clean shutdown" }),
      ),
      forceStop: Schema.optional(
        Schema.Boolean.annotations({
          description: "Hard-stop the guest if it has not shut down after timeout",
        }),
      ),
    },
  },
  reboot: {
    title: `Reboot ${noun(type)}`,
    tier: "read-execute",
    confirm: true,
    description: `Reboots a running ${noun(type)} cleanly (shutdown, then start). Needs confirmation.`,
    impact: `The ${noun(type)} restarts; its services are briefly unavailable.`,
  },
  reset: {
    title: "Reset VM (hard)",
    tier: "read-execute",
    confirm: true,
    description: "Hard-resets a running VM, like pressing the reset button. Needs confirmation.",
    impact: "The VM restarts at once without a clean shutdown; unsaved data inside it is lost.",
  },
  suspend: {
    title: `Suspend ${noun(type)}`,
    tier: "read-execute",
    confirm: true,
    description: `Pauses a running ${noun(type)} (${type === "qemu" ? "execution is frozen in memory" : "processes are frozen"}); resume it with the resume tool. Needs confirmation.`,
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

export const guestActionTool = (type: GuestType, action: Action, name: string): ToolDeclaration => {
  const spec = actions(type)[action]
  const path = `/nodes/{node}/${type}/{vmid}/status/${action}`
  const statusPath = `/nodes/{node}/${type}/{vmid}/status/current`
  return defineTool({
    name,
    title: spec.title,
    description: spec.description,
    category: type,
    tier: spec.tier,
    destructive: true,
    confirm: spec.confirm,
    idempotent: false,
    startsTask: true,
    ...(spec.impact === undefined ? {} : { impact: spec.impact }),
    input: { node: optionalGuestNode, vmid: vmidField, ...(spec.extraInput ?? {}) },
    endpoints: [
      { method: "GET", path: statusPath },
      { method: "POST", path },
    ],
    run: (input) => {
      const { node: _node, vmid, ...params } = input as Record<string, unknown> & { vmid: number }
      return onGuestNode(input as { node?: string; vmid: number }, type, (node) =>
        Effect.gen(function* () {
          const alreadyIn = spec.alreadyIn
          if (alreadyIn !== undefined) {
            const status = (yield* pve({
              method: "GET",
              path: statusPath,
              pathParams: { node, vmid },
            })) as Record<string, unknown>
            if (alreadyIn(status)) {
              return {
                data: {
                  alreadyInState: true,
                  node,
                  vmid,
                  status: status.status,
                  qmpstatus: status.qmpstatus,
                },
                node,
              }
            }
          }
          const upid = yield* pve({
            method: "POST",
            path,
            pathParams: { node, vmid },
            params: params as Record<string, boolean | number | undefined>,
          })
          return { data: { upid, node }, node, upid: String(upid) }
        }),
      )
    },
  })
}
