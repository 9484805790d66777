/**
 * One declaration per tool. Everything public about a tool (MCP listing, JSON Schema,
 * annotations, `_meta`, policy, the `tools` CLI, docs) is derived from its `ToolDeclaration`.
 */
import { Context, type Effect, JSONSchema, Schema } from "effect"
import type { ToolError } from "../domain/errors.js"
import { type Category, IntegerInput, type Module, type Tier } from "../domain/ids.js"
import type { Principal } from "../domain/principal.js"
import type { Elicit } from "../policy/policy.js"
import type { HttpMethod, ProxmoxApi } from "../proxmox/api.js"
import type { NodeRegistry } from "../proxmox/registry.js"
import type { Tasks } from "../proxmox/tasks.js"

export interface EndpointRef {
  readonly method: HttpMethod
  /** PVE path template without `/api2/json`. */
  readonly path: string
}

/** What a tool's program returns; `node`, `upid` and `warnings` go to the result's `meta`. */
export interface ToolOutput {
  readonly data: unknown
  readonly node?: string
  readonly upid?: string
  readonly warnings?: ReadonlyArray<string>
}

/** The request-scoped context of one call, provided by the transport adapter. */
export interface ToolCallService {
  /** Who is calling (stdio: the local principal). */
  readonly principal: Principal
  /** Asks the human to confirm, when the client supports it (MCP elicitation). */
  readonly elicit?: Elicit
  /**
   * Whether an interruption of this call is the client cancelling it, so the Proxmox task the
   * call started is stopped. False when the server is shutting down or the client went away:
   * the task then keeps running. Default: true.
   */
  readonly cancelStopsTask?: () => boolean
  /** Sends a progress notification when the client asked for progress; otherwise does nothing. */
  readonly progress: (update: {
    readonly progress: number
    readonly total?: number
    readonly message: string
  }) => Effect.Effect<void>
}

export class ToolCall extends Context.Tag("proxmox-mcp/ToolCall")<ToolCall, ToolCallService>() {}

export type ToolServices = ProxmoxApi | NodeRegistry | Tasks | ToolCall

export interface ToolDeclaration<Fields extends Schema.Struct.Fields = Schema.Struct.Fields> {
  readonly name: string
  readonly title: string
  /** When to use it and what it returns. */
  readonly description: string
  readonly category: Category
  readonly tier: Tier
  readonly module: Module
  readonly destructive: boolean
  /** Needs a confirmation before anything is sent (NANDI `confirm=true`). */
  readonly confirm: boolean
  readonly idempotent: boolean
  /** Flat input fields; every field carries a description annotation. */
  readonly input: Fields
  readonly endpoints: ReadonlyArray<EndpointRef>
  readonly ssh: null | { readonly command: string }
  /** Starts a Proxmox task: the tool returns `{upid, node}` and accepts `wait` / `timeoutSeconds`. */
  readonly startsTask: boolean
  /** What confirming means, shown to the human and in `CONFIRMATION_REQUIRED`. */
  readonly impact?: string
  /** Legacy names kept for compatibility (e.g. NANDI's `listVMs`). */
  readonly deprecated?: boolean
  readonly run: (input: Schema.Struct.Type<Fields>) => Effect.Effect<ToolOutput, ToolError, ToolServices>
}

export interface AliasDeclaration {
  readonly name: string
  readonly aliasFor: string
}

export const DEFAULT_WAIT_SECONDS = 300

/** How long to wait for a task; `lead` starts the description ("Give up waiting"). */
export const waitTimeoutField = (lead: string) =>
  Schema.optional(
    IntegerInput({
      minimum: 1,
      maximum: 3600,
      description: `${lead} after this many seconds (default ${DEFAULT_WAIT_SECONDS}); the task keeps running.`,
    }),
  )

/** Fields every task-starting tool accepts. */
export const taskFields = {
  wait: Schema.optional(
    Schema.Boolean.annotations({
      description:
        "Wait for the Proxmox task to finish and return its exit status and log tail (progress notifications are sent while waiting). Default false: return the task UPID at once.",
    }),
  ),
  timeoutSeconds: waitTimeoutField("With wait: give up waiting"),
}

export const confirmField = {
  confirm: Schema.optional(
    Schema.Boolean.annotations({
      description:
        "Set to true to confirm this state-changing operation after checking its target and impact.",
    }),
  ),
}

/** The input fields as exposed: declared fields plus the task and confirm fields. */
export const exposedFields = (tool: ToolDeclaration): Schema.Struct.Fields => ({
  ...tool.input,
  ...(tool.startsTask ? taskFields : {}),
  ...(tool.confirm ? confirmField : {}),
})

export const inputSchema = (tool: ToolDeclaration) => Schema.Struct(exposedFields(tool))

type JsonObject = Record<string, unknown>

/**
 * The MCP input schema: root `type: "object"`, flat properties, no `$schema`, no root `anyOf`
 * (clients such as Claude Desktop drop tools whose root is not a plain object).
 */
export const inputJsonSchema = (tool: ToolDeclaration): JsonObject => {
  const generated = JSONSchema.make(inputSchema(tool)) as unknown as JsonObject
  const { $schema: _schema, $defs: _defs, ...rest } = generated
  // Effect names refinements in `title` ("maxLength(63)"): noise for a model, so drop it.
  const properties = Object.fromEntries(
    Object.entries((rest.properties ?? {}) as Record<string, JsonObject>).map(
      ([key, { title: _title, ...property }]) => [key, property],
    ),
  )
  return {
    type: "object",
    properties,
    ...(Array.isArray(rest.required) && rest.required.length > 0 ? { required: rest.required } : {}),
    additionalProperties: false,
  }
}

/** The one output schema every tool shares: the result envelope of SPEC section 5. */
export const outputJsonSchema: JsonObject = {
  type: "object",
  properties: {
    ok: { type: "boolean", description: "true on success, false when the call failed" },
    data: { description: "The tool's result (on success)" },
    error: {
      type: "object",
      description: "What went wrong (on failure)",
      properties: {
        code: { type: "string" },
        message: { type: "string" },
        hint: { type: "string" },
        impact: { type: "string" },
        details: { type: "object" },
      },
      required: ["code", "message"],
    },
    meta: {
      type: "object",
      description: "durationMs always; node, upid, warnings, truncated when they apply",
      properties: {
        durationMs: { type: "number" },
        node: { type: "string" },
        upid: { type: "string" },
        warnings: { type: "array", items: { type: "string" } },
        truncated: { type: "boolean" },
      },
      required: ["durationMs"],
    },
  },
  required: ["ok", "meta"],
}

/** Declares a tool with the defaults most tools share. */
export const defineTool = <Fields extends Schema.Struct.Fields>(
  declaration: Omit<ToolDeclaration<Fields>, "ssh" | "startsTask" | "module" | "idempotent"> &
    Partial<Pick<ToolDeclaration<Fields>, "ssh" | "startsTask" | "module" | "idempotent">>,
): ToolDeclaration =>
  ({
    ssh: null,
    startsTask: false,
    module: "core",
    idempotent: declaration.tier === "read-only",
    ...declaration,
  }) as unknown as ToolDeclaration
