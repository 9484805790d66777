/**
 * The HTTP server (SPEC section 7) on `@effect/platform`'s HTTP server, Node at the edge:
 *   /health, /ready                        no auth, reveal no names or addresses
 *   POST /auth/token|refresh|logout        login, rotating refresh, logout (the `Auth` layer)
 *   POST|GET|DELETE /mcp                   Streamable HTTP MCP (`McpHttp`, the SDK inside)
 *   POST /mcp/v1/call, GET /mcp/v1/...     Sutian's REST API, same policy and audit
 *
 * Every request passes, in order: the Host allowlist (DNS rebinding), the Origin check, the
 * per-IP rate limit, authentication, the per-principal rate limit, the body cap. Every response
 * carries `Cache-Control: no-store` and `X-Content-Type-Options: nosniff`; errors carry no stack
 * or secret. The Node server has header, request and keep-alive timeouts and a header count cap.
 */
import * as http from "node:http"
import * as net from "node:net"
import { Readable } from "node:stream"
import type { ReadableStream as NodeReadableStream } from "node:stream/web"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { Auth, type AuthService } from "../auth/auth.js"
import { makeLimiter } from "../auth/limiter.js"
import { type HttpConfig, isLoopbackHost } from "../config/http.js"
import type { ProxmoxConfig } from "../config/proxmox.js"
import type { Principal } from "../domain/principal.js"
import { McpHttp } from "../mcp/http.js"
import type { Readiness } from "./ready.js"
import { makeRest } from "./rest.js"

export interface HttpServerOptions {
  readonly http: HttpConfig
  readonly proxmox: ProxmoxConfig
  readonly maxResultBytes: number
  /** The readiness probe (`makeReadiness`). */
  readonly ready: Effect.Effect<Readiness>
}

export interface RunningHttpServer {
  /** The bound port (useful with port 0). */
  readonly port: number
  readonly url: string
}

export class HttpEdge extends Context.Tag("proxmox-mcp/HttpEdge")<HttpEdge, RunningHttpServer>() {}

/** With `MCP_AUTH=none` (loopback only): every request is this principal, limited by the server's policy. */
export const ANONYMOUS: Principal = { sub: "anonymous", role: "admin", transport: "http", admin: true }

const SECURITY_HEADERS = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson(body, { status, headers })

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]", "::1"]

/** `host[:port]` -> host, lower case; IPv6 keeps its brackets. */
const hostName = (hostHeader: string) => {
  const text = hostHeader.trim().toLowerCase()
  if (text.startsWith("[")) return text.slice(0, text.indexOf("]") + 1)
  const colon = text.lastIndexOf(":")
  return colon < 0 ? text : text.slice(0, colon)
}

const normalizeIp = (ip: string) => (ip.startsWith("::ffff:") && net.isIPv4(ip.slice(7)) ? ip.slice(7) : ip)

export const make = (options: HttpServerOptions) =>
  Effect.gen(function* () {
    const config = options.http
    if (config.auth === "none" && !isLoopbackHost(config.host))
      return yield* Effect.dieMessage("MCP_AUTH=none is only allowed on a loopback bind address")
    if (config.auth === "jwt" && !isLoopbackHost(config.host) && config.allowedHosts.length === 0)
      return yield* Effect.dieMessage(
        "MCP_ALLOWED_HOSTS is required when MCP_HOST is not a loopback address (DNS-rebinding protection)",
      )
    const configuredAuth = yield* Effect.serviceOption(Auth)
    if (config.auth === "jwt" && Option.isNone(configuredAuth))
      return yield* Effect.dieMessage("authentication is not configured")
    const auth: AuthService | undefined =
      config.auth === "none" ? undefined : Option.getOrUndefined(configuredAuth)
    const mcp = yield* McpHttp
    const rest = yield* makeRest(options.proxmox, options.maxResultBytes)
    const clock = yield* Effect.clock
    const ipLimiter = makeLimiter(clock, { max: config.rateLimitMax, windowMs: config.rateLimitWindowMs })
    const principalLimiter = makeLimiter(clock, {
      max: config.rateLimitMax,
      windowMs: config.rateLimitWindowMs,
    })

    const trusted = new net.BlockList()
    for (const cidr of config.trustProxy) trusted.addSubnet(cidr.address, cidr.prefix, cidr.family)
    const isTrusted = (ip: string) => trusted.check(ip, net.isIPv6(ip) ? "ipv6" : "ipv4")

    const loopbackBind = isLoopbackHost(config.host)
    const allowedHosts = new Set(config.allowedHosts.map((entry) => entry.toLowerCase()))
    const hostAllowed = (hostHeader: string | undefined) => {
      if (hostHeader === undefined || hostHeader === "") return false
      const text = hostHeader.trim().toLowerCase()
      const name = hostName(text)
      // On a loopback bind the loopback names are the server's own; a rebinding attacker's name is not.
      if (loopbackBind && LOOPBACK_NAMES.includes(name)) return true
      // An entry without a port matches any port; with a port, exactly.
      return allowedHosts.has(name) || allowedHosts.has(text)
    }
    const allowedOrigins = new Set(
      config.allowedOrigins.map((origin) => origin.toLowerCase().replace(/\/+$/, "")),
    )
    const originAllowed = (origin: string) => {
      const text = origin.toLowerCase()
      if (allowedOrigins.has(text)) return true
      let url: URL
      try {
        url = new URL(text)
      } catch {
        return false
      }
      // A page served from a loopback origin, to a loopback-bound server.
      return loopbackBind && LOOPBACK_NAMES.includes(hostName(url.host))
    }

    const clientIp = (request: HttpServerRequest.HttpServerRequest) => {
      const remote = normalizeIp(Option.getOrElse(request.remoteAddress, () => "unknown"))
      if (!net.isIP(remote) || !isTrusted(remote)) return remote
      // Rightmost address not of a trusted proxy: the client as the first trusted hop saw it.
      const forwarded = (request.headers["x-forwarded-for"] ?? "")
        .split(",")
        .map((part) => normalizeIp(part.trim()))
        .filter((part) => net.isIP(part) !== 0)
      for (let i = forwarded.length - 1; i >= 0; i--) if (!isTrusted(forwarded[i]!)) return forwarded[i]!
      return forwarded[0] ?? remote
    }

    const bearer = (request: HttpServerRequest.HttpServerRequest) => {
      const header = request.headers.authorization ?? ""
      const match = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header)
      return match?.[1]
    }

    const unauthorized = (message: string) =>
      json(401, { detail: message }, { "www-authenticate": 'Bearer error="invalid_token"' })

    const tooMany = (retryAfter: number) =>
      json(429, { detail: "rate limit exceeded" }, { "retry-after": String(retryAfter) })

    /** The request's principal, or the 401/429 response. */
    const authenticate = (
      request: HttpServerRequest.HttpServerRequest,
      ip: string,
      transport: Principal["transport"],
    ): Effect.Effect<Principal | HttpServerResponse.HttpServerResponse> =>
      Effect.gen(function* () {
        let principal: Principal
        if (auth === undefined) principal = { ...ANONYMOUS, transport, ip }
        else {
          const token = bearer(request)
          if (token === undefined) return unauthorized("missing bearer token")
          const verified = yield* Effect.either(auth.verify(token, ip))
          if (verified._tag === "Left") return unauthorized(verified.left.message)
          principal = { ...verified.right.principal, transport }
        }
        const limited = principalLimiter.hit(principal.sub)
        return limited === undefined ? principal : tooMany(limited)
      })

    const tooLarge = () => json(413, { detail: `request body larger than ${config.maxBodyBytes} bytes` })

    /** The body as JSON: undefined for an empty body; a response for a too-large or malformed one. */
    const readJson = (request: HttpServerRequest.HttpServerRequest) =>
      Effect.gen(function* () {
        const declared = Number(request.headers["content-length"] ?? "0")
        if (declared > config.maxBodyBytes) return { response: tooLarge() }
        const text = yield* request.text.pipe(
          HttpIncomingMessage.withMaxBodySize(Option.some(config.maxBodyBytes)),
          Effect.either,
        )
        if (text._tag === "Left") {
          const cause = text.left.cause
          return {
            response:
              cause instanceof Error && /maxBytes/.test(cause.message)
                ? tooLarge()
                : json(400, { detail: "unreadable body" }),
          }
        }
        if (text.right.trim() === "") return { value: undefined }
        try {
          return { value: JSON.parse(text.right) as unknown }
        } catch {
          return { response: json(400, { detail: "body is not valid JSON" }) }
        }
      })

    const authRoute = (path: string, request: HttpServerRequest.HttpServerRequest, ip: string) =>
      Effect.gen(function* () {
        if (auth === undefined) return json(404, { detail: "authentication is disabled (MCP_AUTH=none)" })
        const body = yield* readJson(request)
        if (body.response !== undefined) return body.response
        const value = body.value
        const field = (name: string) =>
          typeof value === "object" && value !== null && name in value
            ? (value as Record<string, unknown>)[name]
            : undefined
        const failed = (error: {
          readonly _tag: string
          readonly message?: string
          readonly retryAfterSeconds?: number
        }) => {
          if (error._tag === "TooManyAttempts") return tooMany(error.retryAfterSeconds ?? 60)
          if (error._tag === "Unauthorized") return unauthorized(error.message ?? "unauthorized")
          return json(503, { detail: "the audit log cannot be written; nothing was done" })
        }
        switch (path) {
          case "/auth/token": {
            const username = field("username")
            const password = field("password")
            if (
              typeof username !== "string" ||
              typeof password !== "string" ||
              username.length > 256 ||
              password.length > 1024
            )
              return json(400, { detail: "expected {username, password}" })
            return yield* auth
              .login(username, password, ip)
              .pipe(Effect.match({ onFailure: failed, onSuccess: (pair) => json(200, pair) }))
          }
          case "/auth/refresh": {
            const refreshToken = field("refresh_token")
            const access = bearer(request)
            const result =
              typeof refreshToken === "string"
                ? auth.refresh(refreshToken, ip)
                : access !== undefined
                  ? auth.refreshWithAccessToken(access, ip)
                  : undefined
            if (result === undefined)
              return json(400, {
                detail: "expected {refresh_token} or an Authorization: Bearer access token",
              })
            return yield* Effect.match(result, { onFailure: failed, onSuccess: (pair) => json(200, pair) })
          }
          case "/auth/logout": {
            const refreshToken = field("refresh_token")
            const access = bearer(request)
            const credential =
              access !== undefined
                ? { accessToken: access }
                : typeof refreshToken === "string"
                  ? { refreshToken }
                  : undefined
            if (credential === undefined) return unauthorized("missing bearer token")
            return yield* auth
              .logout(credential, ip)
              .pipe(Effect.match({ onFailure: failed, onSuccess: () => json(200, { detail: "logged out" }) }))
          }
          default:
            return json(404, { detail: "not found" })
        }
      })

    /**
     * The MCP transport's Web `Response` as the platform's, its body piped by Node
     * (`Readable.fromWeb`, then `stream.pipeline`): `HttpServerResponse.fromWeb` runs it through
     * an Effect `Stream`, which cost several milliseconds of CPU per call (an SSE answer is a
     * stream even when it carries one message).
     */
    const fromWebResponse = (response: Response) => {
      const headers: Record<string, string> = {}
      response.headers.forEach((value, key) => {
        headers[key] = value
      })
      const options = { status: response.status, statusText: response.statusText, headers }
      return response.body === null
        ? HttpServerResponse.empty(options)
        : HttpServerResponse.raw(Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>), options)
    }

    const toWebRequest = (request: HttpServerRequest.HttpServerRequest) => {
      const headers = new Headers()
      for (const [key, value] of Object.entries(request.headers))
        if (typeof value === "string") headers.set(key, value)
      return new Request(`http://${request.headers.host ?? "localhost"}${request.url}`, {
        method: request.method,
        headers,
      })
    }

    const mcpRoute = (request: HttpServerRequest.HttpServerRequest, ip: string) =>
      Effect.gen(function* () {
        const principal = yield* authenticate(request, ip, "http")
        if (HttpServerResponse.isServerResponse(principal)) return principal
        let parsed: unknown
        if (request.method === "POST") {
          const body = yield* readJson(request)
          if (body.response !== undefined) return body.response
          parsed = body.value
        }
        const response = yield* mcp.handle(toWebRequest(request), principal, parsed)
        return fromWebResponse(response)
      })

    const restRoute = (path: string, request: HttpServerRequest.HttpServerRequest, ip: string) =>
      Effect.gen(function* () {
        const principal = yield* authenticate(request, ip, "rest")
        if (HttpServerResponse.isServerResponse(principal)) return principal
        const answer =
          path === "/mcp/v1/call" && request.method === "POST"
            ? yield* Effect.flatMap(readJson(request), (body) =>
                body.response !== undefined
                  ? Effect.succeed(body.response)
                  : rest.call(body.value, principal),
              )
            : path === "/mcp/v1/operations" && request.method === "GET"
              ? rest.operations(principal)
              : path === "/mcp/v1/nodes" && request.method === "GET"
                ? yield* rest.nodes(principal)
                : path === "/mcp/v1/cluster/members" && request.method === "GET"
                  ? yield* rest.members(principal)
                  : { status: 404, body: { detail: "not found" } }
        return HttpServerResponse.isServerResponse(answer) ? answer : json(answer.status, answer.body)
      })

    const route = Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const path = request.url.split("?")[0] ?? "/"
      const method = request.method
      if (path === "/health" && method === "GET") return json(200, { status: "ok" })
      // Probes address the pod or container by IP, so /ready skips the Host check; it reveals
      // nothing, but each call reaches Proxmox, so it counts against the address's rate limit.
      const probe = path === "/ready" && method === "GET"
      if (!probe && !hostAllowed(request.headers.host)) return json(403, { detail: "Host not allowed" })
      const origin = request.headers.origin
      if (!probe && origin !== undefined && !originAllowed(origin))
        return json(403, { detail: "Origin not allowed" })
      const ip = clientIp(request)
      const limited = ipLimiter.hit(ip)
      if (limited !== undefined) return tooMany(limited)
      if (probe) {
        const readiness = yield* options.ready
        return json(readiness.ready ? 200 : 503, readiness)
      }
      if (path === "/mcp") {
        if (method !== "POST" && method !== "GET" && method !== "DELETE")
          return json(405, { detail: "method not allowed" }, { allow: "GET, POST, DELETE" })
        return yield* mcpRoute(request, ip)
      }
      if (path.startsWith("/auth/")) {
        if (method !== "POST") return json(405, { detail: "method not allowed" }, { allow: "POST" })
        return yield* authRoute(path, request, ip)
      }
      if (path.startsWith("/mcp/v1/")) return yield* restRoute(path, request, ip)
      return json(404, { detail: "not found" })
    })

    const app = route.pipe(
      // A bug answers 500 with nothing of its cause; the log has it.
      Effect.catchAllCause((cause) =>
        Effect.as(Effect.logError("HTTP request failed", cause), json(500, { detail: "internal error" })),
      ),
      Effect.map(HttpServerResponse.setHeaders(SECURITY_HEADERS)),
    )

    const nodeServer = http.createServer({
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: config.headersTimeoutMs,
    })
    nodeServer.keepAliveTimeout = config.keepAliveTimeoutMs
    nodeServer.maxHeadersCount = config.maxHeadersCount
    const server = yield* NodeHttpServer.make(() => nodeServer, { port: config.port, host: config.host })
    yield* HttpServer.serveEffect(app).pipe(Effect.provideService(HttpServer.HttpServer, server))
    const address = server.address
    const port = address._tag === "TcpAddress" ? address.port : 0
    const shownHost =
      config.host.includes(":") && !config.host.startsWith("[") ? `[${config.host}]` : config.host
    return HttpEdge.of({ port, url: `http://${shownHost}:${port}` })
  })

export const layer = (options: HttpServerOptions) => Layer.scoped(HttpEdge, make(options))
