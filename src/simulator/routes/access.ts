import { serverError } from "../errors.js"
import { optStr, permissionDenied, type Route, reply } from "../router.js"

// Paths PVE reports without a `path` parameter: the ACL tree's top-level objects.
const TOP_LEVEL_PATHS = ["/", "/access", "/nodes", "/pool", "/sdn", "/storage", "/vms"]

export const accessRoutes: ReadonlyArray<Route> = [
  {
    method: "GET",
    path: "/access/permissions",
    handle: ({ cluster, params, token }) => {
      const userid = optStr(params, "userid") ?? token.tokenId
      const ownUser = token.tokenId.slice(0, token.tokenId.indexOf("!"))
      // Asking about somebody else needs Sys.Audit on /access.
      if (userid !== token.tokenId && userid !== ownUser && !token.privileges.includes("Sys.Audit")) {
        throw permissionDenied({ path: "/access", privilege: "Sys.Audit" })
      }
      // A user holds (at least) what its token holds; both simulated tokens are privsep=0 tokens.
      const subject = [cluster.fullToken, cluster.readOnlyToken].find(
        (candidate) => candidate.tokenId === userid || candidate.tokenId.startsWith(`${userid}!`),
      )
      if (!subject) throw serverError(`no such user ('${userid}')`)
      const privileges = Object.fromEntries(subject.privileges.map((privilege) => [privilege, 1]))
      const path = optStr(params, "path")
      const paths = path === undefined ? TOP_LEVEL_PATHS : [path]
      return reply(Object.fromEntries(paths.map((aclPath) => [aclPath, privileges])))
    },
  },
]
