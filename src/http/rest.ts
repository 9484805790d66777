/**
 * Sutian's REST API on the same tool pipeline as MCP calls (same policy, same audit):
 * `POST /mcp/v1/call {method, params, resource?}`, `GET /mcp/v1/operations`,
 * `GET /mcp/v1/nodes`, `GET /mcp/v1/cluster/members`. Shapes are Sutian's (SPEC section 12).
 *
 * `resource` is accepted and ignored: authorisation is decided on the target the server computes
 * from the validated parameters. A missing `params.node` is the first configured node (Sutian's
 * rule), never a literal `{node}`.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { ProxmoxConfig } from "../config/proxmox.js"
import type { Principal } from "../domain/principal.js"
import type { ServerServices } from "../mcp/server.js"
import { ADMIN_ONLY_OPERATIONS, SUTIAN_OPERATIONS } from "../policy/operations.js"
import { Policy } from "../policy/policy.js"
import { NodeRegistry } from "../proxmox/registry.js"
import { localCall, ToolCall } from "../tools/call.js"
import { Catalog, type CatalogEntry } from "../tools/catalog.js"
import { listedInputSchema } from "../tools/describe.js"
import type { Envelope } from "../tools/envelope.js"
import { invoke } from "../tools/invoke.js"

export interface RestAnswer {
  readonly status: number
  readonly body: unknown
}

const CallBody = Schema.Struct({
  method: Schema.String.pipe(Schema.pattern(/^[a-z]+\.[a-z_*]+$/), Schema.maxLength(64)),
  params: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Unknown }), { exact: true }),
  resource: Schema.optionalWith(Schema.String, { exact: true }),
})

const detail = (status: number, text: string): RestAnswer => ({ status, body: { detail: text } })

/** Refusals by policy and input errors are HTTP errors in Sutian's API; tool outcomes are 200. */
const answerOf = (operation: string, envelope: Envelope): RestAnswer => {
  if (envelope.ok)
    return { status: 200, body: { success: true, data: envelope.data, error: null, operation } }
  const error = envelope.error
  switch (error.code) {
    case "FORBIDDEN":
    case "PROTECTED_GUEST":
      return detail(403, error.message)
    case "INVALID_INPUT":
    case "TOOL_INPUT_REJECTED":
      return detail(400, error.message)
    default:
      return {
        status: 200,
        body: {
          success: false,
          data: null,
          error: error.hint === undefined ? error.message : `${error.message} ${error.hint}`,
          operation,
        },
      }
  }
}

export const makeRest = (proxmox: ProxmoxConfig, maxResultBytes: number) =>
  Effect.gen(function* () {
    const catalog = yield* Catalog
    const policy = yield* Policy
    const registry = yield* NodeRegistry
    // Calls run on the server's services, as the MCP adapter's do (a catalog entry's own
    // requirements are only known to be among them).
    const runtime = yield* Effect.runtime<ServerServices>()
    const onServer = <A, E>(effect: Effect.Effect<A, E, ServerServices>) => Effect.provide(effect, runtime)

    /** The tool an operation runs here: the first of its tools this catalog has. */
    const entryOf = (operation: string): CatalogEntry | undefined => {
      for (const name of SUTIAN_OPERATIONS[operation] ?? []) {
        const entry = catalog.lookup(name)
        if (entry !== undefined) return entry
      }
      return undefined
    }

    const takesNode = (entry: CatalogEntry) => {
      const properties = listedInputSchema(entry.tool).properties
      return typeof properties === "object" && properties !== null && "node" in properties
    }

    /** Sutian's default node: the first configured one, else the first the cluster lists. */
    const firstNode = Effect.gen(function* () {
      const configured = proxmox.endpoints.find((endpoint) => endpoint.node !== undefined)?.node
      if (configured !== undefined) return configured
      const nodes = yield* Effect.orElseSucceed(registry.nodes, () => [])
      return nodes[0]?.node
    })

    const run = (entry: CatalogEntry, args: Record<string, unknown>, principal: Principal) =>
      onServer(
        invoke(entry, args, { maxResultBytes }).pipe(
          // No human to ask over REST: confirmation is the `confirm` parameter (or refused in elicit mode).
          Effect.provideService(ToolCall, localCall(principal)),
          Effect.annotateLogs({ tool: entry.name, principal: principal.sub }),
        ),
      )

    const call = (body: unknown, principal: Principal) =>
      Effect.gen(function* () {
        const decoded = Schema.decodeUnknownEither(CallBody, { onExcessProperty: "ignore" })(body)
        if (decoded._tag === "Left")
          return detail(400, "expected {method: 'vm.list', params: {...}, resource?: string}")
        const { method } = decoded.right
        if (!(method in SUTIAN_OPERATIONS)) return detail(400, `unknown operation '${method}'`)
        const entry = entryOf(method)
        if (entry === undefined) return detail(403, `operation ${method} is not offered by this server`)
        const params: Record<string, unknown> = { ...decoded.right.params }
        if (params.node === undefined && takesNode(entry)) {
          const node = yield* firstNode
          if (node !== undefined) params.node = node
        }
        return answerOf(method, yield* run(entry, params, principal))
      })

    const operations = (principal: Principal): RestAnswer => {
      const allowed: Array<string> = []
      const denied: Array<string> = []
      for (const operation of Object.keys(SUTIAN_OPERATIONS)) {
        const entry = entryOf(operation)
        if (entry !== undefined && policy.hiddenBy(entry, principal) === undefined) allowed.push(operation)
        else denied.push(operation)
      }
      return {
        status: 200,
        body: {
          allowed,
          denied,
          admin_only: ADMIN_ONLY_OPERATIONS,
          total_allowed: allowed.length,
          total_denied: denied.length,
          total_admin_only: ADMIN_ONLY_OPERATIONS.length,
        },
      }
    }

    const runNamed = (name: string, principal: Principal) =>
      Effect.gen(function* () {
        const entry = catalog.lookup(name)
        if (entry === undefined) return undefined
        return yield* run(entry, {}, principal)
      })

    const rows = (data: unknown): ReadonlyArray<Record<string, unknown>> => {
      const list = Array.isArray(data)
        ? data
        : typeof data === "object" && data !== null && "items" in data && Array.isArray(data.items)
          ? data.items
          : []
      return list.filter((row): row is Record<string, unknown> => typeof row === "object" && row !== null)
    }

    /** Names and status only: no hosts, ports or addresses. */
    const nodes = (principal: Principal) =>
      Effect.gen(function* () {
        const envelope = yield* runNamed("pve_list_nodes", principal)
        if (envelope === undefined) return detail(403, "listing nodes is not offered by this server")
        if (!envelope.ok) return answerOf("node.list", envelope)
        const list = rows(envelope.data).map((row) => ({
          name: String(row.node),
          status: String(row.status ?? "unknown"),
        }))
        return { status: 200, body: { nodes: list, total: list.length } }
      })

    const members = (principal: Principal) =>
      Effect.gen(function* () {
        const envelope = yield* runNamed("pve_get_cluster_status", principal)
        if (envelope === undefined) return detail(403, "cluster status is not offered by this server")
        if (!envelope.ok) return answerOf("cluster.members", envelope)
        const list = rows(envelope.data)
          .filter((row) => row.type === "node")
          .map((row) => ({
            name: String(row.name),
            online: row.online === 1 || row.online === true,
            local: row.local === 1 || row.local === true,
            ...(typeof row.nodeid === "number" ? { nodeid: row.nodeid } : {}),
          }))
        return {
          status: 200,
          body: { members: list, total: list.length, queried_via: envelope.meta.node ?? "cluster" },
        }
      })

    return { call, operations, nodes, members }
  })

export type Rest = Effect.Effect.Success<ReturnType<typeof makeRest>>
