/**
 * MCP over stdin/stdout: one connection, the local principal. Served until the client closes
 * stdin or the transport gives up (e.g. a message over the SDK's 10 MiB line cap); either way
 * it is a disconnect, and running calls finish while the server shuts down.
 */
import type { Readable, Writable } from "node:stream"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import * as Effect from "effect/Effect"
import { LOCAL_PRINCIPAL } from "../domain/principal.js"
import { McpServer } from "./server.js"

export const serveStdio = (
  stdin: Readable = process.stdin,
  stdout: Writable = process.stdout,
): Effect.Effect<void, never, McpServer> =>
  Effect.flatMap(McpServer, (mcp) =>
    Effect.suspend(() => {
      const transport = new StdioServerTransport(stdin, stdout)
      // The SDK's transport does not watch for the end of stdin: that is the client leaving.
      const onEnd = () => void transport.close()
      stdin.once("end", onEnd)
      return mcp
        .serve(transport, { principalOf: () => LOCAL_PRINCIPAL })
        .pipe(Effect.ensuring(Effect.sync(() => stdin.off("end", onEnd))))
    }),
  )
