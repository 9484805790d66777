/**
 * The Ssh port: runs an argv on a host over SSH, and its `ssh2` live layer.
 *
 * - Connections are pooled per route (an `RcMap` with an idle time to live) and closed when the
 *   layer is released. A route is a host, or a host reached through the entry host (`via`): the
 *   second connection runs over a `direct-tcpip` channel of the first, never over a command
 *   built on the entry host.
 * - Every server key is verified (`known-hosts.ts`): known_hosts or a pinned fingerprint, else
 *   refused; PROXMOX_SSH_ACCEPT_NEW records a new host's key instead.
 * - A command is an argv, quoted once by `commandLine`. Its output is capped per stream (the
 *   rest is read and discarded, `truncated` says so), it has a timeout, and interrupting it
 *   (a timeout, a cancelled MCP call) signals the remote process and closes the channel.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import type { Duplex } from "node:stream"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as RcMap from "effect/RcMap"
import type * as Scope from "effect/Scope"
import type { Client, ClientChannel, ConnectConfig } from "ssh2"
import type { SshAddress, SshSettings } from "../config/ssh.js"
import { SshError } from "../domain/errors.js"
import { traced } from "../domain/tracing.js"
import { commandLine } from "./command.js"
import {
  fingerprintOf,
  hostLookupName,
  type KnownHostEntry,
  knownHostsLine,
  parseKnownHosts,
  verifyKnownHosts,
} from "./known-hosts.js"

/** Where a command runs: `target`, reached directly or through `via` (the entry host). */
export interface SshRoute {
  readonly target: SshAddress
  readonly via?: SshAddress | undefined
}

export interface ExecOptions {
  readonly timeoutMs?: number
  readonly maxOutputBytes?: number
}

export interface ExecResult {
  /** Null when the command ended by a signal. */
  readonly exitCode: number | null
  readonly signal?: string
  readonly stdout: string
  readonly stderr: string
  /** Some output went over the cap and was discarded. */
  readonly truncated: boolean
  /** Bytes the command wrote (before the cap). */
  readonly stdoutBytes: number
  readonly stderrBytes: number
}

export interface SshService {
  /** Opens (or reuses) the route's connection; fails at stage `connect`, nothing ran. */
  readonly connect: (route: SshRoute) => Effect.Effect<void, SshError>
  /** Runs argv on the route's host. Failures after the command started are stage `command`. */
  readonly exec: (
    route: SshRoute,
    argv: ReadonlyArray<string>,
    options?: ExecOptions,
  ) => Effect.Effect<ExecResult, SshError>
  /** Channels open right now (for `doctor` and tests: a cancelled command leaves none). */
  readonly openChannels: Effect.Effect<number>
}

export class Ssh extends Context.Tag("proxmox-mcp/Ssh")<Ssh, SshService>() {}

export interface SshLayerOptions {
  /**
   * Opens the TCP connection to a host reached directly (default: ssh2 connects itself). A seam
   * for embedders with their own network path, and for tests that model a node reachable only
   * from the entry host.
   */
  readonly openSocket?: (address: SshAddress) => Effect.Effect<Duplex, SshError>
}

const label = (address: SshAddress) => `${address.user}@${hostLookupName(address.host, address.port)}`

const routeLabel = (route: SshRoute) =>
  route.via === undefined ? label(route.target) : `${label(route.target)} via ${label(route.via)}`

/** A route as a pool key: compared by value (`Data.struct`). */
interface RouteKey {
  readonly target: SshAddress
  readonly via: SshAddress | undefined
}

const keyOf = (route: SshRoute): RouteKey =>
  Data.struct({
    target: Data.struct({ ...route.target }),
    via: route.via === undefined ? undefined : Data.struct({ ...route.via }),
  })

interface Connection {
  readonly client: Client
  closed: boolean
}

/** ssh2's socket and protocol errors as the stable codes (connect stage: nothing ran). */
const connectError = (host: string, error: unknown): SshError => {
  const err = error instanceof Error ? error : new Error(String(error))
  const code = "code" in err ? String(err.code) : ""
  const level = "level" in err ? String(err.level) : ""
  const make = (c: SshError["code"], message: string, hint?: string) =>
    new SshError({ code: c, message, host, stage: "connect", ...(hint === undefined ? {} : { hint }) })
  if (level === "client-authentication")
    return make(
      "SSH_AUTH_FAILED",
      `SSH authentication to ${host} failed`,
      "Check that the public key of PROXMOX_SSH_KEY_PATH is in the user's authorized_keys on that host.",
    )
  if (level === "client-timeout") return make("TIMEOUT", `SSH connection to ${host} timed out`)
  if (code === "ECONNREFUSED") return make("CONNECTION_REFUSED", `SSH connection to ${host} was refused`)
  if (code === "ENOTFOUND" || code === "EAI_AGAIN" || level === "client-dns")
    return make("DNS_RESOLUTION_FAILED", `The SSH host ${host} could not be resolved`)
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH")
    return make("HOST_UNREACHABLE", `The SSH host ${host} is unreachable`)
  if (code === "ETIMEDOUT") return make("TIMEOUT", `SSH connection to ${host} timed out`)
  if (code === "ECONNRESET" || code === "EPIPE")
    return make("CONNECTION_RESET", `The SSH connection to ${host} was reset`)
  return make("SSH_ERROR", `SSH connection to ${host} failed: ${err.message}`)
}

/** Codes that mean the host could not be reached at all (the `auto` strategy may try a hop). */
export const isUnreachable = (error: SshError): boolean =>
  error.stage === "connect" &&
  ["CONNECTION_REFUSED", "HOST_UNREACHABLE", "DNS_RESOLUTION_FAILED", "TIMEOUT", "CONNECTION_RESET"].includes(
    error.code,
  )

type Verdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: "unknown" | "changed" | "revoked"; readonly fingerprint: string }

export const make = (
  settings: SshSettings,
  options: SshLayerOptions = {},
): Effect.Effect<SshService, ConfigError.ConfigError, Scope.Scope> =>
  Effect.gen(function* () {
    const keyPath = settings.keyPath
    const privateKey =
      keyPath === undefined
        ? undefined
        : yield* Effect.try({
            try: () => fs.readFileSync(keyPath),
            catch: (error) =>
              ConfigError.InvalidData(
                [],
                `PROXMOX_SSH_KEY_PATH: cannot read ${keyPath} (${error instanceof Error && "code" in error ? String(error.code) : "unreadable"})`,
              ),
          })
    let channels = 0
    // ssh2 is loaded on the first connection: a server without SSH never pays for it at start-up.
    const ssh2 = yield* Effect.cached(Effect.promise(() => import("ssh2")))

    const readKnownHosts = (): ReadonlyArray<KnownHostEntry> => {
      try {
        return parseKnownHosts(fs.readFileSync(settings.knownHostsPath, "utf8"))
      } catch {
        // A missing file knows no host: every key is unknown, so every connection is refused.
        return []
      }
    }

    /** Decides a presented key; read fresh on each connection, so an edited file takes effect. */
    const verify = (address: SshAddress, key: Buffer): Verdict => {
      const fingerprint = fingerprintOf(key)
      const pins = [
        ...(settings.fingerprints.get(address.host) ?? []),
        ...(settings.fingerprints.get("*") ?? []),
      ]
      if (pins.includes(fingerprint)) return { ok: true }
      const name = hostLookupName(address.host, address.port)
      const verdict = verifyKnownHosts(readKnownHosts(), name, key)
      switch (verdict._tag) {
        case "Trusted":
          return { ok: true }
        case "Revoked":
          return { ok: false, reason: "revoked", fingerprint }
        case "Changed":
          return { ok: false, reason: "changed", fingerprint }
        case "Unknown":
          // A pinned host with another key has changed too; only a host known nowhere is new.
          if (pins.length > 0) return { ok: false, reason: "changed", fingerprint }
          if (!settings.acceptNew) return { ok: false, reason: "unknown", fingerprint }
          fs.appendFileSync(settings.knownHostsPath, knownHostsLine(name, key, randomBytes(20)), {
            mode: 0o600,
          })
          return { ok: true }
      }
    }

    const refusal = (address: SshAddress, verdict: Verdict & { ok: false }) =>
      new SshError({
        code: "SSH_HOST_KEY_REJECTED",
        host: label(address),
        stage: "connect",
        reason: verdict.reason,
        fingerprint: verdict.fingerprint,
        message:
          verdict.reason === "unknown"
            ? `The host key of ${label(address)} (${verdict.fingerprint}) is not known: refused`
            : verdict.reason === "changed"
              ? `The host key of ${label(address)} CHANGED (now ${verdict.fingerprint}): refused. This may be an attack, or the host was reinstalled.`
              : `The host key of ${label(address)} (${verdict.fingerprint}) is revoked: refused`,
        hint:
          verdict.reason === "unknown"
            ? "Add the host's key to PROXMOX_SSH_KNOWN_HOSTS (ssh-keyscan, checked out of band) or pin it in PROXMOX_SSH_HOST_FINGERPRINTS."
            : "Check the host's key out of band before changing PROXMOX_SSH_KNOWN_HOSTS or PROXMOX_SSH_HOST_FINGERPRINTS.",
      })

    /** One SSH handshake over `sock` (or a socket ssh2 opens itself). */
    const handshake = (address: SshAddress, sock: Duplex | undefined) =>
      Effect.flatMap(ssh2, ({ Client: SshClient }) => handshakeWith(SshClient, address, sock))

    const handshakeWith = (
      SshClient: typeof import("ssh2").Client,
      address: SshAddress,
      sock: Duplex | undefined,
    ) =>
      Effect.async<Connection, SshError>((resume) => {
        const client = new SshClient()
        const connection: Connection = { client, closed: false }
        let rejected: SshError | undefined
        let settled = false
        const settle = (effect: Effect.Effect<Connection, SshError>) => {
          if (settled) return
          settled = true
          resume(effect)
        }
        client.on("ready", () => settle(Effect.succeed(connection)))
        client.on("error", (error) => {
          connection.closed = true
          settle(Effect.fail(rejected ?? connectError(label(address), error)))
        })
        client.on("close", () => {
          connection.closed = true
          settle(Effect.fail(rejected ?? connectError(label(address), new Error("connection closed"))))
        })
        const config: ConnectConfig = {
          host: address.host,
          port: address.port,
          username: address.user,
          readyTimeout: settings.connectTimeoutMs,
          keepaliveInterval: 15_000,
          keepaliveCountMax: 3,
          hostVerifier: (key: Buffer) => {
            const verdict = verify(address, key)
            if (!verdict.ok) rejected = refusal(address, verdict)
            return verdict.ok
          },
          ...(privateKey === undefined ? {} : { privateKey }),
          ...(sock === undefined ? {} : { sock }),
        }
        client.connect(config)
        return Effect.sync(() => client.end())
      })

    const release = (connection: Connection) =>
      Effect.sync(() => {
        connection.closed = true
        connection.client.end()
      })

    /** A `direct-tcpip` channel from the entry host to `target`. */
    const forward = (via: Connection, viaAddress: SshAddress, target: SshAddress) =>
      Effect.async<Duplex, SshError>((resume) => {
        via.client.forwardOut("127.0.0.1", 0, target.host, target.port, (error, stream) => {
          if (error)
            resume(
              Effect.fail(
                new SshError({
                  code: "CONNECTION_REFUSED",
                  host: label(target),
                  stage: "connect",
                  message: `${label(viaAddress)} could not open a connection to ${hostLookupName(target.host, target.port)}: ${error.message}`,
                }),
              ),
            )
          else resume(Effect.succeed(stream))
        })
      })

    const pool: RcMap.RcMap<RouteKey, Connection, SshError> = yield* RcMap.make({
      lookup: (key: RouteKey) =>
        Effect.gen(function* () {
          const target = key.target
          if (key.via === undefined) {
            const sock = options.openSocket === undefined ? undefined : yield* options.openSocket(target)
            return yield* Effect.acquireRelease(handshake(target, sock), release)
          }
          // The entry connection is held for as long as the hop connection lives.
          const via = yield* connection({ target: key.via })
          const stream = yield* forward(via, key.via, target)
          return yield* Effect.acquireRelease(handshake(target, stream), release)
        }),
      idleTimeToLive: Duration.millis(settings.idleTimeoutMs),
    })

    /** The route's live connection (a dropped one is replaced once). */
    const connection = (route: SshRoute): Effect.Effect<Connection, SshError, Scope.Scope> => {
      const key = keyOf(route)
      return Effect.flatMap(RcMap.get(pool, key), (conn) =>
        conn.closed
          ? Effect.zipRight(RcMap.invalidate(pool, key), RcMap.get(pool, key))
          : Effect.succeed(conn),
      )
    }

    const run = (conn: Connection, host: string, line: string, maxBytes: number) =>
      Effect.async<ExecResult, SshError>((resume) => {
        let channel: ClientChannel | undefined
        let done = false
        // Counted open from the moment the server opened it until either side closes it.
        let counted = false
        const release = () => {
          if (counted) channels -= 1
          counted = false
        }
        const out = { chunks: [] as Array<Buffer>, kept: 0, total: 0 }
        const err = { chunks: [] as Array<Buffer>, kept: 0, total: 0 }
        const collect = (into: typeof out) => (chunk: Buffer) => {
          into.total += chunk.length
          const room = maxBytes - into.kept
          if (room <= 0) return
          const part = chunk.length > room ? chunk.subarray(0, room) : chunk
          into.chunks.push(part)
          into.kept += part.length
        }
        const fail = (message: string) =>
          resume(Effect.fail(new SshError({ code: "SSH_ERROR", host, stage: "command", message })))
        conn.client.exec(line, (error, opened) => {
          if (error) {
            // The server refused to open a session: the command did not start.
            resume(Effect.fail(connectError(host, error)))
            return
          }
          channel = opened
          channels += 1
          counted = true
          let exitCode: number | null = null
          let signal: string | undefined
          let exited = false
          opened.on("data", collect(out))
          opened.stderr.on("data", collect(err))
          opened.on("exit", (code: number | null, sig?: string) => {
            exited = true
            exitCode = typeof code === "number" ? code : null
            if (typeof sig === "string") signal = sig
          })
          opened.on("close", () => {
            release()
            if (done) return
            done = true
            // Closed without an exit status: the connection dropped while the command ran.
            if (!exited) {
              resume(
                Effect.fail(
                  new SshError({
                    code: "CONNECTION_RESET",
                    host,
                    stage: "command",
                    message: `The SSH connection to ${host} closed before the command reported its exit status; it may have run.`,
                    hint: "Check the effect of the command before running it again.",
                  }),
                ),
              )
              return
            }
            resume(
              Effect.succeed({
                exitCode,
                ...(signal === undefined ? {} : { signal }),
                stdout: Buffer.concat(out.chunks).toString("utf8"),
                stderr: Buffer.concat(err.chunks).toString("utf8"),
                truncated: out.total > out.kept || err.total > err.kept,
                stdoutBytes: out.total,
                stderrBytes: err.total,
              }),
            )
          })
          opened.on("error", (e: Error) => {
            if (done) return
            done = true
            fail(`SSH channel error on ${host}: ${e.message}`)
          })
        })
        // Interrupted (timeout, cancelled call): stop the remote process and close the channel.
        return Effect.sync(() => {
          done = true
          if (channel === undefined) return
          try {
            channel.signal("KILL")
          } catch {
            // The channel may be closing already; closing it is what matters.
          }
          channel.close()
          release()
        })
      })

    const exec = (route: SshRoute, argv: ReadonlyArray<string>, execOptions: ExecOptions = {}) =>
      Effect.scoped(
        Effect.gen(function* () {
          const conn = yield* connection(route)
          const timeoutMs = execOptions.timeoutMs ?? settings.commandTimeoutMs
          const host = routeLabel(route)
          return yield* run(
            conn,
            host,
            commandLine(argv),
            execOptions.maxOutputBytes ?? settings.maxOutputBytes,
          ).pipe(
            Effect.timeoutFail({
              duration: Duration.millis(timeoutMs),
              onTimeout: () =>
                new SshError({
                  code: "TIMEOUT",
                  host,
                  stage: "command",
                  message: `The command did not finish within ${timeoutMs} ms on ${host}; it was stopped and its channel closed.`,
                }),
            }),
          )
        }),
      ).pipe((exec) => traced("Ssh.exec", { host: routeLabel(route), command: argv[0] }, exec))

    return Ssh.of({
      connect: (route) => Effect.scoped(Effect.asVoid(connection(route))),
      exec,
      openChannels: Effect.sync(() => channels),
    })
  })

export const layer = (
  settings: SshSettings,
  options: SshLayerOptions = {},
): Layer.Layer<Ssh, ConfigError.ConfigError> => Layer.scoped(Ssh, make(settings, options))
