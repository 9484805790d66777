/**
 * The MCP adapter: the only module that imports `@modelcontextprotocol/sdk`. It binds the
 * catalog to a low-level SDK `Server` (Effect Schema stays the single source of truth for input
 * schemas), runs each call as an Effect on one `ManagedRuntime` with the call's AbortSignal, so
 * a cancelled request interrupts the fiber, turns progress into MCP notifications, and asks the
 * human through elicitation when the policy needs a confirmation.
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import {
  CallToolRequestSchema,
  type CallToolResult,
  ElicitResultSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type Tool as McpTool,
} from "@modelcontextprotocol/sdk/types.js"
import { Effect, Exit, type ManagedRuntime } from "effect"
import { Audit } from "../audit/port.js"
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
  /** The caller on this connection (stdio: the local principal). */
  readonly principal: Principal
  readonly maxResultBytes: number
  /** List NANDI's aliases and legacy tools too (PVE_LIST_ALIASES); they are callable either way. */
  readonly listAliases?: boolean
  readonly instructions?: string
}

/** What the server runs calls on: everything but the per-call context, which it provides. */
export type ToolRuntime = ManagedRuntime.ManagedRuntime<
  Exclude<InvokeServices | Catalog | Tool.Requirements<BuiltinTool>, ToolCall>,
  unknown
>

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

export interface McpHandle {
  readonly server: Server
  /**
   * Stops taking tool calls, lets running ones finish for up to `graceMs`, then cancels the rest
   * without stopping the Proxmox tasks they started; resolves when no call is running, with
   * whether all finished in time. Used on SIGTERM/SIGINT and when the client goes away.
   */
  readonly shutdown: (graceMs: number) => Promise<boolean>
}

/** How long the human has to answer a confirmation before it counts as cancelled. */
const ELICITATION_TIMEOUT_MS = 10 * 60_000

/**
 * Form elicitation is what a confirmation needs. A client that declared only URL-mode
 * elicitation (`{url: {}}`) cannot show a form; an empty declaration means form (MCP 2025-11-25).
 */
const supportsFormElicitation = (declared: { readonly form?: unknown; readonly url?: unknown } | undefined) =>
  declared !== undefined && (declared.form !== undefined || declared.url === undefined)

/** How long cancelled calls get to write their audit records once the grace period is over. */
const CANCEL_SETTLE_MS = 15_000

export const makeMcpServer = (runtime: ToolRuntime, options: McpServerOptions): McpHandle => {
  let closing = false
  const running = new Set<AbortController>()
  const idle = new Set<() => void>()
  const whenIdle = (timeoutMs: number) =>
    running.size === 0
      ? Promise.resolve(true)
      : new Promise<boolean>((resolve) => {
          const done = () => {
            clearTimeout(timer)
            idle.delete(done)
            resolve(true)
          }
          const timer = setTimeout(() => {
            idle.delete(done)
            resolve(false)
          }, timeoutMs)
          idle.add(done)
        })

  const server = new Server(
    { name: SERVER_NAME, version: options.version },
    {
      capabilities: { tools: { listChanged: false } },
      ...(options.instructions === undefined ? {} : { instructions: options.instructions }),
    },
  )

  const services = runtime.runPromise(Effect.all({ policy: Policy, catalog: Catalog }))

  server.setRequestHandler(ListToolsRequestSchema, async () => {
    const { policy, catalog } = await services
    return {
      tools: catalog.entries
        .filter(
          (entry) =>
            (options.listAliases === true || !isDeprecated(entry)) &&
            policy.hiddenBy(entry, options.principal) === undefined,
        )
        .map(listing),
    }
  })

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    if (closing)
      throw new McpError(ErrorCode.InternalError, "The server is shutting down and takes no new calls.")
    const name = request.params.name
    const { policy, catalog } = await services
    const entry = catalog.lookup(name)
    const hiddenBy = entry === undefined ? "unknown" : policy.hiddenBy(entry, options.principal)
    if (entry === undefined || hiddenBy !== undefined) {
      if (entry !== undefined) {
        // A hidden tool answers exactly like an unknown one, but the refusal is audited.
        await runtime.runPromise(
          Effect.flatMap(Audit, (audit) =>
            audit.write({
              event: "policy.denied",
              principal: {
                sub: options.principal.sub,
                role: options.principal.role,
                transport: options.principal.transport,
              },
              tool: name,
              ...(entry.aliasFor === undefined ? {} : { aliasOf: entry.aliasFor }),
              ...(request.params.arguments === undefined ? {} : { args: request.params.arguments }),
              decision: "denied",
              ...(hiddenBy === undefined ? {} : { rule: hiddenBy }),
              outcome: { ok: false, code: "FORBIDDEN" },
            }),
          ).pipe(Effect.ignore),
        )
      }
      // MCP 2025-11-25: an unknown tool is a protocol error.
      throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`)
    }

    const progressToken = request.params._meta?.progressToken
    const elicit: Elicit | undefined = !supportsFormElicitation(server.getClientCapabilities()?.elicitation)
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
    // The SDK aborts a call both for notifications/cancelled and when the connection closes.
    // Only the first is the client cancelling (which stops the Proxmox task the call started).
    const controller = new AbortController()
    let cancelledByClient = false
    const onAbort = () => {
      if (closing) return
      cancelledByClient = true
      controller.abort()
    }
    extra.signal.addEventListener("abort", onAbort, { once: true })
    const call = ToolCall.of({
      principal: options.principal,
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
    const program = invoke(entry, request.params.arguments ?? {}, {
      maxResultBytes: options.maxResultBytes,
    }).pipe(
      Effect.provideService(ToolCall, call),
      Effect.annotateLogs({ tool: entry.name, principal: options.principal.sub }),
    )
    running.add(controller)
    const exit = await runtime.runPromiseExit(program, { signal: controller.signal }).finally(() => {
      extra.signal.removeEventListener("abort", onAbort)
      // Counted as done only after this handler has returned and the SDK has sent the response
      // (a macrotask later), so a shutdown never closes the transport under an unsent answer.
      setImmediate(() => {
        running.delete(controller)
        if (running.size === 0) for (const resolve of idle) resolve()
      })
    })
    if (Exit.isSuccess(exit)) return toCallToolResult(exit.value)
    // Only interruption ends here (invoke turns failures into envelopes): the client cancelled,
    // and the SDK sends no response to a cancelled request.
    return toCallToolResult({
      ok: false,
      error: { code: "CANCELLED", message: "The call was cancelled by the client." },
      meta: { durationMs: 0 },
    })
  })

  const shutdown = async (graceMs: number) => {
    closing = true
    const finished = await whenIdle(graceMs)
    if (!finished) {
      for (const controller of running) controller.abort()
      await whenIdle(CANCEL_SETTLE_MS)
    }
    return finished
  }

  return { server, shutdown }
}

/**
 * Serves on stdin/stdout until the server is closed. When the client closes stdin, `onEnd` runs
 * (the caller shuts down gracefully and closes the server).
 */
export const serveStdio = async (server: Server, onEnd: () => void): Promise<void> => {
  const closed = new Promise<void>((resolve) => {
    server.onclose = () => resolve()
  })
  process.stdin.once("end", onEnd)
  await server.connect(new StdioServerTransport())
  await closed
}
