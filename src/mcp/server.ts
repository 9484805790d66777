/**
 * The MCP adapter: the only code that imports `@modelcontextprotocol/sdk` (with `stdio.ts`).
 *
 * `McpServer` is a scoped service. Its layer records `server.start`, holds the running calls in
 * a `FiberSet` (each call is a fiber forked with the runtime captured once), and on release
 * stops taking calls, lets running ones finish within the grace period, cancels the rest
 * without stopping their Proxmox tasks, and records `server.stop`. `serve` binds one
 * connection (a transport) until it closes; every connection shares the server's state
 * (Proxmox client, caches, audit), and the principal comes with each request.
 *
 * Only a client's `notifications/cancelled` is a cancellation (which stops the Proxmox task the
 * call started): a transport that closes, for whatever reason, is a disconnect, and running
 * calls finish.
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js"
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import {
  CallToolRequestSchema,
  type CallToolResult,
  type ElicitRequest,
  ElicitResultSchema,
  ErrorCode,
  GetPromptRequestSchema,
  isJSONRPCNotification,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  type Tool as McpTool,
  type RequestId,
  type ServerNotification,
  type ServerRequest,
  SetLevelRequestSchema,
} from "@modelcontextprotocol/sdk/types.js"
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv-provider.js"
import type { jsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/types.js"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as FiberSet from "effect/FiberSet"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import { Audit, type AuditWriteError } from "../audit/port.js"
import type { ErrorCode as PublicErrorCode } from "../domain/errors.js"
import type { Principal } from "../domain/principal.js"
import { type Elicit, Policy } from "../policy/policy.js"
import { ToolCall } from "../tools/call.js"
import { type BuiltinTool, Catalog, type CatalogEntry } from "../tools/catalog.js"
import {
  annotationsOf,
  descriptionOf,
  inputJsonSchema,
  isDeprecated,
  listedInputSchema,
  metaOf,
} from "../tools/describe.js"
import { type Envelope, text as envelopeText } from "../tools/envelope.js"
import { type InvokeServices, invoke } from "../tools/invoke.js"
import type { Tool } from "../tools/tool.js"
import { type PromptDeclaration, promptArguments, prompts } from "./prompts.js"
import {
  inAnyToolset,
  inToolset,
  META_TOOLS,
  metaToolListing,
  metaToolsOf,
  search,
  TOOLSET_NAMES,
  type ToolMode,
} from "./surface.js"

export const SERVER_NAME = "proxmox-mcp"

type RequestExtra = RequestHandlerExtra<ServerRequest, ServerNotification>

export interface McpServerOptions {
  readonly version: string
  readonly maxResultBytes: number
  /** List NANDI's aliases and legacy tools too (PVE_LIST_ALIASES); they are callable either way. */
  readonly listAliases?: boolean
  readonly instructions?: string
  /** How long running calls may finish once the server stops (default 10 s). */
  readonly shutdownGrace?: Duration.DurationInput
  /** Who `server.start` and `server.stop` are recorded for (stdio: the local operator). */
  readonly operator: Principal
  /** `toolsets` (default) or `discovery`: see `surface.ts`. */
  readonly toolMode?: ToolMode
  /** The toolsets listed when a session starts (PVE_TOOLSETS); default `all`. */
  readonly toolsets?: ReadonlyArray<string>
}

/** What the server runs calls on: everything but the per-call context, which it provides. */
export type ServerServices = Exclude<InvokeServices | Catalog | Tool.Requirements<BuiltinTool>, ToolCall>

/** One connection: how to tell who sent a request on it. */
export interface Connection {
  /** stdio: the local principal; HTTP: the principal of the request's bearer token. */
  readonly principalOf: (request: { readonly authInfo?: unknown }) => Principal
}

export interface McpServerService {
  /**
   * Serves one connection until its transport closes (the client left, or the transport gave
   * up). Calls still running then finish on their own; the server's release waits for them.
   */
  readonly serve: (transport: Transport, connection: Connection) => Effect.Effect<void>
}

export class McpServer extends Context.Tag("proxmox-mcp/McpServer")<McpServer, McpServerService>() {}

const listings = new WeakMap<CatalogEntry, McpTool>()

/**
 * One entry of `tools/list`, built once. No `outputSchema`: the envelope is the same for every
 * tool and its `data` has no declared shape, so a schema would repeat ~700 bytes per tool and
 * tell a model nothing (results still carry `structuredContent`).
 */
const listing = (entry: CatalogEntry): McpTool => {
  const cached = listings.get(entry)
  if (cached !== undefined) return cached
  // The title is in `annotations` (SPEC 5); a top-level copy would only repeat it.
  const tool: McpTool = {
    name: entry.name,
    description: descriptionOf(entry),
    inputSchema: { ...listedInputSchema(entry.tool), type: "object" },
    annotations: annotationsOf(entry),
    _meta: metaOf(entry),
  }
  listings.set(entry, tool)
  return tool
}

export const toCallToolResult = (envelope: Envelope): CallToolResult => ({
  content: [{ type: "text", text: envelopeText(envelope) }],
  structuredContent: { ...envelope },
  ...(envelope.ok ? {} : { isError: true }),
})

/** The form shown to the human: one checkbox, so an accidental "accept" of an empty form is not consent. */
const CONFIRMATION_SCHEMA: Extract<ElicitRequest["params"], { requestedSchema: unknown }>["requestedSchema"] =
  {
    type: "object",
    properties: {
      confirm: {
        type: "boolean" as const,
        title: "Run this operation",
        description: "Tick to allow the operation described above.",
        default: false,
      },
    },
    required: ["confirm"],
  }

/** The longest tool name an error message repeats back. */
const MAX_ECHOED_NAME = 200

/** How long the human has to answer a confirmation before it counts as cancelled. */
const ELICITATION_TIMEOUT_MS = 10 * 60_000

/** How long cancelled calls get to write their audit records once the grace period is over. */
const CANCEL_SETTLE = Duration.seconds(15)

/**
 * Form elicitation is what a confirmation needs. A client that declared only URL-mode
 * elicitation (`{url: {}}`) cannot show a form; an empty declaration means form (MCP 2025-11-25).
 */
const supportsFormElicitation = (declared: { readonly form?: unknown; readonly url?: unknown } | undefined) =>
  declared !== undefined && (declared.form !== undefined || declared.url === undefined)

/** One macrotask: the SDK writes a handler's response in the microtasks after it resolves. */
const responsesWritten = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

const cancelledRequestOf = (message: unknown): RequestId | undefined => {
  // The method first: every message passes here, and the schema check is not free.
  if (
    typeof message !== "object" ||
    message === null ||
    !("method" in message) ||
    message.method !== "notifications/cancelled" ||
    !isJSONRPCNotification(message)
  )
    return undefined
  const requestId: unknown = message.params?.requestId
  return typeof requestId === "string" || typeof requestId === "number" ? requestId : undefined
}

export const make = (
  options: McpServerOptions,
): Effect.Effect<McpServerService, AuditWriteError, Scope.Scope | ServerServices> =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<ServerServices>()
    const runPromise = Runtime.runPromise(runtime)
    const audit = yield* Audit
    const policy = yield* Policy
    const catalog = yield* Catalog
    const operator = {
      sub: options.operator.sub,
      role: options.operator.role,
      transport: options.operator.transport,
    }
    const record = (event: "server.start" | "server.stop") =>
      audit.write({ event, principal: operator }, { durable: true })

    // An audit log that cannot be written stops the server before it serves anything.
    yield* record("server.start")

    // The calls live in a scope of their own, so that shutdown can bound the wait for them.
    const callsScope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    const calls = yield* Scope.extend(FiberSet.make<Envelope>(), callsScope)
    const runFork = Runtime.runFork(runtime)
    /**
     * One fiber per call, started with what the call needs already in place: its `ToolCall` in
     * the context and its log annotations, set as the fiber is made (no `provideService` or
     * `annotateLogs` wrapping each call), and held in the set the shutdown drains.
     */
    const forkCall = (
      effect: Effect.Effect<Envelope, never, ServerServices | ToolCall>,
      call: ToolCall["Type"],
      tool: string,
    ) => {
      // `ToolCall` is in the context `updateRefs` gives the fiber, so the effect needs nothing more.
      const fiber = runFork(effect as Effect.Effect<Envelope, never, ServerServices>, {
        updateRefs: (refs, id) =>
          FiberRefs.updateManyAs(refs, {
            forkAs: id,
            entries: [
              [FiberRef.currentContext, [[id, Context.add(runtime.context, ToolCall, call)]]],
              [
                FiberRef.currentLogAnnotations,
                [
                  [
                    id,
                    HashMap.set(
                      HashMap.set(FiberRefs.getOrDefault(refs, FiberRef.currentLogAnnotations), "tool", tool),
                      "principal",
                      call.principal.sub,
                    ),
                  ],
                ],
              ],
            ],
          }),
      })
      FiberSet.unsafeAdd(calls, fiber)
      return fiber
    }
    const servers = new Set<Server>()
    // One validator for every connection: the SDK builds an Ajv instance per Server otherwise
    // (about half a megabyte for each HTTP session). Made on first use: the SDK's server only
    // uses it for `elicitInput`, which this server does not call (it sends the request itself).
    let ajv: AjvJsonSchemaValidator | undefined
    const jsonSchemaValidator: jsonSchemaValidator = {
      getValidator: (schema) => {
        ajv ??= new AjvJsonSchemaValidator()
        return ajv.getValidator(schema)
      },
    }
    let closing = false

    // Registered after the calls' scope, so it runs first: calls are drained before anything
    // they use is released.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        closing = true
        const grace = options.shutdownGrace ?? "10 seconds"
        const drained = yield* FiberSet.awaitEmpty(calls).pipe(Effect.timeoutOption(grace))
        if (Option.isNone(drained)) {
          yield* Effect.logWarning(`calls still running after ${Duration.format(grace)} are cancelled`)
          // Interrupted by the server, not the client: the Proxmox tasks they started keep
          // running. Their audit completions get a bounded time; shutdown never hangs on them.
          yield* Scope.close(callsScope, Exit.void).pipe(Effect.timeoutOption(CANCEL_SETTLE))
        }
        yield* responsesWritten
        for (const server of servers) yield* Effect.promise(() => server.close().catch(() => undefined))
        yield* record("server.stop").pipe(
          Effect.catchAll((error) => Effect.logError(`could not audit server.stop: ${error.message}`)),
        )
      }),
    )

    const toolMode = options.toolMode ?? "toolsets"
    const metaToolNames: ReadonlySet<string> = new Set(metaToolsOf(toolMode))
    // Toolsets offered: the categories that have tools, `default` and `all`.
    const toolsetNames = TOOLSET_NAMES.filter((toolset) =>
      catalog.entries.some((entry) => inToolset(entry, toolset)),
    )
    const metaListings: ReadonlyArray<McpTool> = [...metaToolNames].map(
      (name) => metaToolListing(name, toolsetNames) as McpTool,
    )

    const serve = (transport: Transport, connection: Connection) =>
      Effect.gen(function* () {
        const closed = yield* Deferred.make<void>()
        const clientCancelled = new Set<RequestId>()
        const server = new Server(
          { name: SERVER_NAME, version: options.version },
          {
            // Logging: clients may set a level (the server logs to stderr, not to the client).
            // Resources: none yet, declared so clients and the conformance suite can list them.
            capabilities: {
              tools: { listChanged: toolMode === "toolsets" },
              prompts: { listChanged: false },
              logging: {},
              resources: {},
            },
            ...(options.instructions === undefined ? {} : { instructions: options.instructions }),
            jsonSchemaValidator,
          },
        )

        // The toolsets this session lists; pve_enable_toolset adds to them.
        const enabled = new Set(options.toolsets ?? ["all"])
        const visible = (principal: Principal) =>
          catalog.entries.filter(
            (entry) => !isDeprecated(entry) && policy.hiddenBy(entry, principal) === undefined,
          )

        server.setRequestHandler(SetLevelRequestSchema, () => ({}))
        server.setRequestHandler(ListResourcesRequestSchema, () => ({ resources: [] }))

        server.setRequestHandler(ListToolsRequestSchema, (_request, extra) => {
          const principal = connection.principalOf(extra)
          if (toolMode === "discovery") return { tools: metaListings }
          const tools = catalog.entries
            .filter(
              (entry) =>
                (options.listAliases === true || !isDeprecated(entry)) &&
                inAnyToolset(entry, enabled) &&
                policy.hiddenBy(entry, principal) === undefined,
            )
            .map(listing)
          return { tools: enabled.has("all") ? tools : [...tools, ...metaListings] }
        })

        // A prompt is offered only when every tool it names is exposed to the caller.
        const toolExposed = (principal: Principal) => (name: string) => {
          const entry = catalog.lookup(name)
          return entry !== undefined && policy.hiddenBy(entry, principal) === undefined
        }
        const promptExposed = (prompt: PromptDeclaration, principal: Principal) =>
          prompt.tools.every(toolExposed(principal))

        server.setRequestHandler(ListPromptsRequestSchema, (_request, extra) => {
          const principal = connection.principalOf(extra)
          return {
            prompts: prompts
              .filter((prompt) => promptExposed(prompt, principal))
              .map((prompt) => ({
                name: prompt.name,
                title: prompt.title,
                description: prompt.description,
                arguments: prompt.arguments.map(({ name, description, required }) => ({
                  name,
                  description,
                  required,
                })),
              })),
          }
        })

        server.setRequestHandler(GetPromptRequestSchema, (request, extra) => {
          const principal = connection.principalOf(extra)
          const prompt = prompts.find((p) => p.name === request.params.name)
          if (prompt === undefined || !promptExposed(prompt, principal))
            throw new McpError(
              ErrorCode.InvalidParams,
              `Unknown prompt: ${request.params.name.slice(0, MAX_ECHOED_NAME)}`,
            )
          const parsed = promptArguments(prompt, request.params.arguments)
          const exposed = toolExposed(principal)
          if ("problem" in parsed)
            throw new McpError(ErrorCode.InvalidParams, `Invalid arguments: ${parsed.problem}`)
          return {
            description: prompt.description,
            messages: [
              {
                role: "user" as const,
                content: { type: "text" as const, text: prompt.text(parsed.values, exposed) },
              },
            ],
          }
        })

        /** A catalog tool called by name, directly or through pve_call_tool: one path for both. */
        const callNamed = async (
          name: string,
          args: Record<string, unknown> | undefined,
          progressToken: string | number | undefined,
          extra: RequestExtra,
        ): Promise<CallToolResult> => {
          const principal = connection.principalOf(extra)
          const entry = catalog.lookup(name)
          const hiddenBy = entry === undefined ? "unknown" : policy.hiddenBy(entry, principal)
          if (entry === undefined || hiddenBy !== undefined) {
            if (entry !== undefined) {
              // A hidden tool answers exactly like an unknown one, but the refusal is audited.
              await runPromise(
                audit
                  .write({
                    event: "policy.denied",
                    principal: { sub: principal.sub, role: principal.role, transport: principal.transport },
                    tool: name,
                    ...(entry.aliasFor === undefined ? {} : { aliasOf: entry.aliasFor }),
                    ...(args === undefined ? {} : { args }),
                    decision: "denied",
                    ...(hiddenBy === undefined ? {} : { rule: hiddenBy }),
                    outcome: { ok: false, code: "FORBIDDEN" },
                  })
                  .pipe(Effect.ignore),
              )
            }
            // MCP 2025-11-25: an unknown tool is a protocol error. A name is echoed only in part:
            // a client's megabytes come back as a few hundred characters.
            const shown =
              name.length > MAX_ECHOED_NAME
                ? `${name.slice(0, MAX_ECHOED_NAME)}… (${name.length} characters)`
                : name
            throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${shown}`)
          }

          const elicit: Elicit | undefined = !supportsFormElicitation(
            server.getClientCapabilities()?.elicitation,
          )
            ? undefined
            : (confirmation) =>
                Effect.tryPromise((signal) =>
                  extra.sendRequest(
                    {
                      method: "elicitation/create",
                      params: { message: confirmation.message, requestedSchema: CONFIRMATION_SCHEMA },
                    },
                    ElicitResultSchema,
                    // A human may take a while; cancelling the call withdraws the question.
                    { timeout: ELICITATION_TIMEOUT_MS, signal },
                  ),
                ).pipe(
                  Effect.map((result) =>
                    result.action === "accept"
                      ? result.content?.confirm === true
                        ? "accept"
                        : "decline"
                      : result.action,
                  ),
                  // A client that fails to answer has not confirmed.
                  Effect.orElseSucceed(() => "cancel" as const),
                )
          let cancelledByClient = false
          const call = ToolCall.of({
            principal,
            cancelStopsTask: () => cancelledByClient,
            ...(elicit === undefined ? {} : { elicit }),
            progress: (update) =>
              progressToken === undefined
                ? Effect.void
                : Effect.tryPromise(() =>
                    extra.sendNotification({
                      method: "notifications/progress",
                      params: { progressToken, ...update },
                    }),
                  ).pipe(Effect.ignore),
          })
          const fiber = forkCall(
            invoke(entry, args ?? {}, { maxResultBytes: options.maxResultBytes }),
            call,
            entry.name,
          )
          // The SDK aborts a request both for notifications/cancelled and when the transport
          // closes; only the first is the client cancelling the call.
          const onAbort = () => {
            if (!clientCancelled.delete(extra.requestId)) return
            cancelledByClient = true
            fiber.unsafeInterruptAsFork(FiberId.none)
          }
          extra.signal.addEventListener("abort", onAbort, { once: true })
          const exit = await new Promise<Exit.Exit<Envelope>>((resolve) => fiber.addObserver(resolve))
          extra.signal.removeEventListener("abort", onAbort)
          // Request ids may be reused: a stale mark must not turn a later disconnect into a cancel.
          clientCancelled.delete(extra.requestId)
          if (Exit.isSuccess(exit)) return toCallToolResult(exit.value)
          if (!Cause.isInterruptedOnly(exit.cause))
            throw new McpError(ErrorCode.InternalError, "internal error")
          // Cancelled: the SDK sends no response to a cancelled request; this is for completeness.
          return toCallToolResult({
            ok: false,
            error: { code: "CANCELLED", message: "The call was cancelled by the client." },
            meta: { durationMs: 0 },
          })
        }

        /** The server's own tools: enable a toolset; search, describe and call in discovery mode. */
        const callMeta = async (
          name: string,
          args: Record<string, unknown>,
          progressToken: string | number | undefined,
          extra: RequestExtra,
        ): Promise<CallToolResult> => {
          const principal = connection.principalOf(extra)
          const answer = (data: unknown) => toCallToolResult({ ok: true, data, meta: { durationMs: 0 } })
          const refuse = (code: PublicErrorCode, message: string) =>
            toCallToolResult({ ok: false, error: { code, message }, meta: { durationMs: 0 } })
          const text = (key: string) => (typeof args[key] === "string" ? (args[key] as string) : undefined)
          switch (name) {
            case META_TOOLS.enable: {
              const toolset = text("toolset")
              if (toolset === undefined || !TOOLSET_NAMES.includes(toolset))
                return refuse("INVALID_INPUT", `toolset: expected one of ${toolsetNames.join(", ")}`)
              const added = visible(principal).filter((entry) => inToolset(entry, toolset))
              if (added.length === 0)
                return refuse(
                  "FORBIDDEN",
                  `the toolset ${toolset} has no tool you may use (tier, PVE_CATEGORIES and the other rules decide)`,
                )
              enabled.add(toolset)
              await server.sendToolListChanged().catch(() => undefined)
              return answer({ toolset, enabled: [...enabled], tools: added.map((entry) => entry.name) })
            }
            case META_TOOLS.search: {
              const query = text("query")
              const category = text("category")
              const limit = typeof args.limit === "number" && Number.isInteger(args.limit) ? args.limit : 10
              if (query === undefined) return refuse("INVALID_INPUT", "query: a string is required")
              if (limit < 1 || limit > 50) return refuse("INVALID_INPUT", "limit: an integer 1..50")
              return answer(
                search(visible(principal), query, { limit, ...(category === undefined ? {} : { category }) }),
              )
            }
            case META_TOOLS.describe: {
              const wanted = text("name") ?? ""
              const entry = catalog.lookup(wanted)
              if (entry === undefined || policy.hiddenBy(entry, principal) !== undefined)
                return refuse(
                  "UNKNOWN_TOOL",
                  `no tool ${wanted.slice(0, MAX_ECHOED_NAME)} (find names with pve_search_tools)`,
                )
              return answer({
                name: entry.name,
                description: descriptionOf(entry),
                inputSchema: inputJsonSchema(entry.tool),
                annotations: annotationsOf(entry),
                _meta: metaOf(entry),
              })
            }
            default: {
              const wanted = text("name")
              const inner = args.arguments
              if (wanted === undefined) return refuse("INVALID_INPUT", "name: a string is required")
              if (
                inner !== undefined &&
                (typeof inner !== "object" || inner === null || Array.isArray(inner))
              )
                return refuse("INVALID_INPUT", "arguments: an object is required")
              if (metaToolNames.has(wanted))
                return refuse("INVALID_INPUT", `${wanted} cannot be called through itself`)
              try {
                return await callNamed(
                  wanted,
                  inner as Record<string, unknown> | undefined,
                  progressToken,
                  extra,
                )
              } catch (error) {
                // An unknown (or hidden) name is a protocol error when called directly; here the
                // model gets a result it can act on.
                if (error instanceof McpError && error.code === ErrorCode.InvalidParams)
                  return refuse(
                    "UNKNOWN_TOOL",
                    `${error.message.replace(/^MCP error -?\d+: /, "")} (find names with pve_search_tools)`,
                  )
                throw error
              }
            }
          }
        }

        server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
          if (closing)
            throw new McpError(ErrorCode.InternalError, "The server is shutting down and takes no new calls.")
          // Cancelled before it started: nothing runs, and the SDK sends no answer.
          if (extra.signal.aborted) {
            clientCancelled.delete(extra.requestId)
            throw new McpError(ErrorCode.RequestTimeout, "Request was cancelled")
          }
          const name = request.params.name
          const progressToken = request.params._meta?.progressToken
          return metaToolNames.has(name)
            ? callMeta(name, request.params.arguments ?? {}, progressToken, extra)
            : callNamed(name, request.params.arguments, progressToken, extra)
        })

        // Set before connecting: the SDK calls these first, before it aborts the running
        // requests (on close) or one of them (on a cancel notification).
        transport.onclose = () => Deferred.unsafeDone(closed, Exit.void)
        transport.onmessage = (message) => {
          const cancelled = cancelledRequestOf(message)
          if (cancelled !== undefined) clientCancelled.add(cancelled)
        }
        servers.add(server)
        yield* Effect.promise(() => server.connect(transport))
        yield* Deferred.await(closed)
        servers.delete(server)
      })

    return McpServer.of({ serve })
  })

export const layer = (options: McpServerOptions): Layer.Layer<McpServer, AuditWriteError, ServerServices> =>
  Layer.scoped(McpServer, make(options))
