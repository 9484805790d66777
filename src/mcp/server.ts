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
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import {
  CallToolRequestSchema,
  type CallToolResult,
  ElicitResultSchema,
  ErrorCode,
  isJSONRPCNotification,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  type Tool as McpTool,
  type RequestId,
  SetLevelRequestSchema,
} from "@modelcontextprotocol/sdk/types.js"
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv-provider.js"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import { Audit, type AuditWriteError } from "../audit/port.js"
import type { Principal } from "../domain/principal.js"
import { type Elicit, Policy } from "../policy/policy.js"
import { ToolCall } from "../tools/call.js"
import { type BuiltinTool, Catalog, type CatalogEntry } from "../tools/catalog.js"
import { annotationsOf, descriptionOf, isDeprecated, listedInputSchema, metaOf } from "../tools/describe.js"
import type { Envelope } from "../tools/envelope.js"
import { type InvokeServices, invoke } from "../tools/invoke.js"
import type { Tool } from "../tools/tool.js"

export const SERVER_NAME = "proxmox-mcp"

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
  content: [{ type: "text", text: JSON.stringify(envelope) }],
  structuredContent: { ...envelope },
  ...(envelope.ok ? {} : { isError: true }),
})

/** The form shown to the human: one checkbox, so an accidental "accept" of an empty form is not consent. */
const CONFIRMATION_SCHEMA = {
  type: "object",
  properties: {
    confirm: {
      type: "boolean",
      title: "Run this operation",
      description: "Tick to allow the operation described above.",
      default: false,
    },
  },
  required: ["confirm"],
} as const

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
  if (!isJSONRPCNotification(message) || message.method !== "notifications/cancelled") return undefined
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
    const fork = yield* FiberSet.runtime(calls)<ServerServices>()
    const servers = new Set<Server>()
    // One validator for every connection: the SDK builds an Ajv instance per Server otherwise
    // (about half a megabyte for each HTTP session).
    const jsonSchemaValidator = new AjvJsonSchemaValidator()
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

    const serve = (transport: Transport, connection: Connection) =>
      Effect.gen(function* () {
        const closed = yield* Deferred.make<void>()
        const clientCancelled = new Set<RequestId>()
        const server = new Server(
          { name: SERVER_NAME, version: options.version },
          {
            // Logging: clients may set a level (the server logs to stderr, not to the client).
            // Prompts and resources: none yet, declared so clients and the conformance suite can list them.
            capabilities: { tools: { listChanged: false }, logging: {}, prompts: {}, resources: {} },
            ...(options.instructions === undefined ? {} : { instructions: options.instructions }),
            jsonSchemaValidator,
          },
        )

        server.setRequestHandler(SetLevelRequestSchema, () => ({}))
        server.setRequestHandler(ListPromptsRequestSchema, () => ({ prompts: [] }))
        server.setRequestHandler(ListResourcesRequestSchema, () => ({ resources: [] }))

        server.setRequestHandler(ListToolsRequestSchema, (_request, extra) => {
          const principal = connection.principalOf(extra)
          return {
            tools: catalog.entries
              .filter(
                (entry) =>
                  (options.listAliases === true || !isDeprecated(entry)) &&
                  policy.hiddenBy(entry, principal) === undefined,
              )
              .map(listing),
          }
        })

        server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
          if (closing)
            throw new McpError(ErrorCode.InternalError, "The server is shutting down and takes no new calls.")
          // Cancelled before it started: nothing runs, and the SDK sends no answer.
          if (extra.signal.aborted) {
            clientCancelled.delete(extra.requestId)
            throw new McpError(ErrorCode.RequestTimeout, "Request was cancelled")
          }
          const principal = connection.principalOf(extra)
          const name = request.params.name
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
                    ...(request.params.arguments === undefined ? {} : { args: request.params.arguments }),
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

          const progressToken = request.params._meta?.progressToken
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
          const fiber = fork(
            invoke(entry, request.params.arguments ?? {}, { maxResultBytes: options.maxResultBytes }).pipe(
              Effect.provideService(ToolCall, call),
              Effect.annotateLogs({ tool: entry.name, principal: principal.sub }),
            ),
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
