/**
 * What `run` tells a person who started it in a terminal: one line naming the cluster, its
 * nodes, the tier, the number of tools and the audit file; or, when Proxmox does not answer, a
 * warning that says what to fix. The server serves either way.
 *
 * Only when stderr is a terminal: an MCP client that spawns the server reads stdout (never
 * written here) and logs stderr, and gains nothing from a probe. The probe runs beside the
 * server, never before it, so start-up does not wait for Proxmox. (Loading this module with
 * `import()` only for a terminal was measured: esbuild then splits the modules it shares with
 * the binary into extra chunks, and the start got slower, not faster.)
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { ToolMode } from "../config/server.js"
import type { Tier } from "../domain/ids.js"
import { inAnyToolset, metaToolsOf } from "../mcp/surface.js"
import { sanitize, staticallyExposed } from "../policy/policy.js"
import type { PolicySettings } from "../policy/settings.js"
import { type ApiError, ProxmoxApi } from "../proxmox/api.js"
import { builtin } from "../tools/catalog.js"
import { isDeprecated } from "../tools/describe.js"
import type { Terminal } from "./io.js"

/** What the server exposes, known without asking Proxmox. */
export interface ServedFacts {
  readonly tier: Tier
  /** Tools a client may call under the policy (aliases and legacy names not counted). */
  readonly tools: number
  /** Tools in `tools/list` at the start of a session, when fewer than `tools`, and why. */
  readonly listed?: { readonly count: number; readonly because: string }
  readonly auditPath: string
}

export const servedFacts = (options: {
  readonly policy: PolicySettings
  readonly auditPath: string
  readonly toolMode?: ToolMode
  readonly toolsets?: ReadonlyArray<string>
}): ServedFacts => {
  const callable = staticallyExposed(builtin.entries, options.policy).filter((entry) => !isDeprecated(entry))
  const base = { tier: options.policy.tier, tools: callable.length, auditPath: options.auditPath }
  if (options.toolMode === "discovery")
    return { ...base, listed: { count: metaToolsOf("discovery").length, because: "PVE_TOOL_MODE=discovery" } }
  const toolsets = options.toolsets ?? ["all"]
  if (toolsets.includes("all")) return base
  const count =
    callable.filter((entry) => inAnyToolset(entry, toolsets)).length + metaToolsOf("toolsets").length
  return { ...base, listed: { count, because: `PVE_TOOLSETS=${toolsets.join(",")}` } }
}

/** PVE sends flags as 0/1, sometimes as strings; anything else counts as false. */
const Flag = Schema.transform(Schema.Unknown, Schema.Boolean, {
  strict: true,
  decode: (value) => value === 1 || value === "1" || value === true,
  encode: (flag) => (flag ? 1 : 0),
})

/** `/cluster/status` rows, leniently: extra fields ignored, rows of other types kept apart. */
const ClusterStatus = Schema.Array(
  Schema.Struct({
    type: Schema.String,
    name: Schema.optional(Schema.String),
    online: Schema.optional(Flag),
    quorate: Schema.optional(Flag),
  }),
)

/** `/nodes` rows: the fallback when the token may not read `/cluster/status` (Sys.Audit on /). */
const NodeIndex = Schema.Array(Schema.Struct({ node: Schema.String, status: Schema.optional(Schema.String) }))

export interface ClusterSummary {
  /** The cluster's name; undefined for a standalone node, or when it could not be read. */
  readonly name?: string
  readonly quorate: boolean
  readonly nodes: ReadonlyArray<{ readonly name: string; readonly online: boolean }>
  /** Why part of the picture is missing (e.g. the token may not read /cluster/status). */
  readonly note?: string
}

/** The answer was not what PVE sends: reported like a failure, never thrown. */
class ApiShapeError extends Schema.TaggedError<ApiShapeError>()("ApiShapeError", {
  message: Schema.String,
}) {
  get failure() {
    return { code: "PROXMOX_INVALID_RESPONSE", message: this.message }
  }
}

const unexpected = (path: string) => () =>
  new ApiShapeError({ message: `GET ${path} returned an unexpected answer` })

type ProbeError = ApiError | ApiShapeError

const clusterStatus = Effect.flatMap(ProxmoxApi, (api) =>
  api.request({ method: "GET", path: "/cluster/status" }),
).pipe(
  Effect.flatMap((data) =>
    Schema.decodeUnknown(ClusterStatus)(data).pipe(Effect.mapError(unexpected("/cluster/status"))),
  ),
  Effect.map((rows): ClusterSummary => {
    const cluster = rows.find((row) => row.type === "cluster")
    return {
      ...(cluster?.name === undefined ? {} : { name: cluster.name }),
      // A standalone node has no cluster row and no quorum to lose.
      quorate: cluster === undefined || cluster.quorate === true,
      nodes: rows
        .filter((row) => row.type === "node" && row.name !== undefined)
        .map((row) => ({ name: row.name!, online: row.online === true })),
    }
  }),
)

const nodeIndex = Effect.flatMap(ProxmoxApi, (api) => api.request({ method: "GET", path: "/nodes" })).pipe(
  Effect.flatMap((data) => Schema.decodeUnknown(NodeIndex)(data).pipe(Effect.mapError(unexpected("/nodes")))),
  Effect.map(
    (rows): ClusterSummary => ({
      quorate: true,
      nodes: rows.map((row) => ({ name: row.node, online: row.status === "online" })),
      note: "cluster name and quorum not shown: the token lacks Sys.Audit on /",
    }),
  ),
)

/** The cluster as the configured token sees it. */
export const probeCluster: Effect.Effect<ClusterSummary, ProbeError, ProxmoxApi> = Effect.catchIf(
  clusterStatus,
  (error) => error._tag === "ProxmoxError" && error.code === "PROXMOX_ACL_FORBIDDEN",
  () => nodeIndex,
)

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? "" : "s"}`

const servedPart = (facts: ServedFacts) =>
  `tier ${facts.tier}, ${plural(facts.tools, "tool")}` +
  (facts.listed === undefined ? "" : ` (${facts.listed.count} listed at first: ${facts.listed.because})`) +
  `, audit ${facts.auditPath}`

/** The one line: cluster, nodes, tier, tools, audit path. */
export const startLine = (summary: ClusterSummary, facts: ServedFacts): string => {
  // Names come from Proxmox: shown without control characters (no escape sequence reaches the
  // terminal), each capped.
  const online = summary.nodes.filter((node) => node.online).map((node) => sanitize(node.name))
  const offline = summary.nodes.filter((node) => !node.online).map((node) => sanitize(node.name))
  const nodes =
    `${summary.nodes.length === 1 ? "node" : "nodes"} ${online.join(", ") || "none online"}` +
    (offline.length === 0 ? "" : `; offline: ${offline.join(", ")}`) +
    (summary.quorate ? "" : "; NO QUORUM: changes will fail")
  const what =
    summary.name !== undefined
      ? `cluster '${sanitize(summary.name)}' (${nodes})`
      : summary.note === undefined && summary.nodes.length === 1
        ? `standalone node ${sanitize(summary.nodes[0]!.name)}`
        : `Proxmox VE (${nodes}${summary.note === undefined ? "" : `; ${summary.note}`})`
  return `proxmox-mcp: serving ${what}, ${servedPart(facts)}`
}

const PROBE_TIMEOUT = Duration.seconds(10)

/** What to change when Proxmox's own hint does not say it. */
const fixFor = (code: string): string => {
  switch (code) {
    case "CONNECTION_REFUSED":
    case "HOST_UNREACHABLE":
    case "DNS_RESOLUTION_FAILED":
    case "TIMEOUT":
      return "check PROXMOX_HOST and PROXMOX_PORT (or PROXMOX_NODES): Proxmox VE's API listens on port 8006, and the name must resolve and be reachable from here"
    case "PROXMOX_AUTH_FAILED":
      return "check PROXMOX_TOKEN_ID (user@realm!token) and PROXMOX_TOKEN_SECRET"
    default:
      return "see README.md, Connect a real cluster"
  }
}

/** The warning when Proxmox does not answer: what failed, what to change, and that serving goes on. */
export const startWarning = (
  failure: { readonly code: string; readonly message: string; readonly hint?: string },
  facts: ServedFacts,
): string =>
  [
    // Proxmox's reason may be in the message: no control characters reach the terminal.
    `proxmox-mcp: WARNING: Proxmox did not answer: ${failure.code}: ${sanitize(failure.message, 500)}`,
    `proxmox-mcp: fix: ${sanitize(failure.hint ?? fixFor(failure.code), 500)}`,
    `proxmox-mcp: run \`proxmox-mcp doctor\` for a full check. Serving anyway: ${servedPart(facts)}; tool calls fail until Proxmox answers.`,
  ].join("\n")

/**
 * Probes the cluster and writes the start line (or the warning) when the terminal is
 * interactive; does nothing otherwise. Never fails: it is a courtesy beside the server.
 */
export const announceStart = (
  terminal: Terminal,
  facts: ServedFacts,
  redact: (text: string) => string,
): Effect.Effect<void, never, ProxmoxApi> =>
  terminal.interactive
    ? probeCluster.pipe(
        Effect.timeoutOption(PROBE_TIMEOUT),
        Effect.map(
          Option.match({
            onNone: () =>
              startWarning(
                {
                  code: "TIMEOUT",
                  message: `no answer within ${Duration.format(PROBE_TIMEOUT)}`,
                },
                facts,
              ),
            onSome: (summary) => startLine(summary, facts),
          }),
        ),
        Effect.catchAll((error) => Effect.succeed(startWarning(error.failure, facts))),
        Effect.flatMap((text) => Effect.sync(() => terminal.write(`${redact(text)}\n`))),
      )
    : Effect.void
