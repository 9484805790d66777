/**
 * `proxmox-mcp run` in-process over a pair of streams, as an MCP client spawning it would see
 * it: the real stdio server transport on the server's side, the SDK's real client on ours,
 * newline-delimited JSON-RPC in between (the SDK's own framing).
 */
import { PassThrough, type Readable, type Writable } from "node:stream"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { ReadBuffer, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js"
import * as Effect from "effect/Effect"
import { vi } from "vitest"
import type { Terminal } from "../../src/cli/io.js"
import { cli } from "../../src/cli/main.js"

/** The client's end of a stdio connection, over any pair of streams. */
class StreamClientTransport implements Transport {
  onclose?: () => void
  onerror?: (error: Error) => void
  onmessage?: (message: JSONRPCMessage) => void
  private readonly buffer = new ReadBuffer()

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
  ) {}

  async start() {
    this.input.on("data", (chunk: Buffer) => {
      this.buffer.append(chunk)
      for (;;) {
        const message = this.buffer.readMessage()
        if (message === null) break
        this.onmessage?.(message)
      }
    })
    this.input.on("error", (error: Error) => this.onerror?.(error))
  }

  async send(message: JSONRPCMessage) {
    this.output.write(serializeMessage(message))
  }

  async close() {
    // The end of the server's stdin: the client has left.
    this.output.end()
    this.onclose?.()
  }
}

export interface InProcessRun {
  readonly client: Client
  /** What the server wrote to its terminal (the start line or the warning). */
  readonly terminal: ReadonlyArray<string>
  /** Resolves at the first terminal write. */
  readonly firstTerminalWrite: Promise<string>
  /** Everything the server wrote to its stdout. */
  readonly stdout: () => string
  /** Closes the client (end of stdin) and returns the command's exit code. */
  readonly close: () => Promise<number>
}

/** `cli(["run", ...args], env)` with its own stdin, stdout and terminal; stderr captured. */
export const runInProcess = async (
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  options: { readonly interactive: boolean },
): Promise<InProcessRun> => {
  const toServer = new PassThrough()
  const fromServer = new PassThrough()
  let stdout = ""
  fromServer.on("data", (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  const written: Array<string> = []
  let resolveFirst: (text: string) => void = () => {}
  const firstTerminalWrite = new Promise<string>((resolve) => {
    resolveFirst = resolve
  })
  const terminal: Terminal = {
    interactive: options.interactive,
    write: (text) => {
      written.push(text)
      resolveFirst(text)
    },
  }
  // The server's logs and shutdown notes go to the process's stderr: kept out of the test output.
  const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true)
  const exit = Effect.runPromise(
    cli(["run", ...args], env, { stdin: toServer, stdout: fromServer, terminal }),
  )
  const client = new Client({ name: "proxmox-mcp-test", version: "0.0.0" })
  try {
    await Promise.race([
      client.connect(new StreamClientTransport(fromServer, toServer)),
      exit.then((code) => Promise.reject(new Error(`run ended with ${code} before serving`))),
    ])
  } catch (error) {
    stderr.mockRestore()
    throw error
  }
  return {
    client,
    terminal: written,
    firstTerminalWrite,
    stdout: () => stdout,
    close: async () => {
      try {
        await client.close()
        return await exit
      } finally {
        stderr.mockRestore()
      }
    },
  }
}
