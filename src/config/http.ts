/**
 * Settings of the HTTP transport (SPEC sections 3, 7 and 12): listener, hardening, sessions,
 * authentication. Read only when `MCP_TRANSPORT=http` (or `--transport http`); the stdio path
 * never loads this module.
 */
import * as net from "node:net"
import * as Config from "effect/Config"
import * as Either from "effect/Either"
import type * as Redacted from "effect/Redacted"
import { boundedInt, flag, invalid, oneOf, optionalSecret, optionalString } from "./values.js"

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** A duration as `900` (seconds), `900s`, `15m`, `8h`, `1d` or `500ms`; in milliseconds. */
export const parseDuration = (text: string): number | undefined => {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim())
  if (match === null) return undefined
  const value = Number(match[1]) * (UNITS[match[2] ?? "s"] ?? 1000)
  return Number.isSafeInteger(value) && value > 0 ? value : undefined
}

const duration = (variable: string, fallbackMs: number, maxMs = 30 * 86_400_000): Config.Config<number> =>
  Config.string(variable).pipe(
    Config.option,
    Config.mapOrFail((value) => {
      if (value._tag === "None" || value.value.trim() === "") return Either.right(fallbackMs)
      const ms = parseDuration(value.value)
      return ms === undefined || ms > maxMs
        ? Either.left(invalid(variable, `expected a duration such as 900, 15m or 8h, got '${value.value}'`))
        : Either.right(ms)
    }),
  )

const list = (variable: string): Config.Config<ReadonlyArray<string>> =>
  Config.map(optionalString(variable), (text) =>
    text === undefined
      ? []
      : text
          .split(",")
          .map((item) => item.trim())
          .filter((item) => item !== ""),
  )

export interface Cidr {
  readonly address: string
  readonly prefix: number
  readonly family: "ipv4" | "ipv6"
}

const cidrs = (variable: string): Config.Config<ReadonlyArray<Cidr>> =>
  Config.mapOrFail(list(variable), (entries) => {
    const parsed: Array<Cidr> = []
    for (const entry of entries) {
      const [address = "", prefixText] = entry.split("/")
      const family = net.isIPv4(address) ? "ipv4" : net.isIPv6(address) ? "ipv6" : undefined
      const max = family === "ipv4" ? 32 : 128
      const prefix = prefixText === undefined ? max : Number(prefixText)
      if (family === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max)
        return Either.left(invalid(variable, `'${entry}' is not an address or CIDR range`))
      parsed.push({ address, prefix, family })
    }
    return Either.right(parsed)
  })

export const httpConfig = Config.all({
  host: Config.map(optionalString("MCP_HOST"), (host) => host ?? "127.0.0.1"),
  port: boundedInt("MCP_PORT", 3000, 0, 65535),
  allowedHosts: list("MCP_ALLOWED_HOSTS"),
  allowedOrigins: list("MCP_ALLOWED_ORIGINS"),
  trustProxy: cidrs("MCP_TRUST_PROXY"),
  rateLimitWindowMs: boundedInt("MCP_RATE_LIMIT_WINDOW_MS", 60_000, 1000, 86_400_000),
  rateLimitMax: boundedInt("MCP_RATE_LIMIT_MAX", 120, 1, 1_000_000),
  maxBodyBytes: boundedInt("MCP_MAX_BODY_SIZE_BYTES", 262_144, 1024, 64 * 1024 * 1024),
  headersTimeoutMs: boundedInt("MCP_HEADERS_TIMEOUT_MS", 10_000, 1000, 600_000),
  requestTimeoutMs: boundedInt("MCP_REQUEST_TIMEOUT_MS", 30_000, 1000, 3_600_000),
  keepAliveTimeoutMs: boundedInt("MCP_KEEPALIVE_TIMEOUT_MS", 5_000, 1000, 600_000),
  maxHeadersCount: boundedInt("MCP_MAX_HEADERS_COUNT", 100, 10, 2000),
  sessionIdleMs: boundedInt("MCP_SESSION_IDLE_MS", 30 * 60_000, 1000, 86_400_000),
  maxSessions: boundedInt("MCP_MAX_SESSIONS", 1000, 1, 100_000),
  stateless: flag("MCP_HTTP_STATELESS", false),
  auth: oneOf("MCP_AUTH", ["jwt", "none"] as const, "jwt"),
})

export type HttpConfig = Config.Config.Success<typeof httpConfig>

export const authConfig = Config.all({
  jwtSecret: optionalSecret("JWT_SECRET"),
  jwtSecretPrevious: optionalSecret("JWT_SECRET_PREVIOUS"),
  issuer: Config.map(optionalString("JWT_ISSUER"), (v) => v ?? "proxmox-mcp"),
  audience: Config.map(optionalString("JWT_AUDIENCE"), (v) => v ?? "proxmox-mcp"),
  accessTtlMs: duration("JWT_TTL", 15 * 60_000, 86_400_000),
  refreshGraceMs: duration("JWT_REFRESH_GRACE", 15 * 60_000, 86_400_000),
  sessionMaxAgeMs: duration("MCP_SESSION_MAX_AGE", 8 * 3_600_000),
  adminPassword: optionalSecret("ADMIN_PASSWORD"),
  usersFile: optionalString("MCP_USERS_FILE"),
  loginMaxFailures: boundedInt("MCP_LOGIN_MAX_FAILURES", 5, 1, 1000),
  loginWindowMs: boundedInt("MCP_LOGIN_WINDOW_MS", 15 * 60_000, 1000, 86_400_000),
})

export type AuthConfig = Config.Config.Success<typeof authConfig>
export type Secret = Redacted.Redacted<string>

/** Loopback bind addresses: the only ones `MCP_AUTH=none` may listen on. */
export const isLoopbackHost = (host: string) =>
  host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host)
