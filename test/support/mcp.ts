/** Starting the built `proxmox-mcp` binary under the SDK's real stdio client. */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Client, type ClientOptions } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import type { RunningSimulator } from "../../src/simulator/index.js"

export const BIN = path.resolve(import.meta.dirname, "../../dist/bin/proxmox-mcp.js")

/** The environment of an operator pointing the server at `sim`'s first endpoint, pinned. */
export const envFor = (sim: RunningSimulator): Record<string, string> => ({
  PROXMOX_HOST: sim.host,
  PROXMOX_PORT: String(sim.port),
  PROXMOX_TOKEN_ID: sim.tokenId,
  PROXMOX_TOKEN_SECRET: sim.tokenSecret,
  PROXMOX_TLS_FINGERPRINTS: sim.fingerprint,
})

export const tempAuditPath = () =>
  path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pmcp-audit-")), "audit.jsonl")

export interface StdioSession {
  readonly client: Client
  /** Everything the server wrote to stderr so far. */
  readonly stderr: () => string
  /** The server process. */
  readonly pid: number
}

/** Spawns `proxmox-mcp <args>` with exactly `env` (plus PATH) and connects a client to it. */
export const connectStdio = async (
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  clientOptions: ClientOptions = {},
  prepare: (client: Client) => void = () => {},
): Promise<StdioSession> => {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, ...args],
    env: { PATH: process.env.PATH ?? "", ...env },
    stderr: "pipe",
  })
  let stderr = ""
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const client = new Client({ name: "proxmox-mcp-test", version: "0.0.0" }, clientOptions)
  prepare(client)
  await client.connect(transport)
  return { client, stderr: () => stderr, pid: transport.pid ?? -1 }
}

/** The audit records a server wrote, once `server.stop` is among them (the server has shut down). */
export const auditAfterStop = async (
  auditPath: string,
  eventually: (check: () => boolean) => Promise<void>,
): Promise<ReadonlyArray<{ readonly event: string; readonly outcome?: { readonly ok: boolean } }>> => {
  await eventually(
    () => fs.existsSync(auditPath) && fs.readFileSync(auditPath, "utf8").includes("server.stop"),
  )
  return fs
    .readFileSync(auditPath, "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line))
}
