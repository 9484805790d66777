// The simulated cluster's access control: users, groups, roles, realms, ACLs and API tokens, and
// PVE's permission evaluation over them (PVE::AccessControl::roles / permissions, simplified):
// walking from `/` to the path, an ACL entry on a deeper path replaces what was inherited, a
// user's own entries win over its groups' at the same path, `propagate: 0` applies to that path
// only, NoAccess removes everything, and root@pam holds every privilege. A privilege-separated
// token holds what its own ACLs grant and its user holds; a token without separation holds its
// user's privileges. Pool membership does not propagate pool ACLs to guests here.
import { randomUUID } from "node:crypto"
import { serverError } from "./errors.js"

export interface SimUser {
  readonly userid: string
  enable: boolean
  expire: number
  firstname?: string
  lastname?: string
  email?: string
  comment?: string
  groups: Set<string>
}

export interface SimToken {
  readonly userid: string
  readonly tokenid: string
  readonly secret: string
  readonly privsep: boolean
  readonly expire: number
  readonly comment?: string
}

export interface AclEntry {
  readonly path: string
  readonly type: "user" | "group" | "token"
  readonly ugid: string
  readonly roleid: string
  readonly propagate: boolean
}

export interface Realm {
  readonly realm: string
  readonly type: string
  readonly comment: string
}

/** Every PVE 9 privilege. */
export const ALL_PRIVILEGES: ReadonlyArray<string> = [
  "Datastore.Allocate",
  "Datastore.AllocateSpace",
  "Datastore.AllocateTemplate",
  "Datastore.Audit",
  "Group.Allocate",
  "Mapping.Audit",
  "Mapping.Modify",
  "Mapping.Use",
  "Permissions.Modify",
  "Pool.Allocate",
  "Pool.Audit",
  "Realm.Allocate",
  "Realm.AllocateUser",
  "SDN.Allocate",
  "SDN.Audit",
  "SDN.Use",
  "Sys.AccessNetwork",
  "Sys.Audit",
  "Sys.Console",
  "Sys.Incoming",
  "Sys.Modify",
  "Sys.PowerMgmt",
  "Sys.Syslog",
  "User.Modify",
  "VM.Allocate",
  "VM.Audit",
  "VM.Backup",
  "VM.Clone",
  "VM.Config.CDROM",
  "VM.Config.CPU",
  "VM.Config.Cloudinit",
  "VM.Config.Disk",
  "VM.Config.HWType",
  "VM.Config.Memory",
  "VM.Config.Network",
  "VM.Config.Options",
  "VM.Console",
  "VM.GuestAgent.Audit",
  "VM.GuestAgent.FileRead",
  "VM.GuestAgent.FileSystemMgmt",
  "VM.GuestAgent.FileWrite",
  "VM.GuestAgent.Unrestricted",
  "VM.Migrate",
  "VM.PowerMgmt",
  "VM.Replicate",
  "VM.Snapshot",
  "VM.Snapshot.Rollback",
]

/** Some of PVE's built-in roles (special: they cannot be changed). */
const BUILTIN_ROLES: Readonly<Record<string, ReadonlyArray<string>>> = {
  Administrator: ALL_PRIVILEGES,
  NoAccess: [],
  PVEAuditor: ALL_PRIVILEGES.filter((privilege) => privilege.endsWith(".Audit")),
  PVEVMUser: [
    "VM.Audit",
    "VM.Console",
    "VM.Config.CDROM",
    "VM.Config.Cloudinit",
    "VM.Backup",
    "VM.PowerMgmt",
    "VM.GuestAgent.Audit",
    "Pool.Audit",
    "Datastore.AllocateSpace",
    "Datastore.Audit",
    "SDN.Use",
  ],
  PVEDatastoreUser: ["Datastore.AllocateSpace", "Datastore.Audit"],
  PVEPoolAdmin: ["Pool.Allocate", "Pool.Audit"],
  PVEPoolUser: ["Pool.Audit"],
  PVEUserAdmin: ["User.Modify", "Group.Allocate", "Realm.Allocate", "Realm.AllocateUser", "Sys.Audit"],
}

const SUPERUSER = "root@pam"

/** `/a/b/c` -> `["/", "/a", "/a/b", "/a/b/c"]`. */
const pathLevels = (path: string): ReadonlyArray<string> => {
  const segments = path.split("/").filter((segment) => segment !== "")
  return ["/", ...segments.map((_, index) => `/${segments.slice(0, index + 1).join("/")}`)]
}

const normalizePath = (path: string) =>
  path === "/"
    ? "/"
    : `/${path
        .split("/")
        .filter((s) => s !== "")
        .join("/")}`

export class AccessModel {
  readonly users = new Map<string, SimUser>()
  readonly groups = new Map<string, { comment?: string }>()
  readonly roles = new Map<string, ReadonlySet<string>>(
    Object.entries(BUILTIN_ROLES).map(([roleid, privileges]) => [roleid, new Set(privileges)]),
  )
  readonly realms: ReadonlyArray<Realm> = [
    { realm: "pam", type: "pam", comment: "Linux PAM standard authentication" },
    { realm: "pve", type: "pve", comment: "Proxmox VE authentication server" },
  ]
  /** Roles created besides PVE's built-in ones (`special: 0`). */
  readonly customRoles = new Set<string>()
  acl: Array<AclEntry> = []
  /** By full token id `user@realm!name`. */
  readonly tokens = new Map<string, SimToken>()

  constructor() {
    this.addUser({ userid: SUPERUSER, enable: true, expire: 0, groups: new Set(), comment: "root" })
    this.groups.set("operators", { comment: "Cluster operators" })
  }

  // --- roles, users, groups, tokens ---------------------------------------------------------------

  addRole(roleid: string, privileges: ReadonlyArray<string>) {
    if (this.roles.has(roleid)) throw serverError(`role '${roleid}' already exists`)
    const unknown = privileges.find((privilege) => !ALL_PRIVILEGES.includes(privilege))
    if (unknown !== undefined) throw serverError(`invalid privilege name '${unknown}'`)
    this.roles.set(roleid, new Set(privileges))
    this.customRoles.add(roleid)
  }

  /** PUT /access/roles/{roleid}: replaces the privileges (or adds to them); built-in roles are fixed. */
  updateRole(roleid: string, privileges: ReadonlyArray<string>, append: boolean) {
    const current = this.roles.get(roleid)
    if (current === undefined) throw serverError(`role '${roleid}' does not exist`)
    if (!this.customRoles.has(roleid)) throw serverError(`cannot modify special role '${roleid}'`)
    const unknown = privileges.find((privilege) => !ALL_PRIVILEGES.includes(privilege))
    if (unknown !== undefined) throw serverError(`invalid privilege name '${unknown}'`)
    this.roles.set(roleid, new Set(append ? [...current, ...privileges] : privileges))
  }

  addUser(user: SimUser) {
    const realm = user.userid.slice(user.userid.lastIndexOf("@") + 1)
    if (!this.realms.some((candidate) => candidate.realm === realm))
      throw serverError(`create user failed: domain '${realm}' does not exist`)
    if (this.users.has(user.userid))
      throw serverError(`create user failed: user '${user.userid}' already exists`)
    for (const group of user.groups) this.requireGroup(group)
    this.users.set(user.userid, user)
  }

  requireUser(userid: string, action: string): SimUser {
    const user = this.users.get(userid)
    if (!user) throw serverError(`${action} failed: no such user ('${userid}')`)
    return user
  }

  requireGroup(groupid: string) {
    if (!this.groups.has(groupid)) throw serverError(`group '${groupid}' does not exist`)
  }

  deleteUser(userid: string) {
    this.requireUser(userid, "delete user")
    this.users.delete(userid)
    for (const [fullId, token] of this.tokens) if (token.userid === userid) this.tokens.delete(fullId)
    this.acl = this.acl.filter(
      (entry) =>
        !(entry.type === "user" && entry.ugid === userid) &&
        !(entry.type === "token" && entry.ugid.startsWith(`${userid}!`)),
    )
  }

  addToken(token: Omit<SimToken, "secret">, secret: string = randomUUID()): SimToken {
    this.requireUser(token.userid, "create token")
    const fullId = `${token.userid}!${token.tokenid}`
    if (this.tokens.has(fullId)) throw serverError("Token already exists.")
    const created = { ...token, secret }
    this.tokens.set(fullId, created)
    return created
  }

  deleteToken(userid: string, tokenid: string) {
    this.requireUser(userid, "delete token")
    const fullId = `${userid}!${tokenid}`
    if (!this.tokens.has(fullId)) throw serverError(`no such token '${tokenid}' for user '${userid}'`)
    this.tokens.delete(fullId)
    this.acl = this.acl.filter((entry) => !(entry.type === "token" && entry.ugid === fullId))
  }

  /** The token for authentication: it exists, its user is enabled, neither has expired. */
  activeToken(fullId: string, now = Date.now()): SimToken | undefined {
    const token = this.tokens.get(fullId)
    const user = token && this.users.get(token.userid)
    if (!token || !user?.enable) return undefined
    const seconds = Math.floor(now / 1000)
    if ((token.expire !== 0 && token.expire < seconds) || (user.expire !== 0 && user.expire < seconds))
      return undefined
    return token
  }

  // --- ACLs ---------------------------------------------------------------------------------------

  /** PUT /access/acl: adds (or removes) each role for each user, group and token on the path. */
  updateAcl(change: {
    readonly path: string
    readonly roles: ReadonlyArray<string>
    readonly users: ReadonlyArray<string>
    readonly groups: ReadonlyArray<string>
    readonly tokens: ReadonlyArray<string>
    readonly propagate: boolean
    readonly remove: boolean
  }) {
    const path = normalizePath(change.path)
    for (const roleid of change.roles)
      if (!this.roles.has(roleid)) throw serverError(`role '${roleid}' does not exist`)
    for (const userid of change.users)
      if (!this.users.has(userid)) throw serverError(`user '${userid}' does not exist`)
    for (const groupid of change.groups) this.requireGroup(groupid)
    for (const tokenid of change.tokens)
      if (!this.tokens.has(tokenid)) throw serverError(`no such token '${tokenid}'`)
    const subjects: ReadonlyArray<[AclEntry["type"], string]> = [
      ...change.users.map((ugid): [AclEntry["type"], string] => ["user", ugid]),
      ...change.groups.map((ugid): [AclEntry["type"], string] => ["group", ugid]),
      ...change.tokens.map((ugid): [AclEntry["type"], string] => ["token", ugid]),
    ]
    for (const [type, ugid] of subjects) {
      for (const roleid of change.roles) {
        const same = (entry: AclEntry) =>
          entry.path === path && entry.type === type && entry.ugid === ugid && entry.roleid === roleid
        this.acl = this.acl.filter((entry) => !same(entry))
        if (!change.remove) this.acl.push({ path, type, ugid, roleid, propagate: change.propagate })
      }
    }
  }

  /** The roles that apply to one ACL subject (a user with its groups, or a token) on `path`. */
  private rolesOf(
    path: string,
    own: (entry: AclEntry) => boolean,
    viaGroup: (entry: AclEntry) => boolean,
  ): ReadonlySet<string> {
    const levels = pathLevels(normalizePath(path))
    let current: ReadonlySet<string> = new Set()
    levels.forEach((level, index) => {
      const applies = (entry: AclEntry) =>
        entry.path === level && (entry.propagate || index === levels.length - 1)
      const mine = this.acl.filter((entry) => applies(entry) && own(entry))
      const groups = this.acl.filter((entry) => applies(entry) && viaGroup(entry))
      if (mine.length > 0) current = new Set(mine.map((entry) => entry.roleid))
      else if (groups.length > 0) current = new Set(groups.map((entry) => entry.roleid))
    })
    return current
  }

  private privilegesOfRoles(roles: ReadonlySet<string>): ReadonlySet<string> {
    if (roles.has("NoAccess")) return new Set()
    return new Set([...roles].flatMap((roleid) => [...(this.roles.get(roleid) ?? [])]))
  }

  /** What `subject` (`user@realm` or `user@realm!token`) may do on `path`. */
  privileges(subject: string, path: string): ReadonlySet<string> {
    const bang = subject.indexOf("!")
    const userid = bang < 0 ? subject : subject.slice(0, bang)
    const user = this.users.get(userid)
    if (!user?.enable) return new Set()
    const userPrivileges =
      userid === SUPERUSER
        ? new Set(ALL_PRIVILEGES)
        : this.privilegesOfRoles(
            this.rolesOf(
              path,
              (entry) => entry.type === "user" && entry.ugid === userid,
              (entry) => entry.type === "group" && user.groups.has(entry.ugid),
            ),
          )
    if (bang < 0) return userPrivileges
    const token = this.tokens.get(subject)
    if (!token) return new Set()
    if (!token.privsep) return userPrivileges
    const tokenPrivileges = this.privilegesOfRoles(
      this.rolesOf(
        path,
        (entry) => entry.type === "token" && entry.ugid === subject,
        () => false,
      ),
    )
    return new Set([...tokenPrivileges].filter((privilege) => userPrivileges.has(privilege)))
  }

  allowed(subject: string, path: string, privilege: string): boolean {
    return this.privileges(subject, path).has(privilege)
  }

  /** The paths `/access/permissions` reports without a `path`: the ACL tree's top and every ACL path. */
  reportedPaths(): ReadonlyArray<string> {
    const top = ["/", "/access", "/nodes", "/pool", "/sdn", "/storage", "/vms"]
    return [...new Set([...top, ...this.acl.map((entry) => entry.path)])].sort()
  }
}
