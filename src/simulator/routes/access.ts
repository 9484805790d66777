import { randomUUID } from "node:crypto"
import type { SimUser } from "../access-model.js"
import type { ClusterState, Token } from "../cluster.js"
import { serverError } from "../errors.js"
import {
  optBool,
  optInt,
  optStr,
  type Permission,
  permissionDenied,
  type Route,
  reply,
  str,
} from "../router.js"
import type { RawParams } from "../schema.js"

// PVE's user checks, simplified: `userid-param` is Realm.AllocateUser on the user's realm,
// `userid-group` is the privilege on /access/groups (which a grant on / or /access reaches).
const onRealm =
  (privilege: string) =>
  (raw: RawParams): Permission => {
    const userid = String(raw.userid)
    return { path: `/access/realm/${userid.slice(userid.lastIndexOf("@") + 1)}`, privilege }
  }
/** `pve-priv-list`: privileges separated by commas, semicolons or spaces. */
const privilegeList = (text: string | undefined): ReadonlyArray<string> =>
  (text ?? "").split(/[,;\s]+/).filter((privilege) => privilege !== "")

const onGroups = (privilege: string) => (): Permission => ({ path: "/access/groups", privilege })

/**
 * Reading a user's own tokens needs no privilege; anybody else's need User.Modify. Creating and
 * deleting tokens always need it here (PVE also lets users manage their own), so the read-only
 * token stays read-only.
 */
const requireSelfOrUserModify = (cluster: ClusterState, token: Token, userid: string) => {
  const own = token.tokenId.slice(0, token.tokenId.indexOf("!"))
  if (own !== userid && !cluster.access.allowed(token.tokenId, "/access/groups", "User.Modify"))
    throw permissionDenied({ path: "/access/groups", privilege: "User.Modify" })
}

const list = (value: string | undefined): ReadonlyArray<string> =>
  value === undefined ? [] : value.split(/[,;\s]+/).filter((item) => item !== "")

const userRow = (user: SimUser, tokens: ReadonlyArray<Record<string, unknown>> | undefined) => ({
  userid: user.userid,
  enable: user.enable ? 1 : 0,
  expire: user.expire,
  "realm-type": user.userid.slice(user.userid.lastIndexOf("@") + 1),
  ...(user.firstname === undefined ? {} : { firstname: user.firstname }),
  ...(user.lastname === undefined ? {} : { lastname: user.lastname }),
  ...(user.email === undefined ? {} : { email: user.email }),
  ...(user.comment === undefined ? {} : { comment: user.comment }),
  ...(user.groups.size === 0 ? {} : { groups: [...user.groups].join(",") }),
  ...(tokens === undefined ? {} : { tokens }),
})

export const accessRoutes: ReadonlyArray<Route> = [
  {
    method: "GET",
    path: "/access/permissions",
    handle: ({ cluster, params, token }) => {
      const userid = optStr(params, "userid") ?? token.tokenId
      const ownUser = token.tokenId.slice(0, token.tokenId.indexOf("!"))
      // Asking about somebody else needs Sys.Audit on /access.
      if (
        userid !== token.tokenId &&
        userid !== ownUser &&
        !cluster.access.allowed(token.tokenId, "/access", "Sys.Audit")
      ) {
        throw permissionDenied({ path: "/access", privilege: "Sys.Audit" })
      }
      const bang = userid.indexOf("!")
      const exists = bang < 0 ? cluster.access.users.has(userid) : cluster.access.tokens.has(userid)
      if (!exists) throw serverError(`no such user ('${userid}')`)
      const path = optStr(params, "path")
      const paths = path === undefined ? cluster.access.reportedPaths() : [path]
      return reply(
        Object.fromEntries(
          paths.map((aclPath) => [
            aclPath,
            Object.fromEntries(
              [...cluster.access.privileges(userid, aclPath)].sort().map((privilege) => [privilege, 1]),
            ),
          ]),
        ),
      )
    },
  },
  {
    method: "GET",
    path: "/access/users",
    handle: ({ cluster, params, token }) => {
      const enabled = optBool(params, "enabled")
      const full = optBool(params, "full") === true
      // Restricted to what the caller may audit, plus the caller's own user.
      const own = token.tokenId.slice(0, token.tokenId.indexOf("!"))
      const seesAll = ["User.Modify", "Sys.Audit"].some((privilege) =>
        cluster.access.allowed(token.tokenId, "/access/groups", privilege),
      )
      const users = [...cluster.access.users.values()].filter(
        (user) => (seesAll || user.userid === own) && (enabled === undefined || user.enable === enabled),
      )
      return reply(
        users.map((user) =>
          userRow(
            user,
            full
              ? [...cluster.access.tokens.values()]
                  .filter((token) => token.userid === user.userid)
                  .map((token) => ({
                    tokenid: token.tokenid,
                    privsep: token.privsep ? 1 : 0,
                    expire: token.expire,
                  }))
              : undefined,
          ),
        ),
      )
    },
  },
  {
    method: "POST",
    path: "/access/users",
    permission: onRealm("Realm.AllocateUser"),
    handle: ({ cluster, params }) => {
      const userid = str(params, "userid")
      const firstname = optStr(params, "firstname")
      const lastname = optStr(params, "lastname")
      const email = optStr(params, "email")
      const comment = optStr(params, "comment")
      // A password is accepted for the pve realm only and is never shown again.
      if (optStr(params, "password") !== undefined && !userid.endsWith("@pve"))
        throw serverError("create user failed: can't set password on realm other than 'pve'")
      cluster.access.addUser({
        userid,
        enable: optBool(params, "enable") ?? true,
        expire: optInt(params, "expire") ?? 0,
        groups: new Set(list(optStr(params, "groups"))),
        ...(firstname === undefined ? {} : { firstname }),
        ...(lastname === undefined ? {} : { lastname }),
        ...(email === undefined ? {} : { email }),
        ...(comment === undefined ? {} : { comment }),
      })
      return reply(null)
    },
  },
  {
    method: "PUT",
    path: "/access/users/{userid}",
    permission: onGroups("User.Modify"),
    handle: ({ cluster, params }) => {
      const user = cluster.access.requireUser(str(params, "userid"), "update user")
      const groups = optStr(params, "groups")
      if (groups !== undefined) {
        const wanted = list(groups)
        for (const group of wanted) cluster.access.requireGroup(group)
        user.groups = new Set([...(optBool(params, "append") ? user.groups : []), ...wanted])
      }
      const enable = optBool(params, "enable")
      if (enable !== undefined) user.enable = enable
      const expire = optInt(params, "expire")
      if (expire !== undefined) user.expire = expire
      for (const field of ["firstname", "lastname", "email", "comment"] as const) {
        const value = optStr(params, field)
        if (value !== undefined) user[field] = value
      }
      return reply(null)
    },
  },
  {
    method: "DELETE",
    path: "/access/users/{userid}",
    permission: onRealm("Realm.AllocateUser"),
    handle: ({ cluster, params }) => {
      cluster.access.deleteUser(str(params, "userid"))
      return reply(null)
    },
  },
  {
    method: "GET",
    path: "/access/users/{userid}/token",
    handle: ({ cluster, params, token }) => {
      const userid = str(params, "userid")
      requireSelfOrUserModify(cluster, token, userid)
      cluster.access.requireUser(userid, "get tokens")
      return reply(
        [...cluster.access.tokens.values()]
          .filter((token) => token.userid === userid)
          .map((token) => ({
            tokenid: token.tokenid,
            privsep: token.privsep ? 1 : 0,
            expire: token.expire,
            ...(token.comment === undefined ? {} : { comment: token.comment }),
          })),
      )
    },
  },
  {
    method: "POST",
    path: "/access/users/{userid}/token/{tokenid}",
    permission: onGroups("User.Modify"),
    handle: ({ cluster, params }) => {
      const userid = str(params, "userid")
      const tokenid = str(params, "tokenid")
      const comment = optStr(params, "comment")
      const token = cluster.access.addToken(
        {
          userid,
          tokenid,
          privsep: optBool(params, "privsep") ?? true,
          expire: optInt(params, "expire") ?? 0,
          ...(comment === undefined ? {} : { comment }),
        },
        randomUUID(),
      )
      return reply({
        "full-tokenid": `${userid}!${tokenid}`,
        info: {
          privsep: token.privsep ? 1 : 0,
          expire: token.expire,
          ...(comment === undefined ? {} : { comment }),
        },
        value: token.secret,
      })
    },
  },
  {
    method: "DELETE",
    path: "/access/users/{userid}/token/{tokenid}",
    permission: onGroups("User.Modify"),
    handle: ({ cluster, params }) => {
      cluster.access.deleteToken(str(params, "userid"), str(params, "tokenid"))
      return reply(null)
    },
  },
  {
    method: "GET",
    path: "/access/roles",
    handle: ({ cluster }) =>
      reply(
        [...cluster.access.roles.entries()].map(([roleid, privileges]) => ({
          roleid,
          privs: [...privileges].sort().join(","),
          special: cluster.access.customRoles.has(roleid) ? 0 : 1,
        })),
      ),
  },
  {
    // What `bootstrap --apply` creates: a role with exactly a tier's privileges.
    method: "POST",
    path: "/access/roles",
    permission: () => ({ path: "/access", privilege: "Sys.Modify" }),
    handle: ({ cluster, params }) => {
      cluster.access.addRole(str(params, "roleid"), privilegeList(optStr(params, "privs")))
      return reply(null)
    },
  },
  {
    method: "PUT",
    path: "/access/roles/{roleid}",
    permission: () => ({ path: "/access", privilege: "Sys.Modify" }),
    handle: ({ cluster, params }) => {
      cluster.access.updateRole(
        str(params, "roleid"),
        privilegeList(optStr(params, "privs")),
        optBool(params, "append") === true,
      )
      return reply(null)
    },
  },
  {
    method: "GET",
    path: "/access/groups",
    handle: ({ cluster }) =>
      reply(
        [...cluster.access.groups.entries()].map(([groupid, group]) => ({
          groupid,
          ...(group.comment === undefined ? {} : { comment: group.comment }),
          users: [...cluster.access.users.values()]
            .filter((user) => user.groups.has(groupid))
            .map((user) => user.userid)
            .join(","),
        })),
      ),
  },
  {
    method: "GET",
    path: "/access/acl",
    handle: ({ cluster }) =>
      reply(
        cluster.access.acl.map((entry) => ({
          path: entry.path,
          type: entry.type,
          ugid: entry.ugid,
          roleid: entry.roleid,
          propagate: entry.propagate ? 1 : 0,
        })),
      ),
  },
  {
    method: "PUT",
    path: "/access/acl",
    permission: (raw: RawParams): Permission => ({
      path: String(raw.path ?? "/"),
      privilege: "Permissions.Modify",
    }),
    handle: ({ cluster, params }) => {
      cluster.access.updateAcl({
        path: str(params, "path"),
        roles: list(str(params, "roles")),
        users: list(optStr(params, "users")),
        groups: list(optStr(params, "groups")),
        tokens: list(optStr(params, "tokens")),
        propagate: optBool(params, "propagate") ?? true,
        remove: optBool(params, "delete") === true,
      })
      return reply(null)
    },
  },
  {
    method: "GET",
    path: "/access/domains",
    handle: ({ cluster }) => reply(cluster.access.realms.map((realm) => ({ ...realm }))),
  },
]
