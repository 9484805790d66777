/**
 * `run` and `demo`: the server as one layer, composed here at the edge, served over stdio until
 * the client leaves or a signal arrives. Releasing the layer is the graceful shutdown (see
 * `McpServer`): no new calls, running calls finish within the grace period, their audit
 * records complete, then `server.stop`.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type AuditSettings, auditConfig } from "../audit/config.js"
import { layerFile } from "../audit/file.js"
import { Audit } from "../audit/port.js"
import type { Environment } from "../config/provider.js"
import { type ProxmoxConfig, proxmoxConfig } from "../config/proxmox.js"
import { type ServerConfig, serverConfig } from "../config/server.js"
import { SSH_DISABLED, type SshSettings, sshConfig } from "../config/ssh.js"
import { LOCAL_PRINCIPAL } from "../domain/principal.js"
import { makeRedactor, Redactor, type RedactorService } from "../domain/redact.js"
import { stderrLoggerLayer, toolLayer } from "../layers.js"
import * as McpServer from "../mcp/server.js"
import { serveStdio } from "../mcp/stdio.js"
import { staticallyExposed } from "../policy/policy.js"
import type { PolicySettings } from "../policy/settings.js"
import { proxmoxTransportLayer } from "../proxmox/transport.js"
// Small and eager; the simulator itself is loaded only when a command starts it.
import { simulatorConfig } from "../simulator/config.js"
import { builtin } from "../tools/catalog.js"
import { checkFlags, configurationError, flagValue, load, policySettings, say, UsageError } from "./args.js"
import { type CliIo, processIo } from "./io.js"
import { announceStart, servedFacts } from "./startup.js"
import { VERSION } from "./version.js"

export interface ServeOptions {
  readonly proxmox: ProxmoxConfig
  readonly policy: PolicySettings
  readonly server: ServerConfig
  readonly audit: AuditSettings
  /** Remote tools over SSH; absent: disabled. */
  readonly ssh?: SshSettings
  readonly instructions?: string
}

/** The whole server: MCP over the tool layers, the audit file, the redactor and the HTTPS client. */
export const serverLayer = (options: ServeOptions, redactor: RedactorService) =>
  McpServer.layer({
    version: VERSION,
    operator: LOCAL_PRINCIPAL,
    maxResultBytes: options.server.maxResultBytes,
    listAliases: options.server.listAliases,
    toolMode: options.server.toolMode,
    toolsets: options.server.toolsets,
    ...(options.instructions === undefined ? {} : { instructions: options.instructions }),
  }).pipe(
    // Merged, not only provided: the start line probes the cluster with the server's own client.
    Layer.provideMerge(
      Layer.mergeAll(
        toolLayer(options.proxmox, options.policy, {}, options.ssh ?? SSH_DISABLED),
        layerFile({ ...options.audit, redactor }),
        Layer.succeed(Redactor, redactor),
      ),
    ),
    Layer.provide(proxmoxTransportLayer(options.proxmox)),
  )

/** A server with nothing to offer is a configuration mistake, not a quiet success. */
const nothingExposed = (options: ServeOptions): number | undefined =>
  staticallyExposed(builtin.entries, options.policy).length === 0
    ? configurationError(
        `the policy exposes no tool under PVE_ACCESS_TIER=${options.policy.tier}: PVE_CATEGORIES, ` +
          "PVE_MODULES, PVE_TOOL_WHITELIST and PVE_TOOL_BLACKLIST leave nothing (see `proxmox-mcp tools --all`)",
      )
    : undefined

/**
 * Serves over stdio until the client leaves or SIGTERM/SIGINT interrupts; then shuts down. With
 * `announce`, a terminal on stderr gets the start line (see `startup.ts`) once Proxmox answered.
 */
const serve = (options: ServeOptions, io: CliIo, announce: boolean): Effect.Effect<number> => {
  const refused = nothingExposed(options)
  if (refused !== undefined) return Effect.succeed(refused)
  // One redactor for the audit log, stderr and tool results; it knows the configured secrets.
  const redactor = makeRedactor({
    knownSecrets: [...options.proxmox.endpoints.map((e) => e.tokenSecret), options.audit.hmacKey],
  })
  return Effect.gen(function* () {
    // The signal itself interrupts the program (NodeRuntime.runMain); this only tells the operator.
    const onSignal = (signal: string) => () =>
      say(`proxmox-mcp: ${signal}: shutting down; running calls may finish`)
    const onSigint = onSignal("SIGINT")
    const onSigterm = onSignal("SIGTERM")
    process.once("SIGINT", onSigint)
    process.once("SIGTERM", onSigterm)
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        process.off("SIGINT", onSigint)
        process.off("SIGTERM", onSigterm)
      }),
    )
    if (announce && io.terminal.interactive) {
      const audit = yield* Audit
      const facts = servedFacts({
        policy: options.policy,
        // Where records really go: a pid-named sibling when another process holds the log.
        auditPath: audit.currentFile?.() ?? options.audit.path,
        toolMode: options.server.toolMode,
        toolsets: options.server.toolsets,
      })
      // Beside the server, not before it: a slow or absent Proxmox never delays the protocol.
      yield* Effect.fork(announceStart(io.terminal, facts, redactor.text))
    }
    yield* serveStdio(io.stdin, io.stdout)
    say("proxmox-mcp: the client closed the connection: shutting down; running calls may finish")
    return 0
  }).pipe(
    // The listeners go with the program (an embedder or a test may serve more than once).
    Effect.scoped,
    Effect.provide(serverLayer(options, redactor)),
    Effect.catchAll((error) =>
      Effect.sync(() => {
        say(`proxmox-mcp: ${redactor.text(error.message)}`)
        return 1
      }),
    ),
    // Outermost, so that building the layers logs to stderr too (stdout is the protocol's).
    Effect.provide(stderrLoggerLayer(options.server.logLevel, redactor.line)),
  )
}

const checkTransport = (transport: string): "stdio" | "http" => {
  if (transport !== "stdio" && transport !== "http")
    throw new UsageError(`transport '${transport}' is not known; use stdio or http`)
  return transport
}

/** The HTTP server, loaded only for `--transport http` (the stdio path never imports it). */
const serveOverHttp = (
  options: ServeOptions,
  env: Environment,
  io: CliIo,
  demoUser?: string,
): Effect.Effect<number> => {
  const refused = nothingExposed(options)
  if (refused !== undefined) return Effect.succeed(refused)
  return Effect.promise(() => Promise.all([import("../config/http.js"), import("./http.js")])).pipe(
    Effect.flatMap(([config, http]) => {
      const settings = load(env, Config.all({ http: config.httpConfig, auth: config.authConfig }))
      if (settings._tag === "Left") return Effect.succeed(configurationError(settings.left))
      return http.serveHttp(
        {
          ...options,
          ...settings.right,
          ...(demoUser === undefined ? {} : { demoUser }),
        },
        // The demo has its banner; `run` announces itself as over stdio.
        demoUser === undefined ? io.terminal : undefined,
      )
    }),
  )
}

const warnInsecure = (proxmox: ProxmoxConfig) => {
  if (!proxmox.tls.verify) {
    say(
      "WARNING: TLS certificate verification is DISABLED (PROXMOX_ALLOW_INSECURE_TLS / VERIFY_TLS=false).\n" +
        "WARNING: anyone on the network path can impersonate the Proxmox API and capture the API token.\n" +
        "WARNING: use PROXMOX_TLS_FINGERPRINTS or PROXMOX_CA_FILE instead; insecure mode is for labs only.",
    )
  }
}

export const run = (
  args: ReadonlyArray<string>,
  env: Environment,
  io: CliIo = processIo(),
): Effect.Effect<number> =>
  Effect.suspend(() => {
    checkFlags(args, ["--transport"])
    const config = load(
      env,
      Config.all({
        proxmox: proxmoxConfig,
        policy: policySettings,
        server: serverConfig,
        audit: auditConfig,
        ssh: sshConfig,
      }),
    )
    if (config._tag === "Left") return Effect.succeed(configurationError(config.left))
    const transport = checkTransport(flagValue(args, "--transport") ?? config.right.server.transport)
    warnInsecure(config.right.proxmox)
    return transport === "http" ? serveOverHttp(config.right, env, io) : serve(config.right, io, true)
  })

/** The simulator (and its certificate code) is loaded only by the commands that use it. */
export const simulatorResource = (
  options: Parameters<typeof import("../simulator/index.js").startSimulator>[0],
) =>
  Effect.acquireRelease(
    Effect.promise(async () => (await import("../simulator/index.js")).startSimulator(options)),
    (sim) => Effect.promise(() => sim.close()),
  )

export const demo = (
  args: ReadonlyArray<string>,
  env: Environment,
  io: CliIo = processIo(),
): Effect.Effect<number> =>
  Effect.suspend(() => {
    checkFlags(args, ["--transport"])
    const transport = checkTransport(flagValue(args, "--transport") ?? "stdio")
    // The demo never talks to a real cluster: only policy, server and audit settings apply. It
    // runs with tier full so every tool can be tried, unless PVE_ACCESS_TIER says otherwise, and
    // audits into a temporary directory unless AUDIT_LOG_PATH is set; that directory is removed
    // when the demo ends.
    const temporary =
      env.AUDIT_LOG_PATH === undefined
        ? fs.mkdtempSync(path.join(os.tmpdir(), "proxmox-mcp-demo-"))
        : undefined
    const removeTemporary = Effect.sync(() => {
      if (temporary !== undefined) fs.rmSync(temporary, { recursive: true, force: true })
    })
    const demoEnv: Environment = {
      ...env,
      PVE_ACCESS_TIER: env.PVE_ACCESS_TIER ?? "full",
      AUDIT_LOG_PATH: env.AUDIT_LOG_PATH ?? path.join(temporary!, "audit.jsonl"),
    }
    const settings = load(
      demoEnv,
      Config.all({ policy: policySettings, server: serverConfig, audit: auditConfig }),
    )
    if (settings._tag === "Left") return Effect.as(removeTemporary, configurationError(settings.left))
    return Effect.scoped(
      Effect.gen(function* () {
        // Registered first, so it runs last: after the server closed its audit log.
        yield* Effect.addFinalizer(() => removeTemporary)
        // Acquired first, released last: the simulator outlives the server's shutdown.
        const sim = yield* simulatorResource({})
        say(
          [
            "==================================================================",
            " proxmox-mcp DEMO: SIMULATED Proxmox VE cluster. Nothing real is touched.",
            ` nodes: ${sim.nodes.join(", ")}   API: ${sim.url} (certificate pinned)`,
            ` access tier: ${settings.right.policy.tier}   confirm mode: ${settings.right.policy.confirmMode}`,
            ` audit log: ${settings.right.audit.path}${temporary === undefined ? "" : " (removed on exit)"}`,
            transport === "http"
              ? " This process speaks MCP over HTTP; a test token follows once it listens."
              : " This process speaks MCP on stdin/stdout. Try it with an MCP client, e.g.:",
            transport === "http"
              ? "   (a new token each start; JWT_SECRET is random unless set)"
              : "   npx @modelcontextprotocol/inspector node dist/bin/proxmox-mcp.js demo",
            "==================================================================",
          ].join("\n"),
        )
        const options: ServeOptions = {
          ...settings.right,
          // The simulated cluster has no SSH: its remote tools stay hidden.
          policy: { ...settings.right.policy, sshConfigured: false },
          proxmox: simulatorConfig(sim),
          instructions:
            "This server is connected to a SIMULATED Proxmox VE cluster (demo mode): every operation is safe to try.",
        }
        // The banner above says what the demo serves: no start line.
        if (transport === "stdio") return yield* serve(options, io, false)
        const httpEnv: Environment = {
          ...demoEnv,
          JWT_SECRET: env.JWT_SECRET ?? crypto.randomBytes(32).toString("base64url"),
        }
        return yield* serveOverHttp(options, httpEnv, io, "admin")
      }),
    )
  })
