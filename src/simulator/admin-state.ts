// State of the simulated cluster's administration areas: each node's network configuration
// (running, and staged changes as in /etc/network/interfaces.new), the firewall (cluster rules,
// options, aliases, IP sets, and each guest's rules) and the resource pools.
import { serverError } from "./errors.js"

export type Iface = Readonly<Record<string, string | number>> & {
  readonly iface: string
  readonly type: string
}

/** The interfaces a simulated node starts with: three NICs, a bond and two bridges. */
const seedInterfaces = (ip: string): ReadonlyArray<Iface> => [
  { iface: "eno1", type: "eth", method: "manual", families: "inet", autostart: 1 },
  { iface: "eno2", type: "eth", method: "manual", families: "inet", autostart: 1 },
  { iface: "eno3", type: "eth", method: "manual", families: "inet", autostart: 1 },
  {
    iface: "bond0",
    type: "bond",
    method: "manual",
    families: "inet",
    autostart: 1,
    slaves: "eno2 eno3",
    bond_mode: "active-backup",
    "bond-primary": "eno2",
  },
  {
    iface: "vmbr0",
    type: "bridge",
    method: "static",
    families: "inet",
    autostart: 1,
    bridge_ports: "eno1",
    bridge_stp: "off",
    bridge_fd: 0,
    cidr: `${ip}/24`,
    address: ip,
    netmask: "24",
    gateway: "192.168.100.1",
  },
  {
    iface: "vmbr1",
    type: "bridge",
    method: "manual",
    families: "inet",
    autostart: 1,
    bridge_ports: "bond0",
    bridge_stp: "off",
    bridge_fd: 0,
    bridge_vlan_aware: 1,
    bridge_vids: "2-4094",
  },
]

export class NodeNetwork {
  running: Map<string, Iface>
  /** Staged configuration; undefined when nothing is pending. */
  staged: Map<string, Iface> | undefined

  constructor(ip: string) {
    this.running = new Map(seedInterfaces(ip).map((iface) => [iface.iface, iface]))
  }

  /** The configuration PVE shows: the staged one when there is one. */
  get current(): ReadonlyMap<string, Iface> {
    return this.staged ?? this.running
  }

  private stage(): Map<string, Iface> {
    this.staged ??= new Map(this.running)
    return this.staged
  }

  require(iface: string): Iface {
    const found = this.current.get(iface)
    if (!found) throw serverError(`interface '${iface}' does not exist`)
    return found
  }

  create(iface: Iface) {
    if (this.current.has(iface.iface)) throw serverError(`interface '${iface.iface}' already exists`)
    this.stage().set(iface.iface, iface)
  }

  update(
    name: string,
    type: string,
    changes: Readonly<Record<string, string | number>>,
    remove: ReadonlyArray<string>,
  ) {
    const existing = this.require(name)
    if (existing.type !== type)
      throw serverError(`interface '${name}' has type '${existing.type}', not '${type}'`)
    const next: Record<string, string | number> = { ...existing, ...changes }
    for (const key of remove) delete next[key]
    this.stage().set(name, { ...next, iface: name, type })
  }

  delete(name: string) {
    this.require(name)
    this.stage().delete(name)
  }

  apply() {
    if (this.staged) this.running = this.staged
    this.staged = undefined
  }

  revert() {
    this.staged = undefined
  }
}

export type Rule = Record<string, string | number>

/** PVE's rule fields in the order of the firewall file. */
export const RULE_FIELDS = [
  "type",
  "action",
  "macro",
  "iface",
  "source",
  "dest",
  "proto",
  "dport",
  "sport",
  "icmp-type",
  "log",
  "comment",
  "enable",
] as const

export class RuleList {
  rules: Array<Rule>

  constructor(rules: ReadonlyArray<Rule> = []) {
    this.rules = [...rules]
  }

  list(): ReadonlyArray<Rule> {
    return this.rules.map((rule, pos) => ({ pos, ...rule }))
  }

  private require(pos: number): Rule {
    const rule = this.rules[pos]
    if (!rule) throw serverError(`no rule at position ${pos}`)
    return rule
  }

  /** PVE inserts a new rule at `pos`, by default at the top. */
  create(rule: Rule, pos = 0) {
    this.rules.splice(Math.min(pos, this.rules.length), 0, rule)
  }

  update(pos: number, changes: Rule, remove: ReadonlyArray<string>, moveto?: number) {
    const rule = { ...this.require(pos), ...changes }
    for (const key of remove) delete rule[key]
    this.rules[pos] = rule
    if (moveto !== undefined) {
      this.rules.splice(pos, 1)
      this.rules.splice(Math.min(moveto, this.rules.length), 0, rule)
    }
  }

  delete(pos: number) {
    this.require(pos)
    this.rules.splice(pos, 1)
  }
}

export class FirewallState {
  readonly clusterRules = new RuleList([
    {
      type: "in",
      action: "ACCEPT",
      proto: "tcp",
      dport: "22",
      source: "+dc/management",
      comment: "SSH",
      enable: 1,
    },
    {
      type: "in",
      action: "ACCEPT",
      proto: "tcp",
      dport: "8006",
      source: "+dc/management",
      comment: "Web UI",
      enable: 1,
    },
    { type: "in", action: "ACCEPT", macro: "Ping", enable: 1 },
  ])
  options: Record<string, string | number> = {
    enable: 0,
    policy_in: "DROP",
    policy_out: "ACCEPT",
    policy_forward: "ACCEPT",
    ebtables: 1,
  }
  readonly aliases = [{ name: "gateway", cidr: "192.168.100.1", comment: "Default gateway", ipversion: 4 }]
  readonly ipsets = [{ name: "management", comment: "Admin workstations" }]
  private readonly guestRules = new Map<number, RuleList>()

  guest(vmid: number): RuleList {
    let rules = this.guestRules.get(vmid)
    if (!rules) {
      rules = new RuleList()
      this.guestRules.set(vmid, rules)
    }
    return rules
  }
}

export interface Pool {
  comment?: string
  readonly vms: Set<number>
  readonly storage: Set<string>
}

export class PoolState {
  readonly pools = new Map<string, Pool>()

  require(poolid: string): Pool {
    const pool = this.pools.get(poolid)
    if (!pool) throw serverError(`pool '${poolid}' does not exist`)
    return pool
  }

  /** The pool a guest belongs to, if any. */
  poolOf(vmid: number): string | undefined {
    for (const [poolid, pool] of this.pools) if (pool.vms.has(vmid)) return poolid
    return undefined
  }
}
