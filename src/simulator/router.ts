// What a simulated endpoint is: a PVE path template, the privilege PVE checks, and a handler over
// the shared cluster state. Route modules under ./routes list theirs; this file holds the types and
// the small helpers they share.
import type { ClusterState, Token } from "./cluster.js"
import { PveError } from "./errors.js"
import { endpointFacts, type HttpMethod, type Params, type RawParams } from "./schema.js"

export interface RouteContext {
  readonly cluster: ClusterState
  /** Path, query and body parameters, validated and typed against the PVE schema. */
  readonly params: Params
  readonly token: Token
  /** The node whose endpoint received the request (PVE's "local" node). */
  readonly endpointNode: string
}

export interface Reply {
  readonly data: unknown
  /** PVE's top-level `total` (task list, task log). */
  readonly total?: number
}

export interface Permission {
  readonly path: string
  readonly privilege: string
}

export interface Route {
  readonly method: HttpMethod
  /** The path template exactly as the PVE schema spells it. */
  readonly path: string
  /** ACL check PVE makes before running (and before proxying) the call; raw parameters. */
  readonly permission?: (params: RawParams) => Permission
  /** A write that works without quorum (it touches no cluster-wide state). */
  readonly quorumExempt?: boolean
  readonly handle: (context: RouteContext) => Reply
}

export const reply = (data: unknown, total?: number): Reply =>
  total === undefined ? { data } : { data, total }

export const vmPermission =
  (privilege: string) =>
  (params: RawParams): Permission => ({ path: `/vms/${String(params.vmid)}`, privilege })

export const nodePermission =
  (privilege: string) =>
  (params: RawParams): Permission => ({ path: `/nodes/${String(params.node)}`, privilege })

export const storagePermission =
  (privilege: string) =>
  (params: RawParams): Permission => ({ path: `/storage/${String(params.storage)}`, privilege })

export const permissionDenied = ({ path, privilege }: Permission) =>
  new PveError(403, `Permission check failed (${path}, ${privilege})`)

// Parameters are validated before a handler runs, so these only narrow the types.
export const str = (params: Params, name: string): string => String(params[name])
export const int = (params: Params, name: string): number => Number(params[name])
export const optStr = (params: Params, name: string): string | undefined =>
  params[name] === undefined ? undefined : String(params[name])
export const optInt = (params: Params, name: string): number | undefined =>
  params[name] === undefined ? undefined : Number(params[name])
export const optBool = (params: Params, name: string): boolean | undefined =>
  params[name] === undefined ? undefined : params[name] === true

/** Indexes routes by method and template; a route PVE does not have is a bug in the simulator. */
export const routeTable = (routes: ReadonlyArray<Route>): ReadonlyMap<string, Route> => {
  const table = new Map<string, Route>()
  for (const route of routes) {
    const key = `${route.method} ${route.path}`
    if (!endpointFacts(route.method, route.path)) throw new Error(`simulator: ${key} is not a PVE endpoint`)
    if (table.has(key)) throw new Error(`simulator: ${key} is defined twice`)
    table.set(key, route)
  }
  return table
}
