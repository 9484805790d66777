/**
 * The `proxmox-mcp` command line: dispatches a command. Each command is an Effect that returns
 * the exit code; the binary runs it with `NodeRuntime.runMain`, so SIGTERM/SIGINT interrupt it
 * and its resources are released (for `run` and `demo`: the server's graceful shutdown).
 */
import * as Effect from "effect/Effect"
import type { Environment } from "../config/provider.js"
import { staticallyExposed } from "../policy/policy.js"
import { builtin } from "../tools/catalog.js"
import { checkFlags, configurationError, flagValue, load, policySettings, say, UsageError } from "./args.js"
import { runAuditCommand } from "./audit.js"
import { demo, run, simulatorResource } from "./serve.js"
import { renderTools, type ToolsFormat } from "./tools.js"
import { VERSION } from "./version.js"

export { VERSION }

const USAGE = `proxmox-mcp ${VERSION}: MCP server for Proxmox VE

Usage: proxmox-mcp <command> [options]

Commands:
  run [--transport stdio|http]
                              Serve MCP for the cluster configured by environment / config file (default)
  demo [--transport stdio|http]
                              Serve MCP against a built-in SIMULATED cluster; needs no configuration
                              (http: prints a test token)
  simulator [--port N]        Run only the simulated cluster; prints {url, host, port, tokenId, tokenSecret, fingerprint, nodes}
  tools [--all] [--json|--markdown]
                              Print the tool catalog as exposed under the current policy (--all: every tool)
  hash-password               Read a password (one line) on stdin; print its scrypt hash for MCP_USERS_FILE
  audit verify [--partial] FILE...
                              Check the audit log's hash chain (files oldest first); exit 1 names the first bad record
  help, --help                This text
  --version                   Print the version

Configuration: see README.md (PROXMOX_HOST or PROXMOX_NODES, token, TLS, PVE_ACCESS_TIER, ...).`

/** Runs only the simulated cluster until interrupted (Ctrl-C). */
const simulator = (args: ReadonlyArray<string>): Effect.Effect<number> =>
  Effect.suspend(() => {
    checkFlags(args, ["--port", "--host"])
    const portText = flagValue(args, "--port")
    const port = portText === undefined ? 0 : Number(portText)
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new UsageError(`--port: '${portText}' is not a port`)
    const host = flagValue(args, "--host")
    return Effect.scoped(
      Effect.gen(function* () {
        const sim = yield* simulatorResource({ port, ...(host === undefined ? {} : { host }) })
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
        return yield* Effect.never
      }),
    )
  })

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
  if (settings._tag === "Left") return configurationError(settings.left)
  process.stdout.write(`${renderTools(staticallyExposed(builtin.entries, settings.right), format)}\n`)
  return 0
}

const dispatch = (command: string, args: ReadonlyArray<string>, env: Environment): Effect.Effect<number> => {
  switch (command) {
    case "run":
      return run(args, env)
    case "demo":
      return demo(args, env)
    case "simulator":
      return simulator(args)
    case "tools":
      return Effect.sync(() => tools(args, env))
    case "audit":
      return Effect.promise(() => runAuditCommand(args))
    case "hash-password":
      checkFlags(args, [])
      return Effect.promise(() => import("./hash-password.js")).pipe(
        Effect.flatMap((m) => m.hashPasswordCommand),
      )
    case "help":
    case "--help":
    case "-h":
      return Effect.sync(() => {
        process.stdout.write(`${USAGE}\n`)
        return 0
      })
    case "--version":
      return Effect.sync(() => {
        process.stdout.write(`${VERSION}\n`)
        return 0
      })
    default:
      return Effect.sync(() => {
        throw new UsageError(`unknown command '${command}'`)
      })
  }
}

/** The command line as one program; its value is the exit code. */
export const cli = (argv: ReadonlyArray<string>, env: Environment = process.env): Effect.Effect<number> => {
  const [command = "run", ...args] = argv
  return Effect.suspend(() => dispatch(command, args, env)).pipe(
    Effect.catchAllDefect((defect) => {
      if (!(defect instanceof UsageError)) return Effect.die(defect)
      say(`proxmox-mcp: ${defect.message}\n\n${USAGE}`)
      return Effect.succeed(2)
    }),
  )
}
