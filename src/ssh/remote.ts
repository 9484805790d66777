/**
 * Remote commands on cluster nodes: which host runs a command for a node, and by which route
 * (PROXMOX_SSH_STRATEGY), and the audit of every command (host, argv, exit status; never its
 * output) in the call's upstream log.
 *
 * - The entry host (PROXMOX_SSH_HOST) is node PROXMOX_SSH_NODE_NAME, or whatever `hostname`
 *   says there (asked once).
 * - Another node's address: PROXMOX_SSH_NODES, else its IP in `/cluster/status` with
 *   PROXMOX_SSH_PORT / PROXMOX_SSH_USER.
 * - `direct` connects to that address; `hop` reaches it through the entry host (a direct-tcpip
 *   channel); `auto` tries direct and falls back to hop only when the node could not be reached
 *   (refused, unreachable, unresolvable, timed out), never after a host-key or login refusal and
 *   never once a command ran; `disabled` fails with SSH_DISABLED before anything else.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { UpstreamLog } from "../audit/upstream.js"
import { type SshAddress, type SshSettings, sshConfigured } from "../config/ssh.js"
import { SshDisabled, SshError, UnknownNode } from "../domain/errors.js"
import { NODE_NAME_PATTERN } from "../domain/ids.js"
import { traced } from "../domain/tracing.js"
import { type ApiError, ProxmoxApi } from "../proxmox/api.js"
import { commandLine } from "./command.js"
import { type ExecOptions, type ExecResult, isUnreachable, Ssh, type SshRoute } from "./ssh.js"

export interface RemoteResult extends ExecResult {
  /** The node the command ran on. */
  readonly node: string
  /** How it was reached (`user@host` or `user@host via user@entry`). */
  readonly route: string
}

export type RemoteError = SshDisabled | SshError | UnknownNode | ApiError

export interface RemoteService {
  /** Whether SSH is configured at all (the remote tools are hidden otherwise). */
  readonly configured: boolean
  /** Fails with SSH_DISABLED unless SSH is configured: tools check it before any other work. */
  readonly enabled: Effect.Effect<void, SshDisabled>
  /** The login user on the entry host. */
  readonly user: string | undefined
  /** Runs argv on `node` (undefined: the entry host's node). */
  readonly run: (
    node: string | undefined,
    argv: ReadonlyArray<string>,
    options?: ExecOptions,
  ) => Effect.Effect<RemoteResult, RemoteError>
}

export class Remote extends Context.Tag("proxmox-mcp/Remote")<Remote, RemoteService>() {}

const label = (address: SshAddress) =>
  `${address.user}@${address.port === 22 ? address.host : `[${address.host}]:${address.port}`}`

const routeLabel = (route: SshRoute) =>
  route.via === undefined ? label(route.target) : `${label(route.target)} via ${label(route.via)}`

const disabled = new SshDisabled({
  message: "SSH is not configured (or PROXMOX_SSH_STRATEGY=disabled): remote tools cannot run.",
})

export const make = (settings: SshSettings) =>
  Effect.gen(function* () {
    const ssh = yield* Ssh
    const api = yield* ProxmoxApi
    const log = yield* UpstreamLog
    const entry = settings.entry
    let learnedNode: string | undefined = settings.nodeName

    /** Runs argv on the route, recording it (host, argv, exit status) in the call's upstream log. */
    const audited = (node: string, route: SshRoute, argv: ReadonlyArray<string>, options?: ExecOptions) =>
      ssh.exec(route, argv, options).pipe(
        Effect.onExit((exit) =>
          log.record({
            node,
            method: "SSH",
            path: commandLine(argv),
            status: Exit.isSuccess(exit) ? (exit.value.exitCode ?? -1) : -1,
            host: routeLabel(route),
            argv: [...argv],
          }),
        ),
      )

    const entryNode = (address: SshAddress) =>
      learnedNode !== undefined
        ? Effect.succeed(learnedNode)
        : Effect.flatMap(audited("(entry host)", { target: address }, ["hostname"]), (result) => {
            // A FQDN names the node by its first label, as PVE does.
            const name = result.stdout.trim().split(".")[0] ?? ""
            if (result.exitCode !== 0 || !NODE_NAME_PATTERN.test(name))
              return Effect.fail(
                new SshError({
                  code: "SSH_ERROR",
                  host: label(address),
                  stage: "connect",
                  message: `Could not learn the entry host's node name with 'hostname' (got '${name.slice(0, 64)}')`,
                  hint: "Set PROXMOX_SSH_NODE_NAME to the entry host's node name.",
                }),
              )
            learnedNode = name
            return Effect.succeed(name)
          })

    /** The node's address: PROXMOX_SSH_NODES, else its IP from /cluster/status. */
    const addressOf = (node: string): Effect.Effect<SshAddress, UnknownNode | SshError | ApiError> => {
      const configured = settings.nodes.get(node)
      if (configured !== undefined) return Effect.succeed(configured)
      return Effect.flatMap(
        api.request({ method: "GET", path: "/cluster/status" }),
        (data): Effect.Effect<SshAddress, UnknownNode | SshError> => {
          const members = Array.isArray(data)
            ? data.filter(
                (m): m is { name: string; ip?: unknown } =>
                  typeof m === "object" && m !== null && m.type === "node" && typeof m.name === "string",
              )
            : []
          const member = members.find((m) => m.name === node)
          if (member === undefined)
            return Effect.fail(new UnknownNode({ node, knownNodes: members.map((m) => m.name) }))
          if (typeof member.ip !== "string" || member.ip === "")
            return Effect.fail(
              new SshError({
                code: "SSH_ERROR",
                host: node,
                stage: "connect",
                message: `/cluster/status gives no IP for node ${node}`,
                hint: "Give the node's SSH address in PROXMOX_SSH_NODES (name=[user@]host[:port]).",
              }),
            )
          return Effect.succeed<SshAddress>({
            host: member.ip,
            port: settings.defaultPort,
            user: settings.defaultUser,
          })
        },
      )
    }

    /** The route to run on `node`, connected (auto: direct, else hop when unreachable). */
    const routeTo = (
      entryAddress: SshAddress,
      node: string | undefined,
    ): Effect.Effect<{ readonly node: string; readonly route: SshRoute }, RemoteError> =>
      Effect.gen(function* () {
        const home = yield* entryNode(entryAddress)
        if (node === undefined || node === home) return { node: home, route: { target: entryAddress } }
        const address = yield* addressOf(node)
        switch (settings.strategy) {
          case "hop":
            return { node, route: { target: address, via: entryAddress } }
          case "auto": {
            const direct: SshRoute = { target: address }
            const reached = yield* Effect.either(ssh.connect(direct))
            if (reached._tag === "Right") return { node, route: direct }
            if (!isUnreachable(reached.left)) return yield* Effect.fail(reached.left)
            yield* Effect.logInfo(
              `${label(address)} unreachable (${reached.left.code}); hopping via the entry host`,
            )
            return { node, route: { target: address, via: entryAddress } }
          }
          default:
            return { node, route: { target: address } }
        }
      })

    const run = (
      node: string | undefined,
      argv: ReadonlyArray<string>,
      options?: ExecOptions,
    ): Effect.Effect<RemoteResult, RemoteError> =>
      Effect.gen(function* () {
        if (settings.strategy === "disabled" || entry === undefined) return yield* Effect.fail(disabled)
        const { node: actual, route } = yield* routeTo(entry, node)
        const result = yield* audited(actual, route, argv, options)
        return { ...result, node: actual, route: routeLabel(route) }
      }).pipe((run) => traced("Remote.run", { node, command: argv[0] }, run))

    const configured = sshConfigured(settings)
    return Remote.of({
      configured,
      enabled: configured ? Effect.void : Effect.fail(disabled),
      user: entry?.user,
      run,
    })
  })

export const layer = (settings: SshSettings) => Layer.effect(Remote, make(settings))
