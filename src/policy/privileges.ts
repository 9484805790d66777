/**
 * The Proxmox privileges each endpoint needs: the one table that `bootstrap` turns into a role,
 * `doctor` checks a token against, and `docs/PERMISSIONS.md` shows. Entries follow the official
 * API schema's permission annotations (a test compares every endpoint a tool uses with it):
 * `check` annotations are copied; where the schema only describes the rule ("only lists VMs
 * where you have VM.Audit"), the privilege the description names is recorded.
 *
 * What a configuration needs is derived, never written twice: the union over the tools its tier
 * and categories expose, plus the lookups every guest tool makes (`/cluster/resources`).
 */
import type { ToolInfo } from "../domain/tool.js"

export interface PrivilegeCheck {
  /** The ACL path PVE checks, as a template: `/`, `/vms/{vmid}`, `/nodes/{node}`, `/storage/{storage}`. */
  readonly path: string
  /** Without `any`: all of them are needed. With `any`: holding one of them passes PVE's check. */
  readonly privileges: ReadonlyArray<string>
  readonly any?: true
  /** For an `any` check, the ones `bootstrap` grants (default: all of them). */
  readonly grant?: ReadonlyArray<string>
}

const check = (path: string, ...privileges: ReadonlyArray<string>): PrivilegeCheck => ({ path, privileges })
const anyOf = (
  path: string,
  privileges: ReadonlyArray<string>,
  grant?: ReadonlyArray<string>,
): PrivilegeCheck => ({ path, privileges, any: true, ...(grant === undefined ? {} : { grant }) })

const VM_AUDIT = check("/vms/{vmid}", "VM.Audit")
const VM_POWER = check("/vms/{vmid}", "VM.PowerMgmt")
const NODE_AUDIT = check("/nodes/{node}", "Sys.Audit")
const NODE_MODIFY = check("/nodes/{node}", "Sys.Modify")
const ROOT_AUDIT = check("/", "Sys.Audit")
const ROOT_MODIFY = check("/", "Sys.Modify")
const STORAGE_READ = anyOf(
  "/storage/{storage}",
  ["Datastore.Audit", "Datastore.AllocateSpace"],
  ["Datastore.Audit"],
)
const SNAPSHOT = check("/vms/{vmid}", "VM.Snapshot")
const ROLLBACK = anyOf("/vms/{vmid}", ["VM.Snapshot", "VM.Snapshot.Rollback"])
const AGENT_AUDIT = anyOf(
  "/vms/{vmid}",
  ["VM.GuestAgent.Audit", "VM.GuestAgent.Unrestricted"],
  ["VM.GuestAgent.Audit"],
)
const CREATE_GUEST = [
  check("/vms/{vmid}", "VM.Allocate"),
  check("/storage/{storage}", "Datastore.AllocateSpace"),
]
// Each setting checks its own VM.Config.* privilege; a role that may change settings gets them all.
const QEMU_CONFIG = anyOf("/vms/{vmid}", [
  "VM.Config.Disk",
  "VM.Config.CDROM",
  "VM.Config.CPU",
  "VM.Config.Memory",
  "VM.Config.Network",
  "VM.Config.HWType",
  "VM.Config.Options",
  "VM.Config.Cloudinit",
])
const LXC_CONFIG = anyOf("/vms/{vmid}", [
  "VM.Config.Disk",
  "VM.Config.CPU",
  "VM.Config.Memory",
  "VM.Config.Network",
  "VM.Config.Options",
])
const USERS_READ = anyOf("/access/groups", ["Sys.Audit", "User.Modify"], ["Sys.Audit"])
const USER_MODIFY = check("/access/groups", "User.Modify")
const CLONE = [check("/vms/{vmid}", "VM.Clone"), check("/vms/{newid}", "VM.Allocate")]

/** `METHOD /path` (PVE template, no `/api2/json`) -> what PVE checks. Empty: any valid token. */
export const ENDPOINT_PRIVILEGES: Readonly<Record<string, ReadonlyArray<PrivilegeCheck>>> = {
  // Inventory. Lists are filtered by what the token may see, so an empty list can mean "no VM.Audit".
  "GET /version": [],
  "GET /nodes": [],
  "GET /nodes/{node}/status": [NODE_AUDIT],
  "GET /nodes/{node}/version": [],
  "GET /cluster/status": [ROOT_AUDIT],
  "GET /cluster/resources": [VM_AUDIT],
  "GET /cluster/nextid": [],
  "GET /cluster/options": [ROOT_AUDIT],
  "GET /cluster/log": [check("/", "Sys.Syslog")],
  "GET /cluster/replication": [VM_AUDIT],
  "GET /cluster/ha/status/current": [ROOT_AUDIT],
  "GET /cluster/backup-info": [],
  "GET /access/permissions": [],

  // QEMU
  "GET /nodes/{node}/qemu": [VM_AUDIT],
  "GET /nodes/{node}/qemu/{vmid}/status/current": [VM_AUDIT],
  "GET /nodes/{node}/qemu/{vmid}/config": [VM_AUDIT],
  "GET /nodes/{node}/qemu/{vmid}/rrddata": [VM_AUDIT],
  "GET /nodes/{node}/qemu/{vmid}/cloudinit/dump": [VM_AUDIT],
  "POST /nodes/{node}/qemu/{vmid}/status/start": [VM_POWER],
  "POST /nodes/{node}/qemu/{vmid}/status/stop": [VM_POWER],
  "POST /nodes/{node}/qemu/{vmid}/status/shutdown": [VM_POWER],
  "POST /nodes/{node}/qemu/{vmid}/status/reboot": [VM_POWER],
  "POST /nodes/{node}/qemu/{vmid}/status/reset": [VM_POWER],
  "POST /nodes/{node}/qemu/{vmid}/status/suspend": [VM_POWER],
  "POST /nodes/{node}/qemu/{vmid}/status/resume": [VM_POWER],
  "POST /nodes/{node}/qemu": CREATE_GUEST,
  "DELETE /nodes/{node}/qemu/{vmid}": [check("/vms/{vmid}", "VM.Allocate")],
  "POST /nodes/{node}/qemu/{vmid}/migrate": [check("/vms/{vmid}", "VM.Migrate")],
  "GET /nodes/{node}/qemu/{vmid}/migrate": [check("/vms/{vmid}", "VM.Migrate")],
  "POST /nodes/{node}/qemu/{vmid}/clone": CLONE,
  "PUT /nodes/{node}/qemu/{vmid}/config": [QEMU_CONFIG],
  "POST /nodes/{node}/qemu/{vmid}/config": [QEMU_CONFIG],
  "PUT /nodes/{node}/qemu/{vmid}/resize": [check("/vms/{vmid}", "VM.Config.Disk")],
  "GET /nodes/{node}/qemu/{vmid}/snapshot": [VM_AUDIT],
  "POST /nodes/{node}/qemu/{vmid}/snapshot": [SNAPSHOT],
  "DELETE /nodes/{node}/qemu/{vmid}/snapshot/{snapname}": [SNAPSHOT],
  "POST /nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback": [ROLLBACK],
  "POST /nodes/{node}/qemu/{vmid}/template": [check("/vms/{vmid}", "VM.Allocate")],
  "GET /nodes/{node}/qemu/{vmid}/agent/info": [AGENT_AUDIT],
  "GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces": [AGENT_AUDIT],
  "GET /nodes/{node}/qemu/{vmid}/agent/get-osinfo": [AGENT_AUDIT],
  "GET /nodes/{node}/qemu/{vmid}/agent/get-fsinfo": [AGENT_AUDIT],
  "POST /nodes/{node}/qemu/{vmid}/agent/ping": [AGENT_AUDIT],
  "POST /nodes/{node}/qemu/{vmid}/agent/exec": [check("/vms/{vmid}", "VM.GuestAgent.Unrestricted")],
  "GET /nodes/{node}/qemu/{vmid}/agent/exec-status": [check("/vms/{vmid}", "VM.GuestAgent.Unrestricted")],

  // LXC
  "GET /nodes/{node}/lxc": [VM_AUDIT],
  "GET /nodes/{node}/lxc/{vmid}/status/current": [VM_AUDIT],
  "GET /nodes/{node}/lxc/{vmid}/config": [VM_AUDIT],
  "GET /nodes/{node}/lxc/{vmid}/rrddata": [VM_AUDIT],
  "POST /nodes/{node}/lxc/{vmid}/status/start": [VM_POWER],
  "POST /nodes/{node}/lxc/{vmid}/status/stop": [VM_POWER],
  "POST /nodes/{node}/lxc/{vmid}/status/shutdown": [VM_POWER],
  "POST /nodes/{node}/lxc/{vmid}/status/reboot": [VM_POWER],
  "POST /nodes/{node}/lxc/{vmid}/status/suspend": [VM_POWER],
  "POST /nodes/{node}/lxc/{vmid}/status/resume": [VM_POWER],
  "POST /nodes/{node}/lxc": CREATE_GUEST,
  "DELETE /nodes/{node}/lxc/{vmid}": [check("/vms/{vmid}", "VM.Allocate")],
  "POST /nodes/{node}/lxc/{vmid}/migrate": [check("/vms/{vmid}", "VM.Migrate")],
  "POST /nodes/{node}/lxc/{vmid}/clone": CLONE,
  "PUT /nodes/{node}/lxc/{vmid}/config": [LXC_CONFIG],
  "PUT /nodes/{node}/lxc/{vmid}/resize": [anyOf("/vms/{vmid}", ["VM.Config.Disk"])],
  "GET /nodes/{node}/lxc/{vmid}/snapshot": [VM_AUDIT],
  "POST /nodes/{node}/lxc/{vmid}/snapshot": [SNAPSHOT],
  "DELETE /nodes/{node}/lxc/{vmid}/snapshot/{snapname}": [SNAPSHOT],
  "POST /nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback": [ROLLBACK],
  "POST /nodes/{node}/lxc/{vmid}/template": [check("/vms/{vmid}", "VM.Allocate")],

  // Nodes, monitoring
  "GET /nodes/{node}/rrddata": [NODE_AUDIT],
  "GET /nodes/{node}/dns": [NODE_AUDIT],
  "GET /nodes/{node}/time": [NODE_AUDIT],
  "GET /nodes/{node}/syslog": [check("/nodes/{node}", "Sys.Syslog")],
  "GET /nodes/{node}/services": [NODE_AUDIT],
  "GET /nodes/{node}/subscription": [],
  // Listing pending updates is a Sys.Modify check in PVE (it reads the apt state as root).
  "GET /nodes/{node}/apt/update": [NODE_MODIFY],

  // Tasks: a token always sees its own tasks; Sys.Audit shows the others'.
  "GET /nodes/{node}/tasks": [NODE_AUDIT],
  "GET /nodes/{node}/tasks/{upid}/status": [NODE_AUDIT],
  "GET /nodes/{node}/tasks/{upid}/log": [NODE_AUDIT],
  "DELETE /nodes/{node}/tasks/{upid}": [NODE_MODIFY],
  "GET /cluster/tasks": [],

  // Storage
  "GET /storage": [STORAGE_READ],
  "GET /storage/{storage}": [check("/storage/{storage}", "Datastore.Allocate")],
  "POST /storage": [check("/storage", "Datastore.Allocate")],
  "PUT /storage/{storage}": [check("/storage", "Datastore.Allocate")],
  "DELETE /storage/{storage}": [check("/storage", "Datastore.Allocate")],
  "GET /nodes/{node}/storage": [STORAGE_READ],
  "GET /nodes/{node}/storage/{storage}/status": [STORAGE_READ],
  "GET /nodes/{node}/storage/{storage}/content": [STORAGE_READ],
  "DELETE /nodes/{node}/storage/{storage}/content/{volume}": [
    check("/storage/{storage}", "Datastore.Allocate"),
  ],
  "POST /nodes/{node}/storage/{storage}/download-url": [
    check("/storage/{storage}", "Datastore.AllocateTemplate"),
    check("/nodes/{node}", "Sys.Audit", "Sys.Modify"),
  ],

  // Backup
  "GET /cluster/backup": [ROOT_AUDIT],
  "GET /cluster/backup/{id}": [ROOT_AUDIT],
  "POST /cluster/backup": [ROOT_MODIFY],
  "PUT /cluster/backup/{id}": [ROOT_MODIFY],
  "DELETE /cluster/backup/{id}": [ROOT_MODIFY],
  "POST /nodes/{node}/vzdump": [
    check("/vms/{vmid}", "VM.Backup"),
    check("/storage/{storage}", "Datastore.AllocateSpace"),
  ],

  // Network
  "GET /nodes/{node}/network": [],
  "GET /nodes/{node}/network/{iface}": [NODE_AUDIT],
  "POST /nodes/{node}/network": [NODE_MODIFY],
  "PUT /nodes/{node}/network": [NODE_MODIFY],
  "DELETE /nodes/{node}/network": [NODE_MODIFY],
  "PUT /nodes/{node}/network/{iface}": [NODE_MODIFY],
  "DELETE /nodes/{node}/network/{iface}": [NODE_MODIFY],

  // Pools
  "GET /pools": [check("/pool/{poolid}", "Pool.Audit")],
  "GET /pools/{poolid}": [check("/pool/{poolid}", "Pool.Audit")],
  "POST /pools": [check("/pool/{poolid}", "Pool.Allocate")],
  "PUT /pools": [check("/pool/{poolid}", "Pool.Allocate")],
  "DELETE /pools": [check("/pool/{poolid}", "Pool.Allocate")],
  "PUT /pools/{poolid}": [check("/pool/{poolid}", "Pool.Allocate")],
  "DELETE /pools/{poolid}": [check("/pool/{poolid}", "Pool.Allocate")],

  // Access. Users and groups are listed to those with User.Modify or Sys.Audit.
  "GET /access/users": [USERS_READ],
  "GET /access/users/{userid}": [USERS_READ],
  "GET /access/groups": [USERS_READ],
  "GET /access/roles": [],
  "GET /access/acl": [check("/access", "Sys.Audit")],
  "GET /access/domains": [],
  "GET /access/users/{userid}/token": [USER_MODIFY],
  "POST /access/users": [check("/access/realm/{realm}", "Realm.AllocateUser"), USER_MODIFY],
  "PUT /access/users/{userid}": [USER_MODIFY],
  "DELETE /access/users/{userid}": [check("/access/realm/{realm}", "Realm.AllocateUser"), USER_MODIFY],
  // `perm-modify` on the ACL's path: Permissions.Modify there (granted on / to cover any path).
  "PUT /access/acl": [check("/", "Permissions.Modify")],
  "POST /access/users/{userid}/token/{tokenid}": [USER_MODIFY],
  "DELETE /access/users/{userid}/token/{tokenid}": [USER_MODIFY],
  "POST /access/groups": [check("/access/groups", "Group.Allocate")],
  "DELETE /access/groups/{groupid}": [check("/access/groups", "Group.Allocate")],
  "POST /access/roles": [check("/access", "Sys.Modify")],
  "DELETE /access/roles/{roleid}": [check("/access", "Sys.Modify")],

  // Firewall (cluster level; guest rules check the guest)
  "GET /cluster/firewall/rules": [ROOT_AUDIT],
  "POST /cluster/firewall/rules": [ROOT_MODIFY],
  "GET /cluster/firewall/rules/{pos}": [ROOT_AUDIT],
  "PUT /cluster/firewall/rules/{pos}": [ROOT_MODIFY],
  "DELETE /cluster/firewall/rules/{pos}": [ROOT_MODIFY],
  "GET /cluster/firewall/options": [ROOT_AUDIT],
  "PUT /cluster/firewall/options": [ROOT_MODIFY],
  "GET /cluster/firewall/aliases": [ROOT_AUDIT],
  "GET /cluster/firewall/ipset": [ROOT_AUDIT],
  "GET /nodes/{node}/firewall/rules": [NODE_AUDIT],
  "POST /nodes/{node}/firewall/rules": [NODE_MODIFY],
  "PUT /nodes/{node}/firewall/rules/{pos}": [NODE_MODIFY],
  "DELETE /nodes/{node}/firewall/rules/{pos}": [NODE_MODIFY],
  "GET /nodes/{node}/qemu/{vmid}/firewall/rules": [VM_AUDIT],
  "POST /nodes/{node}/qemu/{vmid}/firewall/rules": [check("/vms/{vmid}", "VM.Config.Network")],
  "PUT /nodes/{node}/qemu/{vmid}/firewall/rules/{pos}": [check("/vms/{vmid}", "VM.Config.Network")],
  "DELETE /nodes/{node}/qemu/{vmid}/firewall/rules/{pos}": [check("/vms/{vmid}", "VM.Config.Network")],
  "GET /nodes/{node}/lxc/{vmid}/firewall/rules": [VM_AUDIT],
  "POST /nodes/{node}/lxc/{vmid}/firewall/rules": [check("/vms/{vmid}", "VM.Config.Network")],
  "PUT /nodes/{node}/lxc/{vmid}/firewall/rules/{pos}": [check("/vms/{vmid}", "VM.Config.Network")],
  "DELETE /nodes/{node}/lxc/{vmid}/firewall/rules/{pos}": [check("/vms/{vmid}", "VM.Config.Network")],
}

export const endpointKey = (method: string, path: string) => `${method} ${path}`

/** What every tool that addresses a guest reads first, to find the guest's node. */
const LOOKUPS: ReadonlyArray<string> = ["GET /cluster/resources"]

/** One privilege on one ACL path (`/vms`, `/nodes`, `/storage`, `/pool`, `/access/...`, `/`). */
export interface Requirement {
  /** The ACL subtree it is checked in: the template's path up to its first placeholder. */
  readonly path: string
  readonly privilege: string
  /** Alternatives: holding any one of them is enough (e.g. `VM.Snapshot.Rollback`). */
  readonly alternatives: ReadonlyArray<string>
  /** The tools that need it (for the report). */
  readonly tools: ReadonlyArray<string>
}

/** `/vms/{vmid}` -> `/vms`: a grant there (propagated) covers every guest. */
export const aclRoot = (template: string): string => {
  const cut = template.indexOf("/{")
  return cut < 0 ? template : template.slice(0, cut) || "/"
}

/** Endpoints a tool uses that the table does not know (a test keeps this empty for the catalog). */
export const unknownEndpoints = (tools: ReadonlyArray<ToolInfo>): ReadonlyArray<string> =>
  tools.flatMap((tool) =>
    tool.endpoints
      .map((e) => endpointKey(e.method, e.path))
      .filter((key) => ENDPOINT_PRIVILEGES[key] === undefined)
      .map((key) => `${tool.name}: ${key}`),
  )

/**
 * What these tools need, one requirement per privilege and ACL root, sorted. An `any` check adds
 * each privilege it grants, with the others it accepts as alternatives.
 */
export const requirementsOf = (tools: ReadonlyArray<ToolInfo>): ReadonlyArray<Requirement> => {
  const byKey = new Map<
    string,
    { path: string; privilege: string; alternatives: Set<string>; tools: Set<string> }
  >()
  const add = (tool: string, checkItem: PrivilegeCheck) => {
    const path = aclRoot(checkItem.path)
    for (const privilege of checkItem.grant ?? checkItem.privileges) {
      const key = `${path} ${privilege}`
      const entry = byKey.get(key) ?? {
        path,
        privilege,
        alternatives: new Set<string>(),
        tools: new Set<string>(),
      }
      if (checkItem.any)
        for (const other of checkItem.privileges) if (other !== privilege) entry.alternatives.add(other)
      entry.tools.add(tool)
      byKey.set(key, entry)
    }
  }
  for (const tool of tools) {
    const keys = tool.endpoints.map((e) => endpointKey(e.method, e.path))
    const guestTool = tool.endpoints.some((e) => e.path.includes("{vmid}"))
    for (const key of guestTool ? [...keys, ...LOOKUPS] : keys) {
      for (const item of ENDPOINT_PRIVILEGES[key] ?? []) add(tool.name, item)
    }
  }
  return [...byKey.values()]
    .map((entry) => ({
      path: entry.path,
      privilege: entry.privilege,
      alternatives: [...entry.alternatives].sort(),
      tools: [...entry.tools].sort(),
    }))
    .sort((a, b) => a.path.localeCompare(b.path) || a.privilege.localeCompare(b.privilege))
}

/** The privileges a role for these tools holds (what `bootstrap` grants), sorted. */
export const rolePrivileges = (tools: ReadonlyArray<ToolInfo>): ReadonlyArray<string> =>
  [...new Set(requirementsOf(tools).map((r) => r.privilege))].sort()

/** What `/access/permissions` answers: ACL path -> privilege -> 1 (propagated) or 0. */
export type PermissionMap = Readonly<Record<string, Readonly<Record<string, number>>>>

export interface Shortfall {
  readonly requirement: Requirement
  /** Paths below the requirement's root that do grant it (a partial grant), if any. */
  readonly onlyOn: ReadonlyArray<string>
}

/**
 * The requirements a token's permissions do not meet. A privilege counts on `root` when it is
 * granted on `root` or on an ancestor of it (PVE propagates ACLs down the tree unless told not
 * to; `/access/permissions` already reports the effective privileges of each path it lists).
 */
export const shortfalls = (
  needed: ReadonlyArray<Requirement>,
  permissions: PermissionMap,
): ReadonlyArray<Shortfall> => {
  const holds = (path: string, privilege: string) => permissions[path]?.[privilege] !== undefined
  const ancestors = (path: string) => {
    const out = ["/"]
    const parts = path.split("/").filter((p) => p !== "")
    for (let i = 1; i <= parts.length; i++) out.push(`/${parts.slice(0, i).join("/")}`)
    return out
  }
  const missing: Array<Shortfall> = []
  for (const requirement of needed) {
    const accepted = [requirement.privilege, ...requirement.alternatives]
    const covered = ancestors(requirement.path).some((path) => accepted.some((p) => holds(path, p)))
    if (covered) continue
    const onlyOn = Object.keys(permissions)
      .filter((path) => path.startsWith(`${requirement.path === "/" ? "" : requirement.path}/`))
      .filter((path) => accepted.some((p) => holds(path, p)))
      .sort()
    missing.push({ requirement, onlyOn })
  }
  return missing
}
