/**
 * Node network configuration: list and read interfaces, create, update and delete them (changes
 * are staged in /etc/network/interfaces.new), then apply or revert the staged changes.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { ToolInputRejected } from "../domain/errors.js"
import { IfaceName, IntegerInput } from "../domain/ids.js"
import { TargetRef } from "../domain/target.js"
import { NodeRegistry } from "../proxmox/registry.js"
import { asArray, nodeField, page, pagingFields, sortBy } from "./common.js"
import * as Endpoint from "./endpoint.js"
import * as Tool from "./tool.js"

const list = Endpoint.get("/nodes/{node}/network")
const read = Endpoint.get("/nodes/{node}/network/{iface}")
const update = Endpoint.put("/nodes/{node}/network/{iface}")

const apply = Endpoint.put("/nodes/{node}/network")

const byIface = sortBy("iface")

/** `pve-iface-list`: interface names separated by spaces. */
const IFACE_LIST_PATTERN = /^[a-zA-Z][a-zA-Z0-9_]{1,20}([:.]\d+)?( [a-zA-Z][a-zA-Z0-9_]{1,20}([:.]\d+)?)*$/

const IFACE_TYPES = [
  "bridge",
  "bond",
  "eth",
  "alias",
  "vlan",
  "OVSBridge",
  "OVSBond",
  "OVSPort",
  "OVSIntPort",
] as const

const ifaceType = Schema.Literal(...IFACE_TYPES)

const ifaceList = (description: string) =>
  Schema.optional(
    Schema.String.pipe(
      Schema.maxLength(1024),
      Schema.pattern(IFACE_LIST_PATTERN, { message: () => "interface names separated by spaces" }),
    ).annotations({ description }),
  )

const ipv4Cidr = Schema.String.pipe(
  Schema.pattern(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/, {
    message: () => "an IPv4 address with prefix (10.0.0.2/24)",
  }),
)
const ipv4 = Schema.String.pipe(
  Schema.pattern(/^(\d{1,3}\.){3}\d{1,3}$/, { message: () => "an IPv4 address" }),
)
const comment = Schema.String.pipe(
  Schema.maxLength(4096),
  Schema.pattern(/^[^\n\r]*$/, { message: () => "one line" }),
)

/** Settings of an interface that create and update share (PVE names). */
const settingFields = {
  autostart: Schema.optional(Schema.Boolean.annotations({ description: "Bring it up at boot" })),
  comments: Schema.optional(comment.annotations({ description: "Comment (one line)" })),
  bridge_ports: ifaceList("Bridge ports (space-separated)"),
  bridge_vlan_aware: Schema.optional(Schema.Boolean.annotations({ description: "VLAN-aware bridge" })),
  slaves: ifaceList("Bond members (space-separated)"),
  bond_mode: Schema.optional(
    Schema.Literal(
      "balance-rr",
      "active-backup",
      "balance-xor",
      "broadcast",
      "802.3ad",
      "balance-tlb",
      "balance-alb",
    ).annotations({ description: "Bond mode" }),
  ),
  cidr: Schema.optional(ipv4Cidr.annotations({ description: "IPv4 address/prefix" })),
  gateway: Schema.optional(ipv4.annotations({ description: "IPv4 gateway" })),
  mtu: Schema.optional(IntegerInput({ minimum: 1280, maximum: 65520, description: "MTU" })),
}

const SETTING_NAMES = Object.keys(settingFields)

/** `pve_list_networks` filtered to one kind: NANDI's bridge, bond and NIC lists. */
const filteredList = <const Name extends string>(
  name: Name,
  type: "any_bridge" | "bond" | "eth",
  title: string,
  description: string,
) =>
  Tool.request({
    name,
    title,
    description,
    category: "network",
    tier: "read-only",
    endpoint: list,
    input: { node: nodeField, ...pagingFields },
    params: () => ({ type }),
    result: (data, input) => page(byIface(asArray(data)), input),
  })

export const networkTools = [
  Tool.request({
    name: "pve_list_networks",
    title: "List node network interfaces",
    description:
      "One node's interfaces (iface, type, active, address, ports, slaves), staged changes included.",
    category: "network",
    tier: "read-only",
    endpoint: list,
    input: {
      node: nodeField,
      type: Schema.optional(
        Schema.Literal(...IFACE_TYPES, "any_bridge", "any_local_bridge").annotations({
          description: "Only this type (bridge, bond, eth, vlan, any_bridge, ...)",
        }),
      ),
      ...pagingFields,
    },
    result: (data, input) => page(byIface(asArray(data)), input),
  }),
  Tool.request({
    name: "pve_get_network",
    title: "Get a network interface",
    description: "One interface's configuration on one node (type, addresses, ports, options).",
    category: "network",
    tier: "read-only",
    endpoint: read,
    input: { node: nodeField, iface: IfaceName },
  }),
  filteredList(
    "pve_list_node_bridges",
    "any_bridge",
    "List node bridges",
    "One node's bridges (Linux and OVS): ports, VLAN awareness, addresses.",
  ),
  filteredList(
    "pve_list_node_bonds",
    "bond",
    "List node bonds",
    "One node's Linux bonds: members (slaves) and mode.",
  ),
  filteredList(
    "pve_list_node_physical_nics",
    "eth",
    "List node physical NICs",
    "One node's physical network interfaces (type eth): active, autostart, addresses.",
  ),
  Tool.request({
    name: "pve_create_network",
    title: "Create a network interface",
    description: "Stages a new interface (bridge, bond, VLAN, ...); pve_apply_network_changes applies it.",
    category: "network",
    tier: "full",
    destructive: false,
    endpoint: Endpoint.post("/nodes/{node}/network"),
    input: {
      node: nodeField,
      iface: IfaceName,
      type: ifaceType.annotations({ description: "Interface type" }),
      ...settingFields,
    },
  }),
  Tool.make({
    name: "pve_update_network",
    title: "Update a network interface",
    description: "Stages changes to an interface; pve_apply_network_changes applies them.",
    category: "network",
    tier: "full",
    confirm: true,
    idempotent: true,
    impact: "The interface's staged configuration changes; applying it can cut the node's network.",
    input: {
      node: nodeField,
      iface: IfaceName,
      type: Schema.optional(
        Schema.String.pipe(
          Schema.maxLength(20),
          Schema.pattern(/^[A-Za-z]+$/, {
            message: () => "an interface type (bridge, bond, eth, vlan, ...)",
          }),
        ).annotations({ description: "Interface type (default: current)" }),
      ),
      ...settingFields,
    },
    endpoints: [read, update],
    targets: (input) => [TargetRef.Node({ node: input.node })],
    run: (input) =>
      Effect.gen(function* () {
        const { node: _node, iface, type, ...settings } = input
        if (!SETTING_NAMES.some((name) => Tool.fieldOf(settings, name) !== undefined))
          return yield* new ToolInputRejected({
            message: `Give at least one setting to change (${SETTING_NAMES.join(", ")}).`,
          })
        const node = yield* Effect.flatMap(NodeRegistry, (registry) => registry.requireNode(input.node))
        // PVE's update needs the interface type; the caller rarely knows it, the config does.
        const current = type ?? (yield* read.call({ node, iface }).pipe(Effect.map(typeOf)))
        if (current === undefined)
          return yield* new ToolInputRejected({ message: `The type of ${iface} is not known; give type.` })
        yield* update.call({ node, iface }, Tool.paramsOf({ ...settings, type: current }, new Set()))
        return { data: { iface, node, type: current, updated: true }, node }
      }),
  }),
  Tool.request({
    name: "pve_delete_network",
    title: "Delete a network interface",
    description: "Stages the removal of an interface; takes effect with pve_apply_network_changes.",
    category: "network",
    tier: "full",
    confirm: true,
    impact: "The interface is removed from the node's configuration once changes are applied.",
    endpoint: Endpoint.del("/nodes/{node}/network/{iface}"),
    input: { node: nodeField, iface: IfaceName },
  }),
  Tool.task({
    name: "pve_apply_network_changes",
    title: "Apply pending network changes",
    description: "Reloads the node's network with its staged changes (a task).",
    category: "network",
    tier: "full",
    confirm: true,
    idempotent: true,
    impact: "The node's network is reconfigured now; a wrong change can make the node unreachable.",
    input: { node: nodeField },
    endpoints: [apply],
    targets: (input) => [TargetRef.Node({ node: input.node })],
    run: (input) =>
      Effect.gen(function* () {
        const node = yield* Effect.flatMap(NodeRegistry, (registry) => registry.requireNode(input.node))
        const upid = yield* Tool.startedUpid(yield* apply.call({ node }), apply, node)
        return { data: { upid, node }, node, upid }
      }),
  }),
  Tool.request({
    name: "pve_revert_network_changes",
    title: "Revert pending network changes",
    description: "Discards the node's staged network changes; the running network is untouched.",
    category: "network",
    tier: "full",
    confirm: true,
    idempotent: true,
    impact: "Every staged, not yet applied, network change on the node is discarded.",
    endpoint: Endpoint.del("/nodes/{node}/network"),
    input: { node: nodeField },
  }),
]

/** The interface type in a config PVE returned (any type PVE knows, e.g. vnet, passes through). */
const typeOf = (config: unknown): string | undefined => {
  const type = typeof config === "object" && config !== null ? Reflect.get(config, "type") : undefined
  return typeof type === "string" ? type : undefined
}
