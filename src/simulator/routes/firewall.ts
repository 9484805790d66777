import { createHash } from "node:crypto"
import { RULE_FIELDS, type Rule, type RuleList } from "../admin-state.js"
import type { ClusterState } from "../cluster.js"
import { int, optInt, optStr, type Permission, type Route, reply, str, vmPermission } from "../router.js"
import type { Params } from "../schema.js"

const CLUSTER = (privilege: string) => (): Permission => ({ path: "/", privilege })

const digestOf = (value: unknown) => createHash("sha1").update(JSON.stringify(value)).digest("hex")

/** The rule fields among validated parameters. */
const ruleOf = (params: Params): Rule => {
  const rule: Rule = {}
  for (const field of RULE_FIELDS) {
    const value = params[field]
    if (typeof value === "string" || typeof value === "number") rule[field] = value
  }
  return rule
}

const listed = (rules: RuleList) => {
  const digest = digestOf(rules.rules)
  return rules.list().map((rule) => ({ ...rule, digest }))
}

const removed = (params: Params) =>
  (optStr(params, "delete") ?? "").split(/[,;\s]+/).filter((key) => key !== "")

/** The rule list of the guest the path names (it must live on that node). */
const guestRules = (cluster: ClusterState, params: Params, type: "qemu" | "lxc") => {
  const guest = cluster.requireGuest(str(params, "node"), type, int(params, "vmid"))
  return cluster.firewall.guest(guest.vmid)
}

const guestRoutes = (type: "qemu" | "lxc"): ReadonlyArray<Route> => [
  {
    method: "GET",
    path: `/nodes/{node}/${type}/{vmid}/firewall/rules`,
    permission: vmPermission("VM.Audit"),
    handle: ({ cluster, params }) => reply(listed(guestRules(cluster, params, type))),
  },
  {
    method: "POST",
    path: `/nodes/{node}/${type}/{vmid}/firewall/rules`,
    permission: vmPermission("VM.Config.Network"),
    handle: ({ cluster, params }) => {
      guestRules(cluster, params, type).create(ruleOf(params), optInt(params, "pos"))
      return reply(null)
    },
  },
  {
    method: "PUT",
    path: `/nodes/{node}/${type}/{vmid}/firewall/rules/{pos}`,
    permission: vmPermission("VM.Config.Network"),
    handle: ({ cluster, params }) => {
      guestRules(cluster, params, type).update(
        int(params, "pos"),
        ruleOf(params),
        removed(params),
        optInt(params, "moveto"),
      )
      return reply(null)
    },
  },
  {
    method: "DELETE",
    path: `/nodes/{node}/${type}/{vmid}/firewall/rules/{pos}`,
    permission: vmPermission("VM.Config.Network"),
    handle: ({ cluster, params }) => {
      guestRules(cluster, params, type).delete(int(params, "pos"))
      return reply(null)
    },
  },
]

export const firewallRoutes: ReadonlyArray<Route> = [
  {
    method: "GET",
    path: "/cluster/firewall/rules",
    permission: CLUSTER("Sys.Audit"),
    handle: ({ cluster }) => reply(listed(cluster.firewall.clusterRules)),
  },
  {
    method: "POST",
    path: "/cluster/firewall/rules",
    permission: CLUSTER("Sys.Modify"),
    handle: ({ cluster, params }) => {
      cluster.firewall.clusterRules.create(ruleOf(params), optInt(params, "pos"))
      return reply(null)
    },
  },
  {
    method: "PUT",
    path: "/cluster/firewall/rules/{pos}",
    permission: CLUSTER("Sys.Modify"),
    handle: ({ cluster, params }) => {
      cluster.firewall.clusterRules.update(
        int(params, "pos"),
        ruleOf(params),
        removed(params),
        optInt(params, "moveto"),
      )
      return reply(null)
    },
  },
  {
    method: "DELETE",
    path: "/cluster/firewall/rules/{pos}",
    permission: CLUSTER("Sys.Modify"),
    handle: ({ cluster, params }) => {
      cluster.firewall.clusterRules.delete(int(params, "pos"))
      return reply(null)
    },
  },
  {
    method: "GET",
    path: "/cluster/firewall/options",
    permission: CLUSTER("Sys.Audit"),
    handle: ({ cluster }) =>
      reply({ ...cluster.firewall.options, digest: digestOf(cluster.firewall.options) }),
  },
  {
    method: "PUT",
    path: "/cluster/firewall/options",
    permission: CLUSTER("Sys.Modify"),
    handle: ({ cluster, params }) => {
      const options = { ...cluster.firewall.options }
      for (const key of ["enable", "policy_in", "policy_out", "policy_forward", "log_ratelimit"]) {
        const value = params[key]
        if (typeof value === "string" || typeof value === "number") options[key] = value
      }
      if (typeof params.ebtables === "boolean") options.ebtables = params.ebtables ? 1 : 0
      for (const key of removed(params)) delete options[key]
      cluster.firewall.options = options
      return reply(null)
    },
  },
  {
    method: "GET",
    path: "/cluster/firewall/aliases",
    permission: CLUSTER("Sys.Audit"),
    handle: ({ cluster }) =>
      reply(
        cluster.firewall.aliases.map((alias) => ({ ...alias, digest: digestOf(cluster.firewall.aliases) })),
      ),
  },
  {
    method: "GET",
    path: "/cluster/firewall/ipset",
    permission: CLUSTER("Sys.Audit"),
    handle: ({ cluster }) =>
      reply(
        cluster.firewall.ipsets.map((ipset) => ({ ...ipset, digest: digestOf(cluster.firewall.ipsets) })),
      ),
  },
  ...guestRoutes("qemu"),
  ...guestRoutes("lxc"),
]
