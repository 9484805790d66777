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
import { BOOTSTRAP_USAGE, bootstrap } from "./bootstrap.js"
import { DOCTOR_USAGE, doctor } from "./doctor.js"
import { type CliIo, processIo } from "./io.js"
import { demo, run, simulatorResource } from "./serve.js"
import { SETUP_USAGE, setup } from "./setup.js"
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
  doctor [--json]             Check the configuration against the cluster (TLS, token, privileges, quorum, audit) and say what to fix
  setup [options]             Ask for (or take) host, token and tier; pin the certificate; write the config file and client configs
  bootstrap [--tier T] [--apply]
                              Print (or apply) the pveum commands for a user, role and token with exactly the tier's privileges
  audit verify [--partial] [--key|--key-file F] [--witness SEQ:HASH] FILE...
                              Check the audit log's hash chain (files oldest first); exit 1 names the first bad record
  audit export-head [--key|--key-file F] FILE...
                              Verify, then print the newest record's seq and hash for an external witness
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

/** `proxmox-mcp COMMAND --help`: each command's own usage. */
const COMMAND_USAGE: Readonly<Record<string, string>> = {
  run: `Usage: proxmox-mcp run [--transport stdio|http]

Serves MCP for the cluster configured by the environment (or PROXMOX_MCP_CONFIG): over stdio by
default, or as an HTTP server (MCP_TRANSPORT=http; JWT_SECRET and users needed; README.md, HTTP server).
Configuration: README.md, Configuration. Check it first with: proxmox-mcp doctor

In a terminal (stderr is a TTY) it prints one line once Proxmox answered: cluster, nodes, tier,
number of tools, audit file; or a warning with the fix when Proxmox does not answer, and serves
anyway. Started by an MCP client (stderr not a terminal) it prints nothing of the kind.`,
  demo: `Usage: proxmox-mcp demo [--transport stdio|http]

Serves MCP against a built-in SIMULATED three-node cluster; needs no configuration. Tier full
unless PVE_ACCESS_TIER says otherwise; audit log in a temporary directory unless AUDIT_LOG_PATH.
Over http it prints a test token for user admin.`,
  "hash-password": `Usage: proxmox-mcp hash-password < password-line

Reads one line (the password; newline removed) on stdin and prints only its scrypt PHC hash,
for the passwordHash of a user in MCP_USERS_FILE.`,
  simulator: `Usage: proxmox-mcp simulator [--port N] [--host H]

Runs only the simulated cluster until Ctrl-C; prints one JSON line
{url, host, port, tokenId, tokenSecret, fingerprint, nodes} to point a client at it.`,
  tools: `Usage: proxmox-mcp tools [--all] [--json|--markdown]

Prints the tool catalog as exposed under the current policy (PVE_ACCESS_TIER, PVE_CATEGORIES, ...).
  --all        every tool, whatever the policy
  --json       one JSON array with every field
  --markdown   a Markdown table`,
  doctor: DOCTOR_USAGE,
  bootstrap: BOOTSTRAP_USAGE,
  setup: SETUP_USAGE,
}

const dispatch = (
  command: string,
  args: ReadonlyArray<string>,
  env: Environment,
  io: CliIo,
): Effect.Effect<number> => {
  const usage = COMMAND_USAGE[command]
  if (usage !== undefined && (args.includes("--help") || args.includes("-h"))) {
    return Effect.sync(() => {
      process.stdout.write(`${usage}\n`)
      return 0
    })
  }
  switch (command) {
    case "doctor":
      return doctor(args, env)
    case "bootstrap":
      return bootstrap(args, env)
    case "setup":
      return setup(args, env)
    case "run":
      return run(args, env, io)
    case "demo":
      return demo(args, env, io)
    case "simulator":
      return simulator(args)
    case "tools":
      return Effect.sync(() => tools(args, env))
    case "audit":
      return Effect.promise(() => runAuditCommand(args, env))
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

/**
 * The command line as one program; its value is the exit code. `io`: the streams `run` and
 * `demo` serve on and the terminal `run` announces itself to (the process's by default).
 */
export const cli = (
  argv: ReadonlyArray<string>,
  env: Environment = process.env,
  io: CliIo = processIo(),
): Effect.Effect<number> => {
  const [command = "run", ...args] = argv
  return Effect.suspend(() => dispatch(command, args, env, io)).pipe(
    Effect.catchAllDefect((defect) => {
      if (!(defect instanceof UsageError)) return Effect.die(defect)
      say(`proxmox-mcp: ${defect.message}\n\n${USAGE}`)
      return Effect.succeed(2)
    }),
  )
}
