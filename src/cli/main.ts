/**
 * The `proxmox-mcp` command line. This is the edge: configuration is read here, layers are
 * composed once here, and nothing but the stdio protocol is written to stdout while serving.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import { type AuditSettings, auditConfig } from "../audit/config.js"
import { layerFile } from "../audit/file.js"
import { Audit } from "../audit/port.js"
import { configProvider, type Environment, formatConfigError } from "../config/provider.js"
import { type ProxmoxConfig, proxmoxConfig } from "../config/proxmox.js"
import { type ServerConfig, serverConfig } from "../config/server.js"
import { LOCAL_PRINCIPAL } from "../domain/principal.js"
import { makeRedactor, Redactor } from "../domain/redact.js"
import { stderrLoggerLayer, toolLayer } from "../layers.js"
import { makeMcpServer, serveStdio } from "../mcp/server.js"
import { makeToolNames } from "../policy/names.js"
import { staticallyExposed } from "../policy/policy.js"
import { type PolicySettings, policyConfig } from "../policy/settings.js"
import { proxmoxHttpClientLayer } from "../proxmox/agent.js"
import type { RunningSimulator } from "../simulator/index.js"
import { builtin } from "../tools/catalog.js"
import { runAuditCommand } from "./audit.js"
import { renderTools, type ToolsFormat } from "./tools.js"

export const VERSION: string = JSON.parse(
  fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8"),
).version

const USAGE = `proxmox-mcp ${VERSION}: MCP server for Proxmox VE

Usage: proxmox-mcp <command> [options]

Commands:
  run [--transport stdio]     Serve MCP for the cluster configured by environment / config file (default)
  demo                        Serve MCP against a built-in SIMULATED cluster; needs no configuration
  simulator [--port N]        Run only the simulated cluster; prints {url, host, port, tokenId, tokenSecret, fingerprint, nodes}
  tools [--all] [--json|--markdown]
                              Print the tool catalog as exposed under the current policy (--all: every tool)
  audit verify [--partial] FILE...
                              Check the audit log's hash chain (files oldest first); exit 1 names the first bad record
  help, --help                This text
  --version                   Print the version

Configuration: see README.md (PROXMOX_HOST or PROXMOX_NODES, token, TLS, PVE_ACCESS_TIER, ...).`

class UsageError extends Error {}

/** The names policy lists may use: the built-in catalog's, NANDI's and Sutian's. */
const policySettings = policyConfig(makeToolNames(builtin.entries))

const SHUTDOWN_GRACE_MS = 10_000

const say = (text: string) => process.stderr.write(`${text}\n`)

const flagValue = (args: ReadonlyArray<string>, name: string): string | undefined => {
  const index = args.findIndex((a) => a === name || a.startsWith(`${name}=`))
  if (index < 0) return undefined
  const arg = args[index]!
  if (arg.includes("=")) return arg.slice(arg.indexOf("=") + 1)
  const value = args[index + 1]
  if (value === undefined || value.startsWith("--")) throw new UsageError(`${name} needs a value`)
  return value
}

const checkFlags = (args: ReadonlyArray<string>, allowed: ReadonlyArray<string>) => {
  for (const arg of args) {
    if (arg.startsWith("--") && !allowed.includes(arg.split("=")[0]!))
      throw new UsageError(`unknown option ${arg}`)
  }
}

/** Loads a config descriptor from env + config file; a failure is one readable message. */
const load = <A>(env: Environment, config: Config.Config<A>): Either.Either<A, string> => {
  const provider = configProvider(env)
  if (Either.isLeft(provider)) return Either.left(formatConfigError(provider.left))
  return Either.mapLeft(
    Effect.runSync(Effect.either(Effect.withConfigProvider(config, provider.right))),
    formatConfigError,
  )
}

const checkTransport = (transport: string) => {
  if (transport !== "stdio") {
    throw new UsageError(`transport '${transport}' is not available yet in this version; use stdio`)
  }
}

interface ServeOptions {
  readonly proxmox: ProxmoxConfig
  readonly policy: PolicySettings
  readonly server: ServerConfig
  readonly audit: AuditSettings
  readonly instructions?: string
}

/** Serves MCP over stdio until the client disconnects; server start and stop are audited. */
const serve = async (options: ServeOptions) => {
  // One redactor for the audit log, stderr and tool results; it knows the configured secrets.
  const redactor = makeRedactor({ knownSecrets: options.proxmox.endpoints.map((e) => e.tokenSecret) })
  const runtime = ManagedRuntime.make(
    toolLayer(options.proxmox, options.policy).pipe(
      Layer.provideMerge(layerFile({ ...options.audit, redactor })),
      Layer.provideMerge(Layer.succeed(Redactor, redactor)),
      Layer.provide(proxmoxHttpClientLayer(options.proxmox)),
      Layer.provideMerge(stderrLoggerLayer(options.server.logLevel, redactor.line)),
    ),
  )
  const principal = {
    sub: LOCAL_PRINCIPAL.sub,
    role: LOCAL_PRINCIPAL.role,
    transport: LOCAL_PRINCIPAL.transport,
  }
  const lifecycle = (event: "server.start" | "server.stop") =>
    runtime.runPromise(Effect.flatMap(Audit, (audit) => audit.write({ event, principal }, { durable: true })))
  await lifecycle("server.start")
  const mcp = makeMcpServer(runtime, {
    version: VERSION,
    principal: LOCAL_PRINCIPAL,
    maxResultBytes: options.server.maxResultBytes,
    listAliases: options.server.listAliases,
    ...(options.instructions === undefined ? {} : { instructions: options.instructions }),
  })
  // SIGTERM/SIGINT or the client closing stdin: no new calls; running calls may finish (bounded)
  // and complete their audit records; then the server closes and server.stop is recorded.
  let stopping: Promise<void> | undefined
  const stop = (why: string) => {
    if (stopping === undefined) say(`proxmox-mcp: ${why}: shutting down; running calls may finish`)
    stopping ??= mcp
      .shutdown(SHUTDOWN_GRACE_MS)
      .then((finished) => {
        if (!finished) say(`proxmox-mcp: calls still running after ${SHUTDOWN_GRACE_MS} ms were cancelled`)
      })
      .finally(() => mcp.server.close())
      .catch((error: unknown) => void say(`proxmox-mcp: shutdown: ${String(error)}`))
  }
  process.once("SIGINT", () => stop("SIGINT"))
  process.once("SIGTERM", () => stop("SIGTERM"))
  try {
    await serveStdio(mcp.server, () => stop("the client closed the connection"))
  } finally {
    await lifecycle("server.stop").catch((error: unknown) =>
      say(`proxmox-mcp: could not audit server.stop: ${String(error)}`),
    )
    await runtime.dispose()
  }
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

const run = async (args: ReadonlyArray<string>, env: Environment) => {
  checkFlags(args, ["--transport"])
  const config = load(
    env,
    Config.all({ proxmox: proxmoxConfig, policy: policySettings, server: serverConfig, audit: auditConfig }),
  )
  if (Either.isLeft(config)) {
    say(`proxmox-mcp: configuration error:\n${config.left}`)
    return 2
  }
  checkTransport(flagValue(args, "--transport") ?? config.right.server.transport)
  warnInsecure(config.right.proxmox)
  await serve(config.right)
  return 0
}

/** The simulator (and its certificate library) is loaded only by the commands that use it. */
const startSimulatorLazily = async (
  options: Parameters<typeof import("../simulator/index.js").startSimulator>[0],
) => (await import("../simulator/index.js")).startSimulator(options)

/** A config for the simulator: one pinned endpoint per node, like PROXMOX_NODES + fingerprints. */
export const simulatorConfig = (sim: RunningSimulator): ProxmoxConfig => ({
  endpoints: sim.endpoints.map((e) => ({
    name: e.node,
    node: e.node,
    host: e.host,
    port: e.port,
    tokenId: sim.tokenId,
    tokenSecret: Redacted.make(sim.tokenSecret),
    fingerprint: sim.fingerprint,
  })),
  tls: { verify: true },
  requestTimeoutMs: 35_000,
})

const demo = async (args: ReadonlyArray<string>, env: Environment) => {
  checkFlags(args, ["--transport"])
  checkTransport(flagValue(args, "--transport") ?? "stdio")
  // The demo never talks to a real cluster: only policy, server and audit settings apply. It runs
  // with tier full so every tool can be tried, unless PVE_ACCESS_TIER says otherwise, and audits
  // into a temporary directory unless AUDIT_LOG_PATH is set.
  const demoEnv: Environment = {
    ...env,
    PVE_ACCESS_TIER: env.PVE_ACCESS_TIER ?? "full",
    AUDIT_LOG_PATH:
      env.AUDIT_LOG_PATH ??
      path.join(fs.mkdtempSync(path.join(os.tmpdir(), "proxmox-mcp-demo-")), "audit.jsonl"),
  }
  const settings = load(
    demoEnv,
    Config.all({ policy: policySettings, server: serverConfig, audit: auditConfig }),
  )
  if (Either.isLeft(settings)) {
    say(`proxmox-mcp: configuration error:\n${settings.left}`)
    return 2
  }
  const sim = await startSimulatorLazily({})
  say(
    [
      "==================================================================",
      " proxmox-mcp DEMO: SIMULATED Proxmox VE cluster. Nothing real is touched.",
      ` nodes: ${sim.nodes.join(", ")}   API: ${sim.url} (certificate pinned)`,
      ` access tier: ${settings.right.policy.tier}   confirm mode: ${settings.right.policy.confirmMode}`,
      ` audit log: ${settings.right.audit.path}`,
      " This process speaks MCP on stdin/stdout. Try it with an MCP client, e.g.:",
      "   npx @modelcontextprotocol/inspector node dist/bin/proxmox-mcp.js demo",
      "==================================================================",
    ].join("\n"),
  )
  try {
    await serve({
      ...settings.right,
      proxmox: simulatorConfig(sim),
      instructions:
        "This server is connected to a SIMULATED Proxmox VE cluster (demo mode): every operation is safe to try.",
    })
  } finally {
    await sim.close()
  }
  return 0
}

const simulator = async (args: ReadonlyArray<string>) => {
  checkFlags(args, ["--port", "--host"])
  const portText = flagValue(args, "--port")
  const port = portText === undefined ? 0 : Number(portText)
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port: '${portText}' is not a port`)
  const sim = await startSimulatorLazily({
    port,
    ...(flagValue(args, "--host") === undefined ? {} : { host: flagValue(args, "--host")! }),
  })
  process.stdout.write(
    `${JSON.stringify({
      url: sim.url,
      host: sim.host,
      port: sim.port,
      tokenId: sim.tokenId,
      tokenSecret: sim.tokenSecret,
      fingerprint: sim.fingerprint,
      nodes: sim.nodes,
    })}\n`,
  )
  say("proxmox-mcp simulator: SIMULATED Proxmox VE API running; Ctrl-C stops it.")
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve)
    process.once("SIGTERM", resolve)
  })
  await sim.close()
  return 0
}

const tools = (args: ReadonlyArray<string>, env: Environment) => {
  checkFlags(args, ["--all", "--json", "--markdown"])
  const format: ToolsFormat = args.includes("--json")
    ? "json"
    : args.includes("--markdown")
      ? "markdown"
      : "text"
  if (args.includes("--all")) {
    process.stdout.write(`${renderTools(builtin.entries, format)}\n`)
    return 0
  }
  const settings = load(env, policySettings)
  if (Either.isLeft(settings)) {
    say(`proxmox-mcp: configuration error:\n${settings.left}`)
    return 2
  }
  process.stdout.write(`${renderTools(staticallyExposed(builtin.entries, settings.right), format)}\n`)
  return 0
}

export const main = async (argv: ReadonlyArray<string>, env: Environment = process.env): Promise<number> => {
  const [command = "run", ...args] = argv
  try {
    switch (command) {
      case "run":
        return await run(args, env)
      case "demo":
        return await demo(args, env)
      case "simulator":
        return await simulator(args)
      case "tools":
        return tools(args, env)
      case "audit":
        return await runAuditCommand(args)
      case "help":
      case "--help":
      case "-h":
        process.stdout.write(`${USAGE}\n`)
        return 0
      case "--version":
        process.stdout.write(`${VERSION}\n`)
        return 0
      default:
        throw new UsageError(`unknown command '${command}'`)
    }
  } catch (error) {
    if (error instanceof UsageError) {
      say(`proxmox-mcp: ${error.message}\n\n${USAGE}`)
      return 2
    }
    throw error
  }
}
