/**
 * The `Auth` port (SPEC sections 7 and 12): password login, short-lived JWTs, rotating refresh
 * tokens with reuse detection, Sutian's refresh with an access token, logout, and the
 * verification of every bearer token.
 *
 * - Access tokens are HS256 JWTs (`jose`), algorithm pinned; `iss`, `aud`, `exp`, `iat`, `jti`,
 *   `sub`, `sid` and `auth_time` are required. `JWT_SECRET_PREVIOUS` still verifies.
 * - A login is a session (`sid`). Its refresh tokens are one family: opaque 256-bit strings,
 *   stored hashed, single use. Presenting a used one revokes the whole session (the family and
 *   every access token of it), because either the client or a thief replayed it.
 * - Nothing outlives `MCP_SESSION_MAX_AGE` from the login: access tokens expire at the latest
 *   then, refresh stops then.
 * - Logout revokes the session. State is in memory: a restart logs everyone out.
 * - Failed logins are limited per user and per IP; a blocked login checks no password.
 * Every login, failed login, refresh, refresh reuse and logout is audited. Time is the Effect
 * clock, captured when the layer is built, so tests run it under `TestClock`.
 */
import * as crypto from "node:crypto"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { errors as joseErrors, jwtVerify, SignJWT } from "jose"
import { Audit, type AuditEventName, type AuditWriteError } from "../audit/port.js"
import type { AuthConfig } from "../config/http.js"
import type { Principal } from "../domain/principal.js"
import { makeLimiter } from "./limiter.js"
import { burnVerification, verifyPassword } from "./password.js"
import { type Directory, principalOf, UsersError } from "./users.js"

/** The request is not authenticated: 401, with a reason that gives nothing away. */
export class Unauthorized extends Data.TaggedError("Unauthorized")<{ readonly message: string }> {}

/** Too many failed logins for this user or address: 429. */
export class TooManyAttempts extends Data.TaggedError("TooManyAttempts")<{
  readonly retryAfterSeconds: number
}> {}

export interface TokenPair {
  readonly access_token: string
  readonly token_type: "bearer"
  readonly expires_in: number
  readonly refresh_token: string
}

/** A verified access token: who, and which login session. */
export interface Authenticated {
  readonly principal: Principal
  readonly sid: string
  readonly jti: string
  /** Seconds since the epoch. */
  readonly exp: number
}

export interface AuthService {
  readonly login: (
    username: string,
    password: string,
    ip: string | undefined,
  ) => Effect.Effect<TokenPair, Unauthorized | TooManyAttempts | AuditWriteError>
  readonly refresh: (
    refreshToken: string,
    ip: string | undefined,
  ) => Effect.Effect<TokenPair, Unauthorized | AuditWriteError>
  /** Sutian's refresh: an access token, unexpired or expired by at most `JWT_REFRESH_GRACE`, once per `jti`. */
  readonly refreshWithAccessToken: (
    accessToken: string,
    ip: string | undefined,
  ) => Effect.Effect<TokenPair, Unauthorized | AuditWriteError>
  /** Ends the login session of a valid access token or a refresh token. */
  readonly logout: (
    credential: { readonly accessToken?: string; readonly refreshToken?: string },
    ip: string | undefined,
  ) => Effect.Effect<void, Unauthorized | AuditWriteError>
  readonly verify: (accessToken: string, ip: string | undefined) => Effect.Effect<Authenticated, Unauthorized>
  /** A login session without a password, for `demo --transport http`'s printed test token. */
  readonly issue: (username: string) => Effect.Effect<TokenPair, Unauthorized | AuditWriteError>
}

export class Auth extends Context.Tag("proxmox-mcp/Auth")<Auth, AuthService>() {}

interface LoginSession {
  readonly sid: string
  readonly sub: string
  /** Milliseconds. */
  readonly authTime: number
  readonly expiresAt: number
  revoked: boolean
  currentRefresh: string | undefined
}

const sha256 = (text: string) => crypto.createHash("sha256").update(text).digest("hex")
const newRefreshToken = () => crypto.randomBytes(32).toString("base64url")

/** What the audit shows of a username someone typed: printable, bounded. */
const shownName = (name: string) =>
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are removed
  name.replace(/[\u0000-\u001f\u007f-\u009f]/g, "").slice(0, 64) || "(empty)"

export interface AuthOptions {
  /**
   * Replicas behind a load balancer (`MCP_HTTP_STATELESS`): an access token signed with the
   * shared key is accepted for a login this process has not seen (until it expires, and never
   * past the login's maximum age); refresh tokens and logout stay with the replica that issued
   * or handled them.
   */
  readonly acceptForeignLogins?: boolean
}

export const make = (config: AuthConfig, directory: Directory, options: AuthOptions = {}) =>
  Effect.gen(function* () {
    if (config.jwtSecret._tag === "None")
      return yield* new UsersError({
        message: "JWT_SECRET: required for the HTTP server (at least 32 characters)",
      })
    const secret = Redacted.value(config.jwtSecret.value)
    if (secret.length < 32)
      return yield* new UsersError({ message: "JWT_SECRET: must be at least 32 characters" })
    const previous = Option.map(config.jwtSecretPrevious, Redacted.value)
    if (Option.isSome(previous) && previous.value.length < 32)
      return yield* new UsersError({ message: "JWT_SECRET_PREVIOUS: must be at least 32 characters" })
    if (directory.users.size === 0)
      return yield* new UsersError({
        message: "no users: set ADMIN_PASSWORD or MCP_USERS_FILE (or MCP_AUTH=none on a loopback bind)",
      })

    const encoder = new TextEncoder()
    const key = encoder.encode(secret)
    const keys = Option.isSome(previous) ? [key, encoder.encode(previous.value)] : [key]
    const audit = yield* Audit
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()

    const sessions = new Map<string, LoginSession>()
    /** Refresh-token hash -> its session; a hash that is not the session's current one was used. */
    const refreshTokens = new Map<string, string>()
    /** Access-token jtis already traded in by Sutian's refresh, with their expiry (ms). */
    const tradedJtis = new Map<string, number>()
    const userFailures = makeLimiter(clock, { max: config.loginMaxFailures, windowMs: config.loginWindowMs })
    const ipFailures = makeLimiter(clock, {
      max: config.loginMaxFailures * 4,
      windowMs: config.loginWindowMs,
    })
    let lastPrune = now()

    const prune = () => {
      const at = now()
      if (at - lastPrune < 60_000) return
      lastPrune = at
      // A revoked login is kept until its max age, so that no replica adopts it again.
      for (const [sid, session] of sessions) if (session.expiresAt <= at) sessions.delete(sid)
      for (const [hash, sid] of refreshTokens) if (!sessions.has(sid)) refreshTokens.delete(hash)
      for (const [jti, exp] of tradedJtis) if (exp + config.refreshGraceMs <= at) tradedJtis.delete(jti)
    }

    const record = (
      event: AuditEventName,
      who: { readonly sub: string; readonly role: string },
      ip: string | undefined,
      detail?: string,
      ok = true,
    ) =>
      audit.write(
        {
          event,
          principal: { sub: who.sub, role: who.role, transport: "http", ...(ip === undefined ? {} : { ip }) },
          outcome: ok ? { ok: true } : { ok: false, code: "UNAUTHORIZED" },
          ...(detail === undefined ? {} : { detail }),
        },
        { durable: true },
      )

    const roleOf = (sub: string) => directory.users.get(sub)?.role ?? "unknown"

    const issueTokens = (session: LoginSession) =>
      Effect.gen(function* () {
        const at = now()
        const iat = Math.floor(at / 1000)
        const exp = Math.floor(Math.min(at + config.accessTtlMs, session.expiresAt) / 1000)
        const user = directory.users.get(session.sub)
        const principal = user === undefined ? undefined : principalOf(directory, user)
        if (principal === undefined) return yield* new Unauthorized({ message: "unknown user" })
        const access = yield* Effect.promise(() =>
          new SignJWT({
            role: principal.role,
            ...(principal.tier === undefined ? {} : { tier: principal.tier }),
            sid: session.sid,
            auth_time: Math.floor(session.authTime / 1000),
          })
            .setProtectedHeader({ alg: "HS256", typ: "JWT" })
            .setIssuer(config.issuer)
            .setAudience(config.audience)
            .setSubject(session.sub)
            .setIssuedAt(iat)
            .setExpirationTime(exp)
            .setJti(crypto.randomUUID())
            .sign(key),
        )
        const refresh = newRefreshToken()
        const hash = sha256(refresh)
        session.currentRefresh = hash
        refreshTokens.set(hash, session.sid)
        return {
          access_token: access,
          token_type: "bearer" as const,
          expires_in: Math.max(0, exp - iat),
          refresh_token: refresh,
        }
      })

    const openSession = (sub: string) => {
      prune()
      const at = now()
      const session: LoginSession = {
        sid: crypto.randomUUID(),
        sub,
        authTime: at,
        expiresAt: at + config.sessionMaxAgeMs,
        revoked: false,
        currentRefresh: undefined,
      }
      sessions.set(session.sid, session)
      return session
    }

    const liveSession = (sid: string): LoginSession | undefined => {
      const session = sessions.get(sid)
      return session === undefined || session.revoked || session.expiresAt <= now() ? undefined : session
    }

    const revoke = (session: LoginSession) => {
      session.revoked = true
      for (const [hash, sid] of refreshTokens) if (sid === session.sid) refreshTokens.delete(hash)
    }

    /** Verifies signature, algorithm and claims; `graceMs` lets an expired token through (refresh). */
    const decode = (token: string, graceMs: number) =>
      Effect.gen(function* () {
        for (const candidate of keys) {
          const result = yield* Effect.tryPromise(() =>
            jwtVerify(token, candidate, {
              algorithms: ["HS256"],
              issuer: config.issuer,
              audience: config.audience,
              currentDate: new Date(now()),
              clockTolerance: Math.floor(graceMs / 1000),
              requiredClaims: ["exp", "iat", "jti", "sub", "sid", "auth_time"],
            }),
          ).pipe(Effect.either)
          if (result._tag === "Right") return result.right.payload
          // Another key may have signed it (a rotation); any other failure is final.
          if (!(result.left.error instanceof joseErrors.JWSSignatureVerificationFailed)) break
        }
        return yield* new Unauthorized({ message: "invalid or expired token" })
      })

    const claims = (payload: Record<string, unknown>) => {
      const { sub, sid, jti, exp, auth_time } = payload
      return typeof sub === "string" &&
        typeof sid === "string" &&
        typeof jti === "string" &&
        typeof exp === "number" &&
        typeof auth_time === "number"
        ? { sub, sid, jti, exp, authTime: auth_time * 1000 }
        : undefined
    }

    /**
     * The live login a token belongs to. With `acceptForeignLogins`, a login another replica
     * opened is recorded here on first sight (so a revocation here sticks), bounded by its max age.
     */
    const sessionOf = (parsed: { readonly sub: string; readonly sid: string; readonly authTime: number }) => {
      const known = sessions.get(parsed.sid)
      if (known !== undefined || options.acceptForeignLogins !== true)
        return known === undefined || known.sub !== parsed.sub ? undefined : liveSession(parsed.sid)
      const at = now()
      const adopted: LoginSession = {
        sid: parsed.sid,
        sub: parsed.sub,
        authTime: parsed.authTime,
        expiresAt: parsed.authTime + config.sessionMaxAgeMs,
        revoked: false,
        currentRefresh: undefined,
      }
      if (adopted.expiresAt <= at || adopted.authTime > at + 60_000) return undefined
      prune()
      sessions.set(adopted.sid, adopted)
      return adopted
    }

    const verify: AuthService["verify"] = (token, ip) =>
      Effect.gen(function* () {
        const parsed = claims(yield* decode(token, 0))
        const session = parsed === undefined ? undefined : sessionOf(parsed)
        if (parsed === undefined || session === undefined)
          return yield* new Unauthorized({ message: "invalid or expired token" })
        const user = directory.users.get(parsed.sub)
        const principal = user === undefined ? undefined : principalOf(directory, user, ip)
        if (principal === undefined) return yield* new Unauthorized({ message: "invalid or expired token" })
        return { principal, sid: parsed.sid, jti: parsed.jti, exp: parsed.exp }
      })

    const login: AuthService["login"] = (username, password, ip) =>
      Effect.gen(function* () {
        const ipKey = ip ?? "unknown"
        const blocked = userFailures.blocked(username) ?? ipFailures.blocked(ipKey)
        if (blocked !== undefined) {
          yield* record(
            "auth.login_failed",
            { sub: shownName(username), role: "unknown" },
            ip,
            "rate limited",
            false,
          )
          return yield* new TooManyAttempts({ retryAfterSeconds: blocked })
        }
        const user = directory.users.get(username)
        const valid =
          user === undefined
            ? yield* Effect.as(burnVerification(password), false)
            : yield* verifyPassword(password, user.passwordHash).pipe(Effect.orElseSucceed(() => false))
        if (user === undefined || !valid) {
          userFailures.hit(username)
          ipFailures.hit(ipKey)
          yield* record(
            "auth.login_failed",
            { sub: shownName(username), role: "unknown" },
            ip,
            "bad credentials",
            false,
          )
          return yield* new Unauthorized({ message: "invalid username or password" })
        }
        userFailures.reset(username)
        const session = openSession(user.username)
        yield* record("auth.login", { sub: user.username, role: user.role }, ip)
        return yield* issueTokens(session)
      })

    const refresh: AuthService["refresh"] = (token, ip) =>
      Effect.gen(function* () {
        prune()
        const hash = sha256(token)
        const sid = refreshTokens.get(hash)
        const session = sid === undefined ? undefined : sessions.get(sid)
        if (session === undefined) return yield* new Unauthorized({ message: "invalid refresh token" })
        if (session.currentRefresh !== hash) {
          // A used token again: the family is compromised, so the whole login ends.
          revoke(session)
          yield* record(
            "auth.refresh_reuse",
            { sub: session.sub, role: roleOf(session.sub) },
            ip,
            "login session revoked",
            false,
          )
          return yield* new Unauthorized({ message: "refresh token reused: the login session is revoked" })
        }
        if (liveSession(session.sid) === undefined)
          return yield* new Unauthorized({ message: "the login session has ended; log in again" })
        const pair = yield* issueTokens(session)
        yield* record("auth.refresh", { sub: session.sub, role: roleOf(session.sub) }, ip)
        return pair
      })

    const refreshWithAccessToken: AuthService["refreshWithAccessToken"] = (token, ip) =>
      Effect.gen(function* () {
        prune()
        const parsed = claims(yield* decode(token, config.refreshGraceMs))
        const session = parsed === undefined ? undefined : sessionOf(parsed)
        if (parsed === undefined || session === undefined)
          return yield* new Unauthorized({ message: "invalid or expired token" })
        if (tradedJtis.has(parsed.jti)) {
          yield* record(
            "auth.refresh_reuse",
            { sub: session.sub, role: roleOf(session.sub) },
            ip,
            "access token traded twice",
            false,
          )
          return yield* new Unauthorized({ message: "this access token was already refreshed" })
        }
        tradedJtis.set(parsed.jti, parsed.exp * 1000)
        const pair = yield* issueTokens(session)
        yield* record(
          "auth.refresh",
          { sub: session.sub, role: roleOf(session.sub) },
          ip,
          "with access token",
        )
        return pair
      })

    const logout: AuthService["logout"] = (credential, ip) =>
      Effect.gen(function* () {
        let session: LoginSession | undefined
        if (credential.accessToken !== undefined) {
          const verified = yield* verify(credential.accessToken, ip)
          session = sessions.get(verified.sid)
        } else if (credential.refreshToken !== undefined) {
          const sid = refreshTokens.get(sha256(credential.refreshToken))
          session = sid === undefined ? undefined : liveSession(sid)
        }
        if (session === undefined) return yield* new Unauthorized({ message: "invalid or expired token" })
        revoke(session)
        yield* record("auth.logout", { sub: session.sub, role: roleOf(session.sub) }, ip)
      })

    const issue: AuthService["issue"] = (username) =>
      Effect.gen(function* () {
        if (!directory.users.has(username)) return yield* new Unauthorized({ message: "unknown user" })
        const session = openSession(username)
        yield* record(
          "auth.login",
          { sub: username, role: roleOf(username) },
          undefined,
          "token issued by the server",
        )
        return yield* issueTokens(session)
      })

    return Auth.of({ login, refresh, refreshWithAccessToken, logout, verify, issue })
  })

export const layer = (config: AuthConfig, directory: Directory, options: AuthOptions = {}) =>
  Layer.effect(Auth, make(config, directory, options))
