/**
 * The PVE firewall: cluster rules, options, aliases and IP sets, and each guest's rules. Rules
 * are addressed by position (`pos`, 0 = first), as PVE does; a change shifts later positions,
 * so read the list again before the next change.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { ToolInputRejected } from "../domain/errors.js"
import { FirewallPos, type GuestType } from "../domain/ids.js"
import { TargetRef } from "../domain/target.js"
import { NodeRegistry } from "../proxmox/registry.js"
import { asArray, optionalGuestNode, page, pagingFields, vmidField } from "./common.js"
import * as Endpoint from "./endpoint.js"
import * as Tool from "./tool.js"

const spec = (pattern: RegExp, maxLength: number, what: string) =>
  Schema.String.pipe(
    Schema.maxLength(maxLength, { message: () => `${what} is longer than ${maxLength} characters` }),
    Schema.pattern(pattern, { message: () => `not a valid ${what}` }),
  )

/** `pve-fw-addr-spec`: addresses, CIDRs, ranges, alias names and `+ipset` references, comma-separated. */
const ADDRESS = /^!?\+?[A-Za-z0-9._:/-]+(-[A-Za-z0-9._:]+)?(,!?\+?[A-Za-z0-9._:/-]+(-[A-Za-z0-9._:]+)?)*$/
/** `pve-fw-dport-spec` / `sport-spec`: ports, service names and ranges (`80,443,8000:8080`). */
const PORTS = /^[A-Za-z0-9-]+(:[A-Za-z0-9-]+)?(,[A-Za-z0-9-]+(:[A-Za-z0-9-]+)?)*$/

const ruleType = Schema.Literal("in", "out", "forward", "group").annotations({
  description: "in, out, forward or group",
})
const action = spec(/^[A-Za-z][A-Za-z0-9_-]+$/, 20, "rule action").annotations({
  description: "ACCEPT, DROP, REJECT or a security group",
})

/** Fields of a rule that create and update share (PVE names). */
const ruleFields = {
  proto: Schema.optional(
    spec(/^[a-z0-9-]+$|^\d+$/, 20, "protocol").annotations({ description: "Protocol (tcp, udp, icmp, ...)" }),
  ),
  dport: Schema.optional(
    spec(PORTS, 512, "port list").annotations({ description: "Ports (22,80 or 8000:8080)" }),
  ),
  source: Schema.optional(
    spec(ADDRESS, 512, "address").annotations({ description: "Address, CIDR, alias, +ipset" }),
  ),
  dest: Schema.optional(
    spec(ADDRESS, 512, "address").annotations({ description: "Destination, like source" }),
  ),
  macro: Schema.optional(
    spec(/^[A-Za-z][A-Za-z0-9]*$/, 128, "macro name").annotations({
      description: "Macro (SSH, HTTP, ...)",
    }),
  ),
  comment: Schema.optional(
    spec(/^[^\n\r]*$/, 4096, "comment").annotations({ description: "Comment (one line)" }),
  ),
  enable: Schema.optional(Schema.Boolean.annotations({ description: "Rule enabled" })),
}

const RULE_FIELD_NAMES = ["action", "type", ...Object.keys(ruleFields)]

/** A rule's fields as PVE parameters (`enable` is an integer there). */
const ruleParams = (input: object) => {
  const enable = Tool.fieldOf(input, "enable")
  return {
    ...Tool.paramsOf(input, new Set(["node", "vmid", "guest_type", "pos", "enable"])),
    ...(typeof enable === "boolean" ? { enable: enable ? 1 : 0 } : {}),
  }
}

const atLeastOne = (input: object, names: ReadonlyArray<string>) =>
  names.some((name) => Tool.fieldOf(input, name) !== undefined)
    ? Effect.void
    : Effect.fail(
        new ToolInputRejected({ message: `Give at least one field to change (${names.join(", ")}).` }),
      )

const guestTypeField = Schema.Literal("qemu", "lxc").annotations({
  description: "qemu or lxc",
})

const clusterRules = Endpoint.get("/cluster/firewall/rules")
const setOptions = Endpoint.put("/cluster/firewall/options")
const clusterRule = {
  create: Endpoint.post("/cluster/firewall/rules"),
  update: Endpoint.put("/cluster/firewall/rules/{pos}"),
  delete: Endpoint.del("/cluster/firewall/rules/{pos}"),
}

const guestEndpoints = (type: GuestType) => ({
  list: Endpoint.get(`/nodes/{node}/${type}/{vmid}/firewall/rules`),
  create: Endpoint.post(`/nodes/{node}/${type}/{vmid}/firewall/rules`),
  update: Endpoint.put(`/nodes/{node}/${type}/{vmid}/firewall/rules/{pos}`),
  delete: Endpoint.del(`/nodes/{node}/${type}/{vmid}/firewall/rules/{pos}`),
})
const guestRule = { qemu: guestEndpoints("qemu"), lxc: guestEndpoints("lxc") }

const guestInput = { node: optionalGuestNode, guest_type: guestTypeField, vmid: vmidField }

type GuestInput = {
  readonly node?: string | undefined
  readonly guest_type: GuestType
  readonly vmid: number
}

const guestTargets = (input: GuestInput) => [
  TargetRef.Guest({ vmid: input.vmid, type: input.guest_type, node: input.node }),
]

/** Runs `use` on the guest's node (given, or found from the vmid). */
const onGuest = <A, E, R>(input: GuestInput, use: (node: string) => Effect.Effect<A, E, R>) =>
  Effect.flatMap(NodeRegistry, (registry) => registry.onGuestNode(input, input.guest_type, use))

export const firewallTools = [
  Tool.request({
    name: "pve_list_cluster_firewall_rules",
    title: "List cluster firewall rules",
    description: "Datacenter firewall rules in order (pos, type, action, proto, dport, source, dest).",
    category: "firewall",
    tier: "read-only",
    module: "advanced",
    endpoint: clusterRules,
    input: pagingFields,
    result: (data, input) => page(asArray(data), input),
  }),
  Tool.request({
    name: "pve_get_cluster_firewall_options",
    title: "Get cluster firewall options",
    description: "Datacenter firewall options: enable, policy_in, policy_out, ebtables, ...",
    category: "firewall",
    tier: "read-only",
    module: "advanced",
    endpoint: Endpoint.get("/cluster/firewall/options"),
    input: {},
  }),
  Tool.request({
    name: "pve_list_cluster_firewall_aliases",
    title: "List cluster firewall aliases",
    description: "Named addresses usable in rules (name, cidr, comment).",
    category: "firewall",
    tier: "read-only",
    module: "advanced",
    endpoint: Endpoint.get("/cluster/firewall/aliases"),
    input: pagingFields,
    result: (data, input) => page(asArray(data), input),
  }),
  Tool.request({
    name: "pve_list_cluster_firewall_ipsets",
    title: "List cluster firewall IP sets",
    description: "IP sets, usable in rules as +name (name, comment).",
    category: "firewall",
    tier: "read-only",
    module: "advanced",
    endpoint: Endpoint.get("/cluster/firewall/ipset"),
    input: pagingFields,
    result: (data, input) => page(asArray(data), input),
  }),
  Tool.make({
    name: "pve_list_guest_firewall_rules",
    title: "List guest firewall rules",
    description: "A guest's firewall rules in order (pos, type, action, proto, dport, source, dest).",
    category: "firewall",
    tier: "read-only",
    module: "advanced",
    input: guestInput,
    endpoints: [guestRule.qemu.list, guestRule.lxc.list],
    targets: guestTargets,
    run: (input) =>
      onGuest(input, (node) =>
        Effect.map(guestRule[input.guest_type].list.call({ node, vmid: input.vmid }), (data) => ({
          data: asArray(data),
          node,
        })),
      ),
  }),
  Tool.make({
    name: "pve_update_cluster_firewall_options",
    title: "Update cluster firewall options",
    description: "Turns the datacenter firewall on or off and sets its default policies.",
    category: "firewall",
    tier: "full",
    module: "advanced",
    confirm: true,
    idempotent: true,
    impact: "Firewall behaviour changes for every node and guest of the cluster (traffic can be cut).",
    input: {
      enable: Schema.optional(Schema.Boolean.annotations({ description: "Firewall on (true) or off" })),
      policy_in: Schema.optional(
        Schema.Literal("ACCEPT", "REJECT", "DROP").annotations({
          description: "Default for incoming traffic",
        }),
      ),
      policy_out: Schema.optional(
        Schema.Literal("ACCEPT", "REJECT", "DROP").annotations({
          description: "Default for outgoing traffic",
        }),
      ),
    },
    endpoints: [setOptions],
    targets: () => [TargetRef.Cluster()],
    run: (input) =>
      Effect.gen(function* () {
        yield* atLeastOne(input, ["enable", "policy_in", "policy_out"])
        yield* setOptions.call({}, ruleParams(input))
        return { data: { updated: true, ...input } }
      }),
  }),
  Tool.request({
    name: "pve_create_cluster_firewall_rule",
    title: "Create a cluster firewall rule",
    description: "Adds a datacenter firewall rule at the top (or at pos).",
    category: "firewall",
    tier: "full",
    module: "advanced",
    destructive: false,
    endpoint: clusterRule.create,
    input: {
      type: ruleType,
      action,
      ...ruleFields,
      pos: Schema.optional(FirewallPos),
    },
    params: (input) => ({ ...ruleParams(input), ...(input.pos === undefined ? {} : { pos: input.pos }) }),
  }),
  Tool.make({
    name: "pve_update_cluster_firewall_rule",
    title: "Update a cluster firewall rule",
    description: "Changes the datacenter firewall rule at pos (only the fields given).",
    category: "firewall",
    tier: "full",
    module: "advanced",
    confirm: true,
    idempotent: true,
    impact: "The rule at this position changes; traffic it matches is treated differently at once.",
    input: {
      pos: FirewallPos,
      type: Schema.optional(ruleType),
      action: Schema.optional(action),
      ...ruleFields,
    },
    endpoints: [clusterRule.update],
    targets: () => [TargetRef.Cluster()],
    run: (input) =>
      Effect.gen(function* () {
        yield* atLeastOne(input, RULE_FIELD_NAMES)
        yield* clusterRule.update.call({ pos: input.pos }, ruleParams(input))
        return { data: { pos: input.pos, updated: true } }
      }),
  }),
  Tool.request({
    name: "pve_delete_cluster_firewall_rule",
    title: "Delete a cluster firewall rule",
    description: "Removes the datacenter firewall rule at pos (later rules move up).",
    category: "firewall",
    tier: "full",
    module: "advanced",
    confirm: true,
    impact: "The rule at this position is removed; traffic it matched is no longer treated by it.",
    endpoint: clusterRule.delete,
    input: { pos: FirewallPos },
  }),
  Tool.make({
    name: "pve_create_guest_firewall_rule",
    title: "Create a guest firewall rule",
    description: "Adds a firewall rule to one VM or container, at the top (or at pos).",
    category: "firewall",
    tier: "full",
    module: "advanced",
    destructive: false,
    input: { ...guestInput, type: ruleType, action, ...ruleFields, pos: Schema.optional(FirewallPos) },
    endpoints: [guestRule.qemu.create, guestRule.lxc.create],
    targets: guestTargets,
    run: (input) =>
      onGuest(input, (node) =>
        Effect.map(
          guestRule[input.guest_type].create.call(
            { node, vmid: input.vmid },
            { ...ruleParams(input), ...(input.pos === undefined ? {} : { pos: input.pos }) },
          ),
          () => ({ data: { created: true, vmid: input.vmid, node }, node }),
        ),
      ),
  }),
  Tool.make({
    name: "pve_update_guest_firewall_rule",
    title: "Update a guest firewall rule",
    description: "Changes the rule at pos of one VM or container (only the fields given).",
    category: "firewall",
    tier: "full",
    module: "advanced",
    confirm: true,
    idempotent: true,
    impact: "The guest's rule at this position changes; its traffic is treated differently at once.",
    input: {
      ...guestInput,
      pos: FirewallPos,
      type: Schema.optional(ruleType),
      action: Schema.optional(action),
      ...ruleFields,
    },
    endpoints: [guestRule.qemu.update, guestRule.lxc.update],
    targets: guestTargets,
    run: (input) =>
      Effect.gen(function* () {
        yield* atLeastOne(input, RULE_FIELD_NAMES)
        return yield* onGuest(input, (node) =>
          Effect.map(
            guestRule[input.guest_type].update.call(
              { node, vmid: input.vmid, pos: input.pos },
              ruleParams(input),
            ),
            () => ({ data: { pos: input.pos, updated: true, vmid: input.vmid, node }, node }),
          ),
        )
      }),
  }),
  Tool.make({
    name: "pve_delete_guest_firewall_rule",
    title: "Delete a guest firewall rule",
    description: "Removes the rule at pos of one VM or container (later rules move up).",
    category: "firewall",
    tier: "full",
    module: "advanced",
    confirm: true,
    impact: "The guest's rule at this position is removed.",
    input: { ...guestInput, pos: FirewallPos },
    endpoints: [guestRule.qemu.delete, guestRule.lxc.delete],
    targets: guestTargets,
    run: (input) =>
      onGuest(input, (node) =>
        Effect.map(
          guestRule[input.guest_type].delete.call({ node, vmid: input.vmid, pos: input.pos }),
          () => ({
            data: { pos: input.pos, deleted: true, vmid: input.vmid, node },
            node,
          }),
        ),
      ),
  }),
]
