/**
 * Authentication over real HTTP (plain fetch): bad tokens are 401, refresh rotates and a reused
 * refresh token revokes the login, Sutian's refresh with an access token works once, logout
 * ends the login, nothing outlives MCP_SESSION_MAX_AGE (TestClock), failed logins are limited,
 * and every event is audited. Startup refuses a short JWT_SECRET and a bad users file.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import { SignJWT } from "jose"
import { afterAll, beforeAll } from "vitest"
import { layerMemory } from "../../src/audit/memory.js"
import * as Auth from "../../src/auth/auth.js"
import { hashPassword, verifyPassword } from "../../src/auth/password.js"
import { loadDirectory } from "../../src/auth/users.js"
import type { AuthConfig } from "../../src/config/http.js"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { startTestCluster } from "../support/cluster.js"
import { request, startHttp, TEST_SECRET } from "../support/http.js"

let sim: RunningSimulator
beforeAll(async () => {
  sim = await startTestCluster({ perNodeEndpoints: false })
})
afterAll(async () => {
  await sim.close()
})

const key = (secret: string) => new TextEncoder().encode(secret)
const nowSeconds = () => Math.floor(Date.now() / 1000)

const forged = (overrides: { secret?: string; aud?: string; exp?: number } = {}) =>
  Effect.promise(() =>
    new SignJWT({ role: "admin", sid: "x", auth_time: nowSeconds() })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("proxmox-mcp")
      .setAudience(overrides.aud ?? "proxmox-mcp")
      .setSubject("admin")
      .setIssuedAt()
      .setExpirationTime(overrides.exp ?? nowSeconds() + 600)
      .setJti("j")
      .sign(key(overrides.secret ?? TEST_SECRET)),
  )

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")

describe("HTTP authentication", () => {
  it.scopedLive(
    "401 for no token, a wrong signature, alg none, a wrong aud, a forged session; 200 with a real token",
    () =>
      Effect.gen(function* () {
        const server = yield* startHttp(sim)
        const url = `${server.base}/mcp/v1/operations`
        const token = yield* server.tokenFor("admin")
        const [header, payload] = token.split(".")
        const claims = JSON.parse(Buffer.from(payload!, "base64url").toString())
        const bad = {
          none: undefined,
          wrongSignature: yield* forged({ secret: "another-secret-of-at-least-32-characters" }),
          algNone: `${base64url({ alg: "none", typ: "JWT" })}.${base64url(claims)}.`,
          algHs512: `${base64url({ alg: "HS512", typ: "JWT" })}.${payload}.${token.split(".")[2]}`,
          wrongAud: yield* forged({ aud: "someone-else" }),
          // Correctly signed, but no login session of this server issued it.
          unknownSession: yield* forged(),
          tamperedPayload: `${header}.${base64url({ ...claims, role: "admin", sub: "viewer" })}.${token.split(".")[2]}`,
        }
        for (const [name, candidate] of Object.entries(bad)) {
          const answer = yield* request(url, candidate === undefined ? {} : { token: candidate })
          expect(answer.status, name).toBe(401)
          expect(answer.headers.get("www-authenticate"), name).toContain("Bearer")
        }
        const mcp = yield* request(`${server.base}/mcp`, { body: { jsonrpc: "2.0", id: 1, method: "ping" } })
        expect(mcp.status).toBe(401)
        expect((yield* request(url, { token })).status).toBe(200)
      }),
  )

  it.scoped("an expired access token is 401 (TestClock)", () =>
    Effect.gen(function* () {
      const server = yield* startHttp(sim, { env: { JWT_TTL: "15m" } })
      const token = yield* server.tokenFor("viewer")
      const url = `${server.base}/mcp/v1/operations`
      yield* TestClock.adjust("14 minutes")
      expect((yield* request(url, { token })).status).toBe(200)
      yield* TestClock.adjust("2 minutes")
      expect((yield* request(url, { token })).status).toBe(401)
    }),
  )

  it.scopedLive("refresh rotates; reusing an old refresh token revokes the whole login", () =>
    Effect.gen(function* () {
      const server = yield* startHttp(sim)
      const login = yield* server.login("admin", "admin-password")
      expect(login.status).toBe(200)
      expect(login.body.token_type).toBe("bearer")
      const first = String(login.body.refresh_token)
      const rotated = yield* request(`${server.base}/auth/refresh`, { body: { refresh_token: first } })
      expect(rotated.status).toBe(200)
      const second = String(rotated.body.refresh_token)
      expect(second).not.toBe(first)
      const access = String(rotated.body.access_token)
      expect((yield* request(`${server.base}/mcp/v1/operations`, { token: access })).status).toBe(200)
      // The first token again: a replay. The login ends: the current refresh and access tokens die with it.
      const reuse = yield* request(`${server.base}/auth/refresh`, { body: { refresh_token: first } })
      expect(reuse.status).toBe(401)
      expect(
        (yield* request(`${server.base}/auth/refresh`, { body: { refresh_token: second } })).status,
      ).toBe(401)
      expect((yield* request(`${server.base}/mcp/v1/operations`, { token: access })).status).toBe(401)
      const events = server.records().map((r) => r.event)
      expect(events).toContain("auth.login")
      expect(events).toContain("auth.refresh")
      expect(events).toContain("auth.refresh_reuse")
    }),
  )

  it.scopedLive("Sutian refresh with an access token works once per token; logout ends the login", () =>
    Effect.gen(function* () {
      const server = yield* startHttp(sim)
      const access = yield* server.tokenFor("oper")
      const refreshed = yield* request(`${server.base}/auth/refresh`, { method: "POST", token: access })
      expect(refreshed.status).toBe(200)
      expect((yield* request(`${server.base}/auth/refresh`, { method: "POST", token: access })).status).toBe(
        401,
      )
      const next = String(refreshed.body.access_token)
      const out = yield* request(`${server.base}/auth/logout`, { method: "POST", token: next })
      expect(out.status).toBe(200)
      expect((yield* request(`${server.base}/mcp/v1/operations`, { token: next })).status).toBe(401)
      expect(server.records().some((r) => r.event === "auth.logout" && r.principal.sub === "oper")).toBe(true)
    }),
  )

  it.scoped("no login outlives MCP_SESSION_MAX_AGE, however often it is refreshed (TestClock)", () =>
    Effect.gen(function* () {
      const server = yield* startHttp(sim, { env: { JWT_TTL: "15m", MCP_SESSION_MAX_AGE: "1h" } })
      const login = yield* server.login("viewer", "viewer-password")
      let refresh = String(login.body.refresh_token)
      let access = String(login.body.access_token)
      let lastStatus = 200
      let minutes = 0
      while (lastStatus === 200 && minutes < 180) {
        yield* TestClock.adjust("10 minutes")
        minutes += 10
        const answer = yield* request(`${server.base}/auth/refresh`, { body: { refresh_token: refresh } })
        lastStatus = answer.status
        if (answer.status === 200) {
          refresh = String(answer.body.refresh_token)
          access = String(answer.body.access_token)
          // An access token never reaches past the login's end.
          const exp = JSON.parse(Buffer.from(access.split(".")[1]!, "base64url").toString()).exp
          const authTime = JSON.parse(Buffer.from(access.split(".")[1]!, "base64url").toString()).auth_time
          expect(exp - authTime).toBeLessThanOrEqual(3600)
        }
      }
      expect(lastStatus).toBe(401)
      expect(minutes).toBe(60)
      expect((yield* request(`${server.base}/mcp/v1/operations`, { token: access })).status).toBe(401)
      // Sutian's refresh cannot extend it either.
      expect((yield* request(`${server.base}/auth/refresh`, { method: "POST", token: access })).status).toBe(
        401,
      )
    }),
  )

  it.scopedLive("failed logins are limited per user (429 with Retry-After) and audited", () =>
    Effect.gen(function* () {
      const server = yield* startHttp(sim, { env: { MCP_LOGIN_MAX_FAILURES: "3" } })
      const statuses: Array<number> = []
      for (let i = 0; i < 4; i++) statuses.push((yield* server.login("admin", "wrong")).status)
      expect(statuses).toEqual([401, 401, 401, 429])
      // Blocked: even the right password is not checked until the window ends.
      const blocked = yield* request(`${server.base}/auth/token`, {
        body: { username: "admin", password: "admin-password" },
      })
      expect(blocked.status).toBe(429)
      expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0)
      // Another user is not blocked by admin's failures.
      expect((yield* server.login("viewer", "viewer-password")).status).toBe(200)
      const failed = server.records().filter((r) => r.event === "auth.login_failed")
      expect(failed.length).toBe(5)
      expect(JSON.stringify(server.records())).not.toContain("admin-password")
      expect(JSON.stringify(server.records())).not.toContain("wrong")
    }),
  )
})

describe("Auth startup and password hashes", () => {
  const config = (overrides: Partial<AuthConfig>): AuthConfig => ({
    jwtSecret: Option.some(Redacted.make(TEST_SECRET)),
    jwtSecretPrevious: Option.none(),
    issuer: "proxmox-mcp",
    audience: "proxmox-mcp",
    accessTtlMs: 900_000,
    refreshGraceMs: 900_000,
    sessionMaxAgeMs: 8 * 3_600_000,
    adminPassword: Option.some(Redacted.make("a-long-admin-password")),
    usersFile: undefined,
    loginMaxFailures: 5,
    loginWindowMs: 900_000,
    ...overrides,
  })

  const start = (overrides: Partial<AuthConfig>) =>
    Effect.gen(function* () {
      const directory = yield* loadDirectory(config(overrides))
      return yield* Layer.build(Auth.layer(config(overrides), directory).pipe(Layer.provide(layerMemory())))
    }).pipe(Effect.scoped, Effect.exit)

  it.effect("JWT_SECRET shorter than 32 characters, or missing, stops startup", () =>
    Effect.gen(function* () {
      const short = yield* start({ jwtSecret: Option.some(Redacted.make("short")) })
      expect(Exit.isFailure(short) && String(short.cause)).toContain(
        "JWT_SECRET: must be at least 32 characters",
      )
      const missing = yield* start({ jwtSecret: Option.none() })
      expect(Exit.isFailure(missing) && String(missing.cause)).toContain("JWT_SECRET")
      expect(Exit.isSuccess(yield* start({}))).toBe(true)
    }),
  )

  it.effect("a users file with an unknown role or a plain-text password stops startup", () =>
    Effect.gen(function* () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "users-"))
      const file = path.join(dir, "users.json")
      const hash = yield* hashPassword("pw-of-bob", { ln: 10, r: 8, p: 1 })
      fs.writeFileSync(
        file,
        JSON.stringify({ users: [{ username: "bob", passwordHash: hash, role: "boss" }] }),
      )
      const unknownRole = yield* start({ usersFile: file, adminPassword: Option.none() })
      expect(Exit.isFailure(unknownRole) && String(unknownRole.cause)).toContain("unknown role 'boss'")
      fs.writeFileSync(
        file,
        JSON.stringify({ users: [{ username: "bob", passwordHash: "pw-of-bob", role: "viewer" }] }),
      )
      const plain = yield* start({ usersFile: file, adminPassword: Option.none() })
      expect(Exit.isFailure(plain) && String(plain.cause)).toContain("not a scrypt PHC string")
      fs.writeFileSync(
        file,
        JSON.stringify({
          users: [{ username: "bob", passwordHash: hash, role: "ops", resources: ["/nodes/pve1/*"] }],
          roles: { ops: { tier: "read-execute" } },
        }),
      )
      const directory = yield* loadDirectory(config({ usersFile: file, adminPassword: Option.none() }))
      expect(directory.users.get("bob")?.role).toBe("ops")
      fs.rmSync(dir, { recursive: true })
    }),
  )

  it.effect("scrypt PHC hashes verify the right password only", () =>
    Effect.gen(function* () {
      const hash = yield* hashPassword("correct horse", { ln: 10, r: 8, p: 1 })
      expect(hash).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$/)
      expect(yield* verifyPassword("correct horse", hash)).toBe(true)
      expect(yield* verifyPassword("correct horsE", hash)).toBe(false)
    }),
  )
})
