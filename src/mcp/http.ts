/**
 * MCP over Streamable HTTP: the SDK's web-standard transport inside, one per session, each
 * served by the one `McpServer` (so every session shares the Proxmox client, caches and audit).
 * The HTTP edge (`src/http/`) authenticates a request and hands it here as a web `Request` with
 * its principal and already-read body.
 *
 * Stateful (default): `initialize` opens a session bound to the principal that opened it; a
 * request on it with another `sub` is 403. Sessions idle longer than `MCP_SESSION_IDLE_MS`
 * (no request started) are closed by a sweeper on the Effect clock; past `MCP_MAX_SESSIONS` a
 * new session is refused with 503. DELETE ends a session.
 * Stateless (`MCP_HTTP_STATELESS=true`): every POST is served by a fresh transport in JSON
 * response mode and closed after it; there is no GET stream and no elicitation.
 */
import * as crypto from "node:crypto"
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js"
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import type { Principal } from "../domain/principal.js"
import { type Connection, McpServer } from "./server.js"

export interface McpHttpOptions {
  readonly stateless: boolean
  readonly sessionIdleMs: number
  readonly maxSessions: number
}

export interface McpHttpService {
  /** Serves one request on `/mcp` for an authenticated principal. */
  readonly handle: (request: Request, principal: Principal, parsedBody: unknown) => Effect.Effect<Response>
  /** Open sessions (stateful mode). */
  readonly sessionCount: () => number
}

export class McpHttp extends Context.Tag("proxmox-mcp/McpHttp")<McpHttp, McpHttpService>() {}

/** The transport, telling when the SDK server has connected to it (handlers are in place). */
class SessionTransport extends WebStandardStreamableHTTPServerTransport {
  readonly started = Deferred.unsafeMake<void>(FiberId.none)
  override async start() {
    await super.start()
    Deferred.unsafeDone(this.started, Exit.void)
  }
}

interface Session {
  readonly transport: SessionTransport
  readonly sub: string
  lastSeen: number
}

const jsonRpcError = (status: number, code: number, message: string, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }), {
    status,
    headers: { "content-type": "application/json", ...headers },
  })

export const make = (options: McpHttpOptions) =>
  Effect.gen(function* () {
    const mcp = yield* McpServer
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()
    const serving = yield* FiberSet.make<void>()
    const run = yield* FiberSet.runtime(serving)<never>()
    const sessions = new Map<string, Session>()
    /** Each request's principal, by the AuthInfo object the SDK hands to the handlers. */
    const principals = new WeakMap<object, Principal>()

    const connection: Connection = {
      principalOf: (request) => {
        const info = request.authInfo
        const principal = typeof info === "object" && info !== null ? principals.get(info) : undefined
        // Fails closed: a request the edge did not authenticate runs nothing.
        if (principal === undefined) throw new Error("unauthenticated request")
        return principal
      },
    }

    const authInfoFor = (principal: Principal): AuthInfo => {
      const info: AuthInfo = { token: "", clientId: principal.sub, scopes: [] }
      principals.set(info, principal)
      return info
    }

    /** Starts serving a transport and waits until the SDK server is connected to it. */
    const connect = (transport: SessionTransport) =>
      Effect.gen(function* () {
        run(mcp.serve(transport, connection))
        yield* Deferred.await(transport.started)
      })

    const close = (transport: SessionTransport) =>
      Effect.promise(() => transport.close().catch(() => undefined))

    yield* Effect.addFinalizer(() =>
      Effect.forEach([...sessions.values()], (session) => close(session.transport), { discard: true }).pipe(
        Effect.andThen(Effect.sync(() => sessions.clear())),
      ),
    )

    // Idle sessions are closed: the SDK never expires them and its client's close() sends no DELETE.
    const sweepEvery = Duration.millis(Math.max(250, Math.min(options.sessionIdleMs / 4, 60_000)))
    yield* Effect.forkScoped(
      Effect.gen(function* () {
        const at = now()
        for (const [id, session] of sessions) {
          if (at - session.lastSeen < options.sessionIdleMs) continue
          sessions.delete(id)
          yield* close(session.transport)
        }
      }).pipe(Effect.repeat(Schedule.spaced(sweepEvery))),
    )

    const handleStateless = (request: Request, principal: Principal, parsedBody: unknown) =>
      Effect.gen(function* () {
        if (request.method !== "POST")
          return jsonRpcError(405, -32000, "Method not allowed: this server is stateless (POST only).", {
            allow: "POST",
          })
        const transport = new SessionTransport({ enableJsonResponse: true })
        yield* connect(transport)
        return yield* Effect.promise(() =>
          transport.handleRequest(request, { parsedBody, authInfo: authInfoFor(principal) }),
        ).pipe(Effect.ensuring(close(transport)))
      })

    const handleStateful = (request: Request, principal: Principal, parsedBody: unknown) =>
      Effect.gen(function* () {
        const id = request.headers.get("mcp-session-id")
        if (id === null) {
          if (request.method !== "POST")
            return jsonRpcError(400, -32000, "Bad Request: Mcp-Session-Id header is required")
          if (sessions.size >= options.maxSessions)
            return jsonRpcError(503, -32000, "Too many open sessions; try again later.", {
              "retry-after": "60",
            })
          const transport: SessionTransport = new SessionTransport({
            sessionIdGenerator: () => crypto.randomUUID(),
            onsessioninitialized: (sessionId) => {
              sessions.set(sessionId, { transport, sub: principal.sub, lastSeen: now() })
            },
            onsessionclosed: (sessionId) => {
              sessions.delete(sessionId)
            },
          })
          yield* connect(transport)
          const response = yield* Effect.promise(() =>
            transport.handleRequest(request, { parsedBody, authInfo: authInfoFor(principal) }),
          )
          // Not an initialize (or a refused one): no session was opened, so nothing keeps it.
          if (transport.sessionId === undefined || !sessions.has(transport.sessionId)) yield* close(transport)
          return response
        }
        const session = sessions.get(id)
        if (session === undefined) return jsonRpcError(404, -32001, "Session not found")
        if (session.sub !== principal.sub)
          return jsonRpcError(403, -32000, "Forbidden: this session belongs to another user")
        session.lastSeen = now()
        return yield* Effect.promise(() =>
          session.transport.handleRequest(request, { parsedBody, authInfo: authInfoFor(principal) }),
        )
      })

    return McpHttp.of({
      handle: (request, principal, parsedBody) =>
        options.stateless
          ? handleStateless(request, principal, parsedBody)
          : handleStateful(request, principal, parsedBody),
      sessionCount: () => sessions.size,
    })
  })

export const layer = (options: McpHttpOptions) => Layer.scoped(McpHttp, make(options))
