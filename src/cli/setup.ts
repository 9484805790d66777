/**
 * `proxmox-mcp setup`: from nothing to a checked configuration. Asks for (or takes as flags) the
 * endpoint, the token and the tier; probes the endpoint and offers to pin the certificate it saw;
 * writes the server's config file (0600, in a git-ignored directory); runs `doctor` on it; and
 * writes or prints the MCP client configuration for Claude Desktop, Claude Code, VS Code and
 * Cursor. Client configurations reference the config file, so no secret is copied into them.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as readline from "node:readline/promises"
import { Writable } from "node:stream"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { Environment } from "../config/provider.js"
import { normalizeFingerprint, parseHost, TOKEN_ID_PATTERN } from "../config/proxmox.js"
import { Tiers } from "../domain/ids.js"
import { probeTls } from "../proxmox/probe.js"
import { checkFlags, flagValue, say } from "./args.js"
import { diagnose, renderReport } from "./doctor.js"

export const CLIENTS = ["claude-desktop", "claude-code", "vscode", "cursor"] as const
export type Client = (typeof CLIENTS)[number]

export const SETUP_USAGE = `Usage: proxmox-mcp setup [options]

Asks for the Proxmox endpoint, API token and access tier (or takes them as options), probes the
endpoint and offers to pin its certificate, writes the server's config file (mode 600, in a
git-ignored directory), checks it with 'doctor', and writes the MCP client configuration.
Without a terminal every value must come from options (or PROXMOX_TOKEN_SECRET for the secret).

Options:
  --host H             PROXMOX_HOST: host name, host:port, or https://host:port URL
  --token-id ID        user@realm!tokenname (see 'proxmox-mcp bootstrap' to create one)
  --tier T             read-only (default), read-execute or full
  --pin FINGERPRINT    pin this SHA-256 fingerprint
  --pin-observed       pin the certificate the endpoint shows now (trust on first use)
  --no-pin             do not pin (the certificate must then verify against the system CAs)
  --config PATH        the config file to write (default .proxmox-mcp/config.json)
  --client C           also write C's configuration: ${CLIENTS.join(", ")} (repeatable)
  --dir DIR            where project-level client files go (.mcp.json, .vscode/, .cursor/); default .
  --print-config C     only print client C's configuration for --config PATH; write nothing
The token secret is read from PROXMOX_TOKEN_SECRET, or asked for (hidden) in a terminal.`

interface Answers {
  readonly host: string
  readonly port: number
  readonly tokenId: string
  readonly tokenSecret: string
  readonly tier: string
  readonly fingerprint?: string
}

/** The binary the client should start: this installation's, by absolute path. */
const binaryPath = () => path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../bin/proxmox-mcp.js")

/** The server entry every client format shares. */
const serverEntry = (configFile: string) => ({
  command: process.execPath,
  args: [binaryPath(), "run"],
  env: { PROXMOX_MCP_CONFIG: path.resolve(configFile) },
})

const claudeDesktopFile = (env: Environment) => {
  const home = env.HOME ?? os.homedir()
  if (process.platform === "darwin")
    return path.join(home, "Library", "Application Support", "Claude", "claude_desktop_config.json")
  if (process.platform === "win32")
    return path.join(
      env.APPDATA ?? path.join(home, "AppData", "Roaming"),
      "Claude",
      "claude_desktop_config.json",
    )
  return path.join(env.XDG_CONFIG_HOME ?? path.join(home, ".config"), "Claude", "claude_desktop_config.json")
}

/** Where a client's configuration lives and the JSON to merge into it. */
export const clientConfig = (client: Client, configFile: string, dir: string, env: Environment) => {
  const entry = serverEntry(configFile)
  switch (client) {
    case "claude-desktop":
      return { file: claudeDesktopFile(env), key: "mcpServers", value: entry }
    case "claude-code":
      return { file: path.join(dir, ".mcp.json"), key: "mcpServers", value: entry }
    case "cursor":
      return { file: path.join(dir, ".cursor", "mcp.json"), key: "mcpServers", value: entry }
    case "vscode":
      return {
        file: path.join(dir, ".vscode", "mcp.json"),
        key: "servers",
        value: { type: "stdio", ...entry },
      }
  }
}

/** Adds (or replaces) the `proxmox` server in a client file, keeping everything else in it. */
const mergeClientFile = (file: string, key: string, value: unknown) => {
  let existing: Record<string, unknown> = {}
  if (fs.existsSync(file)) {
    const parsed: unknown = JSON.parse(fs.readFileSync(file, "utf8"))
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new Error(`${file} is not a JSON object; not touching it`)
    existing = parsed as Record<string, unknown>
  }
  const servers = (existing[key] as Record<string, unknown> | undefined) ?? {}
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(
    file,
    `${JSON.stringify({ ...existing, [key]: { ...servers, proxmox: value } }, null, 2)}\n`,
  )
}

/** Writes the server config 0600 in a 0700 directory that git ignores. */
const writeServerConfig = (file: string, answers: Answers) => {
  const dir = path.dirname(path.resolve(file))
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  const ignore = path.join(dir, ".gitignore")
  if (!fs.existsSync(ignore))
    fs.writeFileSync(ignore, "# written by proxmox-mcp setup: holds an API token secret\n*\n")
  const settings = {
    PROXMOX_HOST: answers.host,
    PROXMOX_PORT: String(answers.port),
    PROXMOX_TOKEN_ID: answers.tokenId,
    PROXMOX_TOKEN_SECRET: answers.tokenSecret,
    PVE_ACCESS_TIER: answers.tier,
    ...(answers.fingerprint === undefined ? {} : { PROXMOX_TLS_FINGERPRINTS: answers.fingerprint }),
  }
  const temporary = `${file}.tmp`
  fs.writeFileSync(temporary, `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o600 })
  fs.chmodSync(temporary, 0o600)
  fs.renameSync(temporary, file)
}

interface Prompter {
  readonly ask: (question: string, fallback?: string) => Promise<string>
  readonly secret: (question: string) => Promise<string>
  readonly close: () => void
}

/** Questions on stderr (stdout stays clean for --print-config); hidden input for the secret. */
const terminalPrompter = (): Prompter => {
  let muted = false
  const output = new Writable({
    write(chunk, _encoding, done) {
      if (!muted) process.stderr.write(chunk)
      done()
    },
  })
  const rl = readline.createInterface({ input: process.stdin, output, terminal: true })
  return {
    ask: async (question, fallback) => {
      const answer = (
        await rl.question(`${question}${fallback === undefined ? "" : ` [${fallback}]`}: `)
      ).trim()
      return answer === "" && fallback !== undefined ? fallback : answer
    },
    secret: async (question) => {
      process.stderr.write(`${question}: `)
      muted = true
      try {
        return (await rl.question("")).trim()
      } finally {
        muted = false
        process.stderr.write("\n")
      }
    },
    close: () => rl.close(),
  }
}

/** A value setup cannot use, or an endpoint it cannot reach: said plainly, exit 2 (or 1). */
class SetupError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message)
  }
}

const fail = (message: string, exitCode = 2): never => {
  throw new SetupError(message, exitCode)
}

const gather = async (
  args: ReadonlyArray<string>,
  env: Environment,
  prompter: Prompter | undefined,
): Promise<Answers> => {
  const need = async (flag: string, question: string, fallback?: string) => {
    const given = flagValue(args, flag)
    if (given !== undefined) return given
    if (prompter === undefined)
      return fallback ?? fail(`${flag} is required when setup runs without a terminal`)
    return prompter.ask(question, fallback)
  }
  const hostText = await need("--host", "Proxmox VE host (name, host:port or https:// URL)")
  const hostPort = /^[^:/[\]]+:\d+$/.test(hostText) ? `https://${hostText}` : hostText
  const host = parseHost(hostPort, 8006)
  if (Either.isLeft(host)) fail(String(host.left).replace(/^.*?PROXMOX_HOST/, "--host"))
  const { host: hostName, port } = Either.getOrThrow(host)
  const tokenId = await need("--token-id", "API token id (user@realm!tokenname)")
  if (!TOKEN_ID_PATTERN.test(tokenId))
    fail(`--token-id: expected user@realm!tokenname, got '${tokenId.replace(/[=:].*$/, "=…")}'`)
  const tokenSecret =
    env.PROXMOX_TOKEN_SECRET ??
    (prompter === undefined
      ? fail("the token secret is required: set PROXMOX_TOKEN_SECRET")
      : await prompter.secret("API token secret (hidden)"))
  if (tokenSecret === "") fail("the token secret is empty")
  const tier = await need("--tier", `Access tier (${Tiers.join(", ")})`, "read-only")
  if (!(Tiers as ReadonlyArray<string>).includes(tier))
    fail(`--tier: expected ${Tiers.join(", ")}, got '${tier}'`)
  return { host: hostName, port, tokenId, tokenSecret, tier }
}

/** Decides the pin from the probe, the options and (in a terminal) the user. */
const decidePin = async (
  args: ReadonlyArray<string>,
  answers: Answers,
  prompter: Prompter | undefined,
): Promise<string | undefined> => {
  const explicit = flagValue(args, "--pin")
  if (explicit !== undefined) {
    const normalized = normalizeFingerprint("--pin", explicit)
    if (Either.isLeft(normalized)) fail(String(normalized.left))
    return Either.getOrThrow(normalized)
  }
  if (args.includes("--no-pin")) return undefined
  const probe = await Effect.runPromise(probeTls({ host: answers.host, port: answers.port }))
  if (probe._tag === "Unreachable") {
    return fail(
      `cannot reach ${answers.host}:${answers.port}: ${probe.code} ${probe.message}; check the host and port (the API listens on 8006)`,
      1,
    )
  }
  say(
    `${answers.host}:${answers.port} shows a certificate${probe.subject === undefined ? "" : ` for ${probe.subject}`} with SHA-256 fingerprint\n  ${probe.fingerprint}`,
  )
  if (args.includes("--pin-observed")) return probe.fingerprint
  if (probe.trusted) {
    say("It verifies against the system's certificate authorities: no pin needed.")
    return undefined
  }
  say(`It is not trusted (${probe.untrustedReason}), as Proxmox VE's default self-signed certificate is not.`)
  if (prompter === undefined)
    return fail(
      "pass --pin-observed to pin it (compare it with the web UI first), --pin FINGERPRINT, or --no-pin",
    )
  say("Compare it with the web UI (node > System > Certificates) or `pvenode cert info` on the node.")
  const answer = (await prompter.ask("Pin this certificate? (yes/no)", "no")).toLowerCase()
  if (answer === "y" || answer === "yes") return probe.fingerprint
  return fail("not pinned: the server would refuse this certificate. Run setup again, or use PROXMOX_CA_FILE")
}

const parseClients = (args: ReadonlyArray<string>): ReadonlyArray<Client> => {
  const clients: Array<Client> = []
  args.forEach((arg, index) => {
    const value =
      arg === "--client" ? args[index + 1] : arg.startsWith("--client=") ? arg.slice(9) : undefined
    if (value === undefined) return
    if (!(CLIENTS as ReadonlyArray<string>).includes(value))
      fail(`--client: expected ${CLIENTS.join(", ")}, got '${value}'`)
    clients.push(value as Client)
  })
  return clients
}

const run = async (args: ReadonlyArray<string>, env: Environment): Promise<number> => {
  const configFile = path.resolve(flagValue(args, "--config") ?? path.join(".proxmox-mcp", "config.json"))
  const dir = path.resolve(flagValue(args, "--dir") ?? ".")
  const printOnly = flagValue(args, "--print-config")
  if (printOnly !== undefined) {
    if (!(CLIENTS as ReadonlyArray<string>).includes(printOnly))
      fail(`--print-config: expected ${CLIENTS.join(", ")}, got '${printOnly}'`)
    const { file, key, value } = clientConfig(printOnly as Client, configFile, dir, env)
    process.stdout.write(`// ${file}\n${JSON.stringify({ [key]: { proxmox: value } }, null, 2)}\n`)
    return 0
  }
  const clients = parseClients(args)
  const prompter = process.stdin.isTTY && process.stderr.isTTY ? terminalPrompter() : undefined
  try {
    const gathered = await gather(args, env, prompter)
    const fingerprint = await decidePin(args, gathered, prompter)
    const answers = { ...gathered, ...(fingerprint === undefined ? {} : { fingerprint }) }
    writeServerConfig(configFile, answers)
    say(`wrote ${configFile} (mode 600; its directory is git-ignored)`)
    for (const client of clients) {
      const { file, key, value } = clientConfig(client, configFile, dir, env)
      mergeClientFile(file, key, value)
      say(`wrote the ${client} configuration: ${file}`)
    }
    if (clients.length === 0)
      say("Client configuration: proxmox-mcp setup --print-config claude-desktop|claude-code|vscode|cursor")
    const report = await Effect.runPromise(
      diagnose({
        PROXMOX_MCP_CONFIG: configFile,
        HOME: env.HOME,
        XDG_STATE_HOME: env.XDG_STATE_HOME,
        AUDIT_LOG_PATH: env.AUDIT_LOG_PATH,
      }),
    )
    say(renderReport(report))
    return report.ok ? 0 : 1
  } finally {
    prompter?.close()
  }
}

export const setup = (args: ReadonlyArray<string>, env: Environment): Effect.Effect<number> =>
  Effect.suspend(() => {
    checkFlags(args, [
      "--host",
      "--token-id",
      "--tier",
      "--pin",
      "--pin-observed",
      "--no-pin",
      "--config",
      "--client",
      "--dir",
      "--print-config",
    ])
    return Effect.promise(() =>
      run(args, env).catch((error: unknown) => {
        if (!(error instanceof SetupError)) throw error
        say(`proxmox-mcp setup: ${error.message}`)
        return error.exitCode
      }),
    )
  })
