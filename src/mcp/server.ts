/**
 * The MCP adapter: the only module that imports `@modelcontextprotocol/sdk`. It binds the
 * catalog to a low-level SDK `Server` (Effect Schema stays the single source of truth for input
 * schemas), runs each call as an Effect on one `ManagedRuntime` with the call's AbortSignal, so
 * a cancelled request interrupts the fiber, and turns progress into MCP notifications.
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js"
import { Effect, Exit, type ManagedRuntime } from "effect"
import type { CatalogEntry } from "../tools/catalog.js"
import { annotationsOf, descriptionOf, metaOf } from "../tools/describe.js"
import { type Envelope, invoke } from "../tools/invoke.js"
import { inputJsonSchema, outputJsonSchema, ToolCall, type ToolServices } from "../tools/tool.js"

export const SERVER_NAME = "proxmox-mcp"

export interface McpServerOptions {
  readonly version: string
  /** The entries this server exposes; anything else answers as an unknown tool. */
  readonly exposed: ReadonlyArray<CatalogEntry>
  readonly maxResultBytes: number
  readonly instructions?: string
}

export type ToolRuntime = ManagedRuntime.ManagedRuntime<Exclude<ToolServices, ToolCall>, unknown>

const listing = (entry: CatalogEntry): Tool =>
  ({
    name: entry.name,
    title: entry.tool.title,
    description: descriptionOf(entry),
    inputSchema: inputJsonSchema(entry.tool),
    outputSchema: outputJsonSchema,
    annotations: annotationsOf(entry),
    _meta: metaOf(entry),
  }) as Tool

export const toCallToolResult = (envelope: Envelope): CallToolResult => ({
  content: [{ type: "text", text: JSON.stringify(envelope) }],
  structuredContent: envelope as unknown as Record<string, unknown>,
  ...(envelope.ok ? {} : { isError: true }),
})

export const makeMcpServer = (runtime: ToolRuntime, options: McpServerOptions): Server => {
  const server = new Server(
    { name: SERVER_NAME, version: options.version },
    {
      capabilities: { tools: { listChanged: false } },
      ...(options.instructions === undefined ? {} : { instructions: options.instructions }),
    },
  )
  const exposed = new Map(options.exposed.map((entry) => [entry.name, entry]))
  const tools = options.exposed.map(listing)

  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools }))

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const entry = exposed.get(request.params.name)
    // MCP 2025-11-25: an unknown tool is a protocol error. Hidden tools look exactly the same.
    if (entry === undefined)
      throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${request.params.name}`)
    const progressToken = request.params._meta?.progressToken
    const call = ToolCall.of({
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
    const program = invoke(entry.tool, request.params.arguments ?? {}, {
      maxResultBytes: options.maxResultBytes,
    }).pipe(Effect.provideService(ToolCall, call), Effect.annotateLogs({ tool: entry.name }))
    const exit = await runtime.runPromiseExit(program, { signal: extra.signal })
    if (Exit.isSuccess(exit)) return toCallToolResult(exit.value)
    // Only interruption ends here (invoke catches failures and defects): the client cancelled,
    // and the SDK sends no response to a cancelled request.
    return toCallToolResult({
      ok: false,
      error: { code: "CANCELLED", message: "The call was cancelled by the client." },
      meta: { durationMs: 0 },
    })
  })

  return server
}

/** Serves on stdin/stdout; resolves when the client closes the stream. */
export const serveStdio = async (server: Server): Promise<void> => {
  const closed = new Promise<void>((resolve) => {
    server.onclose = () => resolve()
    process.stdin.once("end", () => resolve())
  })
  await server.connect(new StdioServerTransport())
  await closed
  await server.close()
}
