/**
 * SSH settings (SPEC sections 3 and 12), read and checked at startup. SSH is configured when
 * PROXMOX_SSH_KEY_PATH is set and the strategy is not `disabled`; then PROXMOX_SSH_HOST (the
 * entry host) is required. A malformed value stops startup naming the variable.
 */
import * as os from "node:os"
import * as path from "node:path"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"
import { NODE_NAME_PATTERN } from "../domain/ids.js"
import { boundedInt, flag, invalid, oneOf, optionalString } from "./values.js"

export const Strategies = ["auto", "direct", "hop", "disabled"] as const
export type Strategy = (typeof Strategies)[number]

export interface SshAddress {
  readonly host: string
  readonly port: number
  readonly user: string
}

export interface SshSettings {
  /** `disabled` when no key is configured. */
  readonly strategy: Strategy
  /** The entry host (PROXMOX_SSH_HOST/PORT/USER); absent only when disabled. */
  readonly entry?: SshAddress
  readonly keyPath?: string
  /** OpenSSH known_hosts file: read for verification, appended to with acceptNew. */
  readonly knownHostsPath: string
  /** `host=SHA256:...` pins; the key `*` applies to every host. */
  readonly fingerprints: ReadonlyMap<string, ReadonlyArray<string>>
  readonly acceptNew: boolean
  /** The entry host's node name; learned with `hostname` when absent. */
  readonly nodeName?: string
  /** Per-node addresses (PROXMOX_SSH_NODES); other nodes use their /cluster/status IP. */
  readonly nodes: ReadonlyMap<string, SshAddress>
  readonly defaultPort: number
  readonly defaultUser: string
  readonly connectTimeoutMs: number
  readonly commandTimeoutMs: number
  /** Per stream (stdout, stderr); more is discarded and reported as truncated. */
  readonly maxOutputBytes: number
  /** How long an unused pooled connection stays open. */
  readonly idleTimeoutMs: number
}

export const SSH_DISABLED: SshSettings = {
  strategy: "disabled",
  knownHostsPath: path.join(os.homedir(), ".ssh", "known_hosts"),
  fingerprints: new Map(),
  acceptNew: false,
  nodes: new Map(),
  defaultPort: 22,
  defaultUser: "root",
  connectTimeoutMs: 10_000,
  commandTimeoutMs: 60_000,
  maxOutputBytes: 64 * 1024,
  idleTimeoutMs: 60_000,
}

/** Whether the remote tools can run at all (they are hidden otherwise). */
export const sshConfigured = (settings: SshSettings): boolean =>
  settings.strategy !== "disabled" && settings.entry !== undefined

const USER_PATTERN = /^[a-z_][a-z0-9_.-]{0,31}$/i
const HOST_PATTERN =
  /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|[0-9a-fA-F:]+:[0-9a-fA-F:.]*)$/

/** `[user@]host[:port]` (IPv6 in brackets); the host can never look like an option. */
export const parseAddress = (
  variable: string,
  raw: string,
  defaults: { readonly port: number; readonly user: string },
): Either.Either<SshAddress, ConfigError.ConfigError> => {
  const match = /^(?:([^@\s]+)@)?(\[[^\]]+\]|[^:\s]+)(?::(\d+))?$/.exec(raw.trim())
  const user = match?.[1] ?? defaults.user
  const bracketed = match?.[2]
  const port = match?.[3] === undefined ? defaults.port : Number(match[3])
  if (match === null || bracketed === undefined || !HOST_PATTERN.test(bracketed))
    return Either.left(invalid(variable, `'${raw}' is not [user@]host[:port]`))
  if (!USER_PATTERN.test(user)) return Either.left(invalid(variable, `'${user}' is not a user name`))
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    return Either.left(invalid(variable, `port of '${raw}' is not 1..65535`))
  const host = bracketed.startsWith("[") ? bracketed.slice(1, -1) : bracketed
  return Either.right({ host, port, user })
}

/** `name=[user@]host[:port],...` */
export const parseNodes = (
  raw: string,
  defaults: { readonly port: number; readonly user: string },
): Either.Either<ReadonlyMap<string, SshAddress>, ConfigError.ConfigError> => {
  const nodes = new Map<string, SshAddress>()
  for (const item of raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")) {
    const eq = item.indexOf("=")
    const name = item.slice(0, eq)
    if (eq < 1 || !NODE_NAME_PATTERN.test(name))
      return Either.left(invalid("PROXMOX_SSH_NODES", `'${item}' is not name=[user@]host[:port]`))
    const address = parseAddress("PROXMOX_SSH_NODES", item.slice(eq + 1), defaults)
    if (Either.isLeft(address)) return Either.left(address.left)
    nodes.set(name, address.right)
  }
  return Either.right(nodes)
}

/** `SHA256:base64` (as `ssh-keygen -lf` prints it), for one host (`host=...`) or all. */
export const parseFingerprints = (
  raw: string,
): Either.Either<ReadonlyMap<string, ReadonlyArray<string>>, ConfigError.ConfigError> => {
  const pins = new Map<string, Array<string>>()
  for (const item of raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")) {
    const eq = item.indexOf("=")
    const host = eq < 0 ? "*" : item.slice(0, eq)
    const value = eq < 0 ? item : item.slice(eq + 1)
    const match = /^SHA256:([A-Za-z0-9+/]{43})=?$/.exec(value)
    if (match === null)
      return Either.left(
        invalid("PROXMOX_SSH_HOST_FINGERPRINTS", `'${item}' is not [host=]SHA256:<43 base64 characters>`),
      )
    pins.set(host, [...(pins.get(host) ?? []), `SHA256:${match[1]}`])
  }
  return Either.right(pins)
}

const fromEither = <A>(config: Config.Config<Either.Either<A, ConfigError.ConfigError>>): Config.Config<A> =>
  Config.mapOrFail(config, (either) => either)

export const sshConfig: Config.Config<SshSettings> = Config.all({
  host: optionalString("PROXMOX_SSH_HOST"),
  port: boundedInt("PROXMOX_SSH_PORT", 22, 1, 65535),
  user: optionalString("PROXMOX_SSH_USER"),
  keyPath: optionalString("PROXMOX_SSH_KEY_PATH"),
  knownHosts: optionalString("PROXMOX_SSH_KNOWN_HOSTS"),
  fingerprints: optionalString("PROXMOX_SSH_HOST_FINGERPRINTS"),
  acceptNew: flag("PROXMOX_SSH_ACCEPT_NEW", false),
  nodeName: optionalString("PROXMOX_SSH_NODE_NAME"),
  nodes: optionalString("PROXMOX_SSH_NODES"),
  connectTimeoutMs: boundedInt("PROXMOX_SSH_CONNECT_TIMEOUT_MS", 10_000, 100, 300_000),
  commandTimeoutMs: boundedInt("PROXMOX_SSH_COMMAND_TIMEOUT_MS", 60_000, 100, 3_600_000),
  maxOutputBytes: boundedInt("PROXMOX_SSH_MAX_OUTPUT_BYTES", 64 * 1024, 1024, 16 * 1024 * 1024),
  strategy: oneOf("PROXMOX_SSH_STRATEGY", Strategies, "auto"),
}).pipe(
  Config.map(({ strategy, ...raw }): Either.Either<SshSettings, ConfigError.ConfigError> => {
    const user = raw.user ?? "root"
    if (!USER_PATTERN.test(user))
      return Either.left(invalid("PROXMOX_SSH_USER", `'${user}' is not a user name`))
    const defaults = { port: raw.port, user }
    const base: SshSettings = {
      ...SSH_DISABLED,
      knownHostsPath: raw.knownHosts ?? SSH_DISABLED.knownHostsPath,
      acceptNew: raw.acceptNew,
      defaultPort: raw.port,
      defaultUser: user,
      connectTimeoutMs: raw.connectTimeoutMs,
      commandTimeoutMs: raw.commandTimeoutMs,
      maxOutputBytes: raw.maxOutputBytes,
    }
    // No key: SSH is off, whatever else is set (SPEC 3).
    if (raw.keyPath === undefined || strategy === "disabled") return Either.right(base)
    if (raw.host === undefined)
      return Either.left(invalid("PROXMOX_SSH_HOST", "required when PROXMOX_SSH_KEY_PATH is set"))
    const entry = parseAddress("PROXMOX_SSH_HOST", raw.host, defaults)
    if (Either.isLeft(entry)) return Either.left(entry.left)
    if (raw.nodeName !== undefined && !NODE_NAME_PATTERN.test(raw.nodeName))
      return Either.left(invalid("PROXMOX_SSH_NODE_NAME", `'${raw.nodeName}' is not a node name`))
    const nodes: Either.Either<ReadonlyMap<string, SshAddress>, ConfigError.ConfigError> = raw.nodes ===
    undefined
      ? Either.right(new Map())
      : parseNodes(raw.nodes, defaults)
    if (Either.isLeft(nodes)) return Either.left(nodes.left)
    const fingerprints: Either.Either<
      ReadonlyMap<string, ReadonlyArray<string>>,
      ConfigError.ConfigError
    > = raw.fingerprints === undefined ? Either.right(new Map()) : parseFingerprints(raw.fingerprints)
    if (Either.isLeft(fingerprints)) return Either.left(fingerprints.left)
    return Either.right({
      ...base,
      strategy,
      entry: entry.right,
      keyPath: raw.keyPath,
      fingerprints: fingerprints.right,
      nodes: nodes.right,
      ...(raw.nodeName === undefined ? {} : { nodeName: raw.nodeName }),
    })
  }),
  fromEither,
)
