/**
 * The streams and terminal of the serving commands: the process's, unless a test (or an
 * embedder running the command line) gives its own.
 */
import type { Readable, Writable } from "node:stream"

/** Where the server tells a person what it does; `interactive` when stderr is a terminal. */
export interface Terminal {
  readonly interactive: boolean
  readonly write: (text: string) => void
}

/** The streams and terminal of the serving commands; the process's unless a test gives its own. */
export interface CliIo {
  readonly stdin: Readable
  readonly stdout: Writable
  readonly terminal: Terminal
}

export const processIo = (): CliIo => ({
  stdin: process.stdin,
  stdout: process.stdout,
  terminal: {
    interactive: process.stderr.isTTY === true,
    write: (text) => void process.stderr.write(text),
  },
})
