/**
 * The MCP server in-process: the real `McpServer` layer over the live Proxmox layers (pointed at
 * the simulator, pinned) and a real SDK client over the SDK's InMemoryTransport. Policy and
 * server settings are read from an environment map with the server's own config descriptors,
 * as `proxmox-mcp run` reads them.
 */

import * as fs from "node:fs"
import { Client, type ClientOptions } from "@modelcontextprotocol/sdk/client/index.js"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js"
import * as Config from "effect/Config"
import type * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { layerFile } from "../../src/audit/file.js"
import { layerMemory, MemoryAuditRecords } from "../../src/audit/memory.js"
import type { AuditRecord } from "../../src/audit/port.js"
import { load, policySettings } from "../../src/cli/args.js"
import { serverConfig } from "../../src/config/server.js"
import type { SshSettings } from "../../src/config/ssh.js"
import { LOCAL_PRINCIPAL, type Principal } from "../../src/domain/principal.js"
import { makeRedactor, Redactor } from "../../src/domain/redact.js"
import { toolLayer } from "../../src/layers.js"
import * as McpServer from "../../src/mcp/server.js"
import { proxmoxTransportLayer } from "../../src/proxmox/transport.js"
import type { RunningSimulator } from "../../src/simulator/index.js"
import type { SshLayerOptions } from "../../src/ssh/ssh.js"
import { configFor } from "./cluster.js"

export interface ServerOptions {
  /** Policy and server variables (PVE_ACCESS_TIER, PVE_CONFIRM_MODE, PVE_LIST_ALIASES, ...). */
  readonly env?: Readonly<Record<string, string>>
  /** Write the audit to this file (hash-chained sink); default: the memory sink. */
  readonly auditPath?: string
  /** Who calls on the connection (default: the local principal). */
  readonly principal?: Principal
  readonly shutdownGrace?: Duration.DurationInput
  /** SSH for the remote tools (default: disabled). */
  readonly ssh?: { readonly settings: SshSettings; readonly options?: SshLayerOptions }
}

/** The server as a runtime (its release is the graceful shutdown), and its audit records. */
export const startServer = async (sim: RunningSimulator, options: ServerOptions = {}) => {
  const settings = load(options.env ?? {}, Config.all({ policy: policySettings, server: serverConfig }))
  if (Either.isLeft(settings)) throw new Error(settings.left)
  const config = configFor(sim)
  const redactor = makeRedactor({ knownSecrets: [sim.tokenSecret] })
  const auditPath = options.auditPath
  // The file sink when asked for; the memory sink's records tag stays available either way, so
  // the runtime has one type (its Audit is the file's when both are given: the later layer wins).
  const audit =
    auditPath === undefined
      ? layerMemory()
      : Layer.merge(layerMemory(), layerFile({ path: auditPath, redactor }))
  const runtime = ManagedRuntime.make(
    McpServer.layer({
      version: "test",
      operator: LOCAL_PRINCIPAL,
      maxResultBytes: settings.right.server.maxResultBytes,
      listAliases: settings.right.server.listAliases,
      // The whole list unless a test asks for toolsets or discovery, as an embedder gets it.
      ...(options.env?.PVE_TOOLSETS === undefined ? {} : { toolsets: settings.right.server.toolsets }),
      ...(options.env?.PVE_TOOL_MODE === undefined ? {} : { toolMode: settings.right.server.toolMode }),
      ...(options.shutdownGrace === undefined ? {} : { shutdownGrace: options.shutdownGrace }),
    }).pipe(
      Layer.provideMerge(
        Layer.mergeAll(
          toolLayer(
            config,
            settings.right.policy,
            { resourcesTtl: "2 seconds" },
            options.ssh?.settings,
            options.ssh?.options,
          ),
          audit,
          Layer.succeed(Redactor, redactor),
        ),
      ),
      Layer.provide(proxmoxTransportLayer(config)),
      Layer.orDie,
    ),
  )
  // Built now (server.start is recorded); kept so records can be read after the shutdown too.
  const memory = await runtime.runPromise(MemoryAuditRecords)
  // The audit records as written: the memory sink's, or the file's lines.
  const records = (): ReadonlyArray<AuditRecord> =>
    auditPath === undefined
      ? memory.records()
      : fs.existsSync(auditPath)
        ? fs
            .readFileSync(auditPath, "utf8")
            .trim()
            .split("\n")
            .filter((line) => line !== "")
            .map((line): AuditRecord => JSON.parse(line))
        : []
  return { runtime, records, principal: options.principal ?? LOCAL_PRINCIPAL }
}

export type TestServer = Awaited<ReturnType<typeof startServer>>

/** A real SDK client connected to the in-process server over InMemoryTransport. */
export const connectClient = async (
  server: TestServer,
  clientOptions: ClientOptions = {},
  prepare: (client: Client) => void = () => {},
) => {
  const mcp = await server.runtime.runPromise(McpServer.McpServer)
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
  const serving = server.runtime.runPromise(mcp.serve(serverSide, { principalOf: () => server.principal }))
  const client = new Client({ name: "proxmox-mcp-test", version: "0.0.0" }, clientOptions)
  prepare(client)
  await client.connect(clientSide)
  return { client, serving }
}

/** Server and client in one step; `close` disconnects and shuts the server down gracefully. */
export const connectInProcess = async (
  sim: RunningSimulator,
  options: ServerOptions = {},
  clientOptions: ClientOptions = {},
  prepare: (client: Client) => void = () => {},
) => {
  const server = await startServer(sim, options)
  const { client } = await connectClient(server, clientOptions, prepare)
  return {
    client,
    records: server.records,
    close: async () => {
      await client.close()
      await server.runtime.dispose()
    },
  }
}
