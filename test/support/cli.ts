/** The command line in-process: `cli(argv, env)` with stdout and stderr captured. */
import * as Effect from "effect/Effect"
import { vi } from "vitest"
import { cli } from "../../src/cli/main.js"

export interface CliResult {
  readonly status: number
  readonly stdout: string
  readonly stderr: string
}

export const runCli = async (
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
): Promise<CliResult> => {
  const stdout: Array<string> = []
  const stderr: Array<string> = []
  const capture = (into: Array<string>) => (chunk: unknown) => {
    into.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString())
    return true
  }
  const out = vi.spyOn(process.stdout, "write").mockImplementation(capture(stdout))
  const err = vi.spyOn(process.stderr, "write").mockImplementation(capture(stderr))
  try {
    const status = await Effect.runPromise(cli(args, env))
    return { status, stdout: stdout.join(""), stderr: stderr.join("") }
  } finally {
    out.mockRestore()
    err.mockRestore()
  }
}
