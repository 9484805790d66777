/**
 * Hardening of the HTTP edge over real sockets: Host allowlist (DNS rebinding) and Origin
 * check (403), rate limits (429 with Retry-After, TestClock for the window), the body cap (413),
 * security headers, errors without stacks, /health without node names, /ready's real probe
 * (503 when the cluster is down), MCP_AUTH=none only on loopback.
 */
import * as http from "node:http"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as TestClock from "effect/TestClock"
import { afterAll, beforeAll } from "vitest"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { startTestCluster } from "../support/cluster.js"
import { request, startHttp } from "../support/http.js"

let sim: RunningSimulator
beforeAll(async () => {
  sim = await startTestCluster({ perNodeEndpoints: false })
})
afterAll(async () => {
  await sim.close()
})

/** A raw request, so the Host header can be anything. */
const raw = (
  port: number,
  options: { path: string; host: string; method?: string; headers?: Record<string, string> },
) =>
  Effect.async<{ status: number; body: string }>((resume) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path: options.path,
        method: options.method ?? "GET",
        headers: { host: options.host, ...options.headers },
      },
      (res) => {
        let body = ""
        res.on("data", (chunk) => {
          body += chunk
        })
        res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, body })))
      },
    )
    req.end()
  })

describe("HTTP hardening", () => {
  it.scopedLive("a foreign Host or Origin is 403; loopback names and allowed hosts pass", () =>
    Effect.gen(function* () {
      const server = yield* startHttp(sim, {
        env: { MCP_ALLOWED_HOSTS: "mcp.example.org", MCP_ALLOWED_ORIGINS: "https://app.example.org" },
      })
      const path = "/mcp/v1/operations"
      expect((yield* raw(server.port, { path, host: "evil.example.com" })).status).toBe(403)
      expect((yield* raw(server.port, { path, host: "evil.example.com:3000" })).status).toBe(403)
      expect((yield* raw(server.port, { path: "/mcp", method: "POST", host: "attacker.test" })).status).toBe(
        403,
      )
      // Allowed: these reach authentication (401 without a token).
      expect((yield* raw(server.port, { path, host: "mcp.example.org:443" })).status).toBe(401)
      expect((yield* raw(server.port, { path, host: `localhost:${server.port}` })).status).toBe(401)
      expect((yield* raw(server.port, { path, host: `127.0.0.1:${server.port}` })).status).toBe(401)
      const foreignOrigin = yield* raw(server.port, {
        path,
        host: "localhost",
        headers: { origin: "https://evil.example.com" },
      })
      expect(foreignOrigin.status).toBe(403)
      const allowedOrigin = yield* raw(server.port, {
        path,
        host: "localhost",
        headers: { origin: "https://app.example.org" },
      })
      expect(allowedOrigin.status).toBe(401)
    }),
  )

  it.scoped(
    "per-IP and per-principal rate limits answer 429 with Retry-After until the window ends (TestClock)",
    () =>
      Effect.gen(function* () {
        const server = yield* startHttp(sim, {
          env: { MCP_RATE_LIMIT_MAX: "5", MCP_RATE_LIMIT_WINDOW_MS: "60000" },
        })
        const token = yield* server.tokenFor("viewer")
        const statuses: Array<number> = []
        let retryAfter: string | null = null
        for (let i = 0; i < 6; i++) {
          const answer = yield* request(`${server.base}/mcp/v1/operations`, { token })
          statuses.push(answer.status)
          retryAfter = answer.headers.get("retry-after")
        }
        // One request was the login; the limit is 5 per window.
        expect(statuses.slice(0, 4)).toEqual([200, 200, 200, 200])
        expect(statuses.slice(4)).toEqual([429, 429])
        expect(Number(retryAfter)).toBeGreaterThan(0)
        expect(Number(retryAfter)).toBeLessThanOrEqual(60)
        yield* TestClock.adjust("61 seconds")
        expect((yield* request(`${server.base}/mcp/v1/operations`, { token })).status).toBe(200)
      }),
  )

  it.scopedLive("a body over MCP_MAX_BODY_SIZE_BYTES is 413, declared or streamed", () =>
    Effect.gen(function* () {
      const server = yield* startHttp(sim, { env: { MCP_MAX_BODY_SIZE_BYTES: "4096" } })
      const token = yield* server.tokenFor("admin")
      const big = JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "ping",
        params: { pad: "x".repeat(10_000) },
      })
      const declared = yield* request(`${server.base}/mcp`, {
        token,
        body: big,
        headers: { accept: "application/json, text/event-stream" },
      })
      expect(declared.status).toBe(413)
      const streamed = yield* Effect.promise(async () => {
        const body = new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode(big))
            controller.close()
          },
        })
        const response = await fetch(`${server.base}/mcp/v1/call`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body,
          duplex: "half",
        } as RequestInit)
        return response.status
      })
      expect(streamed).toBe(413)
      const login = yield* request(`${server.base}/auth/token`, {
        body: { username: "admin", password: "x".repeat(10_000) },
      })
      expect(login.status).toBe(413)
    }),
  )

  it.scopedLive("every answer is no-store and nosniff; errors carry no stack; malformed JSON is 400", () =>
    Effect.gen(function* () {
      const server = yield* startHttp(sim)
      const token = yield* server.tokenFor("admin")
      for (const answer of [
        yield* request(`${server.base}/health`),
        yield* request(`${server.base}/mcp/v1/operations`),
        yield* request(`${server.base}/nowhere`, { token }),
        yield* request(`${server.base}/mcp/v1/call`, { token, body: "{not json" }),
      ]) {
        expect(answer.headers.get("cache-control")).toBe("no-store")
        expect(answer.headers.get("x-content-type-options")).toBe("nosniff")
        expect(JSON.stringify(answer.body)).not.toMatch(/at .*\.(js|ts):\d+/)
      }
      expect((yield* request(`${server.base}/mcp/v1/call`, { token, body: "{not json" })).status).toBe(400)
    }),
  )

  it.scopedLive(
    "/health names no node; /ready is 200 with the cluster up and 503 with a reason when it is down",
    () =>
      Effect.gen(function* () {
        const cluster = yield* Effect.promise(() => startTestCluster({ perNodeEndpoints: false }))
        const server = yield* startHttp(cluster)
        const health = yield* request(`${server.base}/health`)
        expect(health.status).toBe(200)
        expect(JSON.stringify(health.body)).not.toMatch(/pve\d|127\.0\.0\.1/)
        const up = yield* request(`${server.base}/ready`)
        expect(up.status).toBe(200)
        expect(up.body).toEqual({ ready: true, reachable: 1, total: 1 })
        yield* Effect.promise(() => cluster.close())
        const down = yield* request(`${server.base}/ready`)
        expect(down.status).toBe(503)
        expect(down.body.ready).toBe(false)
        expect(typeof down.body.reason).toBe("string")
        expect(JSON.stringify(down.body)).not.toMatch(/pve\d|127\.0\.0\.1/)
      }),
  )

  it.scopedLive("X-Forwarded-For is believed only from MCP_TRUST_PROXY (audit ip, rate-limit key)", () =>
    Effect.gen(function* () {
      const forwarded = { "x-forwarded-for": "203.0.113.9" }
      const untrusting = yield* startHttp(sim)
      yield* request(`${untrusting.base}/auth/token`, {
        body: { username: "admin", password: "wrong" },
        headers: forwarded,
      })
      expect(untrusting.records().find((r) => r.event === "auth.login_failed")?.principal.ip).toBe(
        "127.0.0.1",
      )
      const trusting = yield* startHttp(sim, { env: { MCP_TRUST_PROXY: "127.0.0.1/32" } })
      yield* request(`${trusting.base}/auth/token`, {
        body: { username: "admin", password: "wrong" },
        headers: forwarded,
      })
      expect(trusting.records().find((r) => r.event === "auth.login_failed")?.principal.ip).toBe(
        "203.0.113.9",
      )
    }),
  )

  it.scopedLive(
    "MCP_AUTH=none serves the anonymous principal on loopback, and refuses a non-loopback bind",
    () =>
      Effect.gen(function* () {
        const server = yield* startHttp(sim, { env: { MCP_AUTH: "none" } })
        expect((yield* request(`${server.base}/mcp/v1/operations`)).status).toBe(200)
        expect(
          (yield* request(`${server.base}/auth/token`, { body: { username: "a", password: "b" } })).status,
        ).toBe(404)
        const exposed = yield* Effect.exit(
          Effect.scoped(startHttp(sim, { env: { MCP_AUTH: "none", MCP_HOST: "0.0.0.0" } })),
        )
        expect(Exit.isFailure(exposed) && String(exposed.cause)).toContain(
          "MCP_AUTH=none is only allowed on a loopback",
        )
        const noAllowlist = yield* Effect.exit(
          Effect.scoped(startHttp(sim, { env: { MCP_HOST: "0.0.0.0" } })),
        )
        expect(Exit.isFailure(noAllowlist) && String(noAllowlist.cause)).toContain(
          "MCP_ALLOWED_HOSTS is required",
        )
      }),
  )
})
