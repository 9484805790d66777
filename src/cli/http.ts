/**
 * `run --transport http` and `demo --transport http`: the HTTP server composed at the edge.
 * Loaded with `import()` only when the transport is HTTP, so the stdio path never pays for it.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { layerFile } from "../audit/file.js"
import { Audit } from "../audit/port.js"
import * as Auth from "../auth/auth.js"
import { type Directory, loadDirectory, type UsersError } from "../auth/users.js"
import { type AuthConfig, type HttpConfig, isLoopbackHost } from "../config/http.js"
import { LOCAL_PRINCIPAL } from "../domain/principal.js"
import { makeRedactor, Redactor, type RedactorService } from "../domain/redact.js"
import { makeReadiness } from "../http/ready.js"
import * as HttpEdge from "../http/server.js"
import { stderrLoggerLayer, toolLayer } from "../layers.js"
import * as McpHttp from "../mcp/http.js"
import * as McpServer from "../mcp/server.js"
import { proxmoxTransportLayer } from "../proxmox/transport.js"
import { say } from "./args.js"
import type { Terminal } from "./io.js"
import type { ServeOptions } from "./serve.js"
import { announceStart, servedFacts } from "./startup.js"
import { VERSION } from "./version.js"

export interface HttpServeOptions extends ServeOptions {
  readonly http: HttpConfig
  readonly auth: AuthConfig
  /** demo: print a token for this user once listening (the user is created when missing). */
  readonly demoUser?: string
}

/**
 * The whole HTTP server as one layer: edge, sessions, auth, MCP server, tools, the given audit
 * sink, the redactor and the HTTPS client. `directory` undefined = no authentication
 * (`MCP_AUTH=none`).
 */
export const httpServerLayer = <E>(
  options: HttpServeOptions,
  services: {
    readonly redactor: RedactorService
    readonly audit: Layer.Layer<Audit, E>
    readonly directory: Directory | undefined
  },
) => {
  const core = Layer.mergeAll(
    toolLayer(options.proxmox, options.policy),
    services.audit,
    Layer.succeed(Redactor, services.redactor),
  ).pipe(Layer.provideMerge(proxmoxTransportLayer(options.proxmox)))
  const mcp = McpServer.layer({
    version: VERSION,
    operator: { ...LOCAL_PRINCIPAL, sub: "server", role: "server", transport: "http" },
    maxResultBytes: options.server.maxResultBytes,
    listAliases: options.server.listAliases,
    ...(options.instructions === undefined ? {} : { instructions: options.instructions }),
  }).pipe(Layer.provideMerge(core))
  // Without users (MCP_AUTH=none) there is no Auth service; the edge then serves the anonymous principal.
  const auth: Layer.Layer<Auth.Auth, UsersError, Audit> | Layer.Layer<never> =
    services.directory === undefined
      ? Layer.empty
      : Auth.layer(options.auth, services.directory, { acceptForeignLogins: options.http.stateless })
  const edge = Layer.unwrapEffect(
    Effect.map(makeReadiness(options.proxmox), (ready) =>
      HttpEdge.layer({
        http: options.http,
        proxmox: options.proxmox,
        maxResultBytes: options.server.maxResultBytes,
        ready,
      }),
    ),
  )
  return edge.pipe(
    Layer.provideMerge(
      McpHttp.layer({
        stateless: options.http.stateless,
        sessionIdleMs: options.http.sessionIdleMs,
        maxSessions: options.http.maxSessions,
      }),
    ),
    Layer.provideMerge(auth),
    Layer.provideMerge(mcp),
  )
}

/**
 * The users, plus the demo's user when it is missing. It has no usable password (the hash is
 * not a PHC string, so every password is wrong): only the token the demo prints logs it in.
 */
const directoryFor = (options: HttpServeOptions) =>
  Effect.gen(function* () {
    const directory = yield* loadDirectory(options.auth)
    const demoUser = options.demoUser
    if (demoUser === undefined || directory.users.has(demoUser)) return directory
    const users = new Map(directory.users)
    users.set(demoUser, { username: demoUser, passwordHash: "!no-password", role: "admin" })
    return { ...directory, users }
  })

/** `terminal`: where to write the start line (see `startup.ts`); absent for the demo. */
export const serveHttp = (options: HttpServeOptions, terminal?: Terminal): Effect.Effect<number> => {
  const redactor = makeRedactor({
    knownSecrets: [
      ...options.proxmox.endpoints.map((e) => e.tokenSecret),
      ...Option.toArray(options.auth.jwtSecret),
      ...Option.toArray(options.auth.adminPassword),
      ...(options.audit.hmacKey === undefined ? [] : [options.audit.hmacKey]),
    ],
  })
  return Effect.gen(function* () {
    if (options.http.auth === "none" && !isLoopbackHost(options.http.host)) {
      say(
        "proxmox-mcp: configuration error:\nMCP_AUTH=none is only allowed on a loopback MCP_HOST (127.0.0.1, ::1, localhost)",
      )
      return 2
    }
    if (
      options.http.auth === "jwt" &&
      !isLoopbackHost(options.http.host) &&
      options.http.allowedHosts.length === 0
    ) {
      say(
        "proxmox-mcp: configuration error:\nMCP_ALLOWED_HOSTS: required when MCP_HOST is not a loopback address (the names clients use; DNS-rebinding protection)",
      )
      return 2
    }
    const directory = options.http.auth === "none" ? undefined : yield* directoryFor(options)
    return yield* Effect.gen(function* () {
      const server = yield* HttpEdge.HttpEdge
      const mode = options.http.auth === "none" ? "NONE (loopback only)" : "bearer JWT"
      say(
        `proxmox-mcp: MCP over HTTP at ${server.url}/mcp (auth: ${mode}${options.http.stateless ? ", stateless" : ""})`,
      )
      if (terminal !== undefined) {
        // Every tool the policy exposes is listed over HTTP (no toolsets: see httpServerLayer).
        const audit = yield* Audit
        const facts = servedFacts({
          policy: options.policy,
          auditPath: audit.currentFile?.() ?? options.audit.path,
        })
        yield* Effect.fork(announceStart(terminal, facts, redactor.text))
      }
      const auth = yield* Effect.serviceOption(Auth.Auth)
      if (options.demoUser !== undefined && Option.isSome(auth)) {
        const pair = yield* auth.value.issue(options.demoUser)
        say(
          `proxmox-mcp: test token for '${options.demoUser}' (valid ${pair.expires_in} s):\n${pair.access_token}`,
        )
      }
      return yield* Effect.never
    }).pipe(
      Effect.provide(
        httpServerLayer(options, { redactor, directory, audit: layerFile({ ...options.audit, redactor }) }),
      ),
    )
  }).pipe(
    Effect.catchAll((error) =>
      Effect.sync(() => {
        say(`proxmox-mcp: ${redactor.text(error.message)}`)
        return 1
      }),
    ),
    Effect.provide(stderrLoggerLayer(options.server.logLevel, redactor.line)),
  )
}
