/**
 * The HTTP server in-process, on a loopback port, over the simulated cluster: the same layer the
 * binary serves (`httpServerLayer`), with the memory audit sink. Built inside the caller's scope
 * and Effect context, so a test under `TestClock` (it.scoped) runs the server's clock too
 * (token lifetimes, session idle expiry, rate-limit windows).
 */
import { Client, type ClientOptions } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { makeMemory } from "../../src/audit/memory.js"
import { Audit } from "../../src/audit/port.js"
import { Auth } from "../../src/auth/auth.js"
import { hashPassword } from "../../src/auth/password.js"
import { BUILTIN_ROLES, type Directory, type Role, type User } from "../../src/auth/users.js"
import { load, policySettings } from "../../src/cli/args.js"
import { httpServerLayer } from "../../src/cli/http.js"
import { authConfig, httpConfig } from "../../src/config/http.js"
import { serverConfig } from "../../src/config/server.js"
import type { Tier } from "../../src/domain/ids.js"
import { makeRedactor } from "../../src/domain/redact.js"
import { HttpEdge } from "../../src/http/server.js"
import { McpHttp } from "../../src/mcp/http.js"
import type { RunningSimulator } from "../../src/simulator/index.js"
import { configFor } from "./cluster.js"

export const TEST_SECRET = "test-secret-of-at-least-32-characters!!"

export interface TestUser {
  readonly username: string
  readonly password: string
  readonly role: string
  readonly tier?: Tier
  readonly resources?: ReadonlyArray<string>
}

export const USERS: ReadonlyArray<TestUser> = [
  { username: "admin", password: "admin-password", role: "admin" },
  { username: "oper", password: "oper-password", role: "operator", resources: ["/nodes/pve1/*"] },
  { username: "viewer", password: "viewer-password", role: "viewer" },
]

export interface HttpTestOptions {
  readonly env?: Readonly<Record<string, string>>
  readonly users?: ReadonlyArray<TestUser>
  readonly roles?: Readonly<Record<string, Role>>
}

/** Cheap hashes: the cost parameters are the hash's own, so tests need not pay production cost. */
const hashUsers = (users: ReadonlyArray<TestUser>) =>
  Effect.forEach(users, (user) =>
    Effect.map(
      Effect.orDie(hashPassword(user.password, { ln: 10, r: 8, p: 1 })),
      (passwordHash): User => ({
        username: user.username,
        passwordHash,
        role: user.role,
        ...(user.tier === undefined ? {} : { tier: user.tier }),
        ...(user.resources === undefined ? {} : { resources: user.resources }),
      }),
    ),
  )

export const startHttp = (sim: RunningSimulator, options: HttpTestOptions = {}) =>
  Effect.gen(function* () {
    const env = {
      JWT_SECRET: TEST_SECRET,
      PVE_ACCESS_TIER: "full",
      PVE_MODULE_MODE: "advanced",
      MCP_PORT: "0",
      MCP_RATE_LIMIT_MAX: "10000",
      ...options.env,
    }
    const settings = load(
      env,
      Config.all({ policy: policySettings, server: serverConfig, http: httpConfig, auth: authConfig }),
    )
    if (Either.isLeft(settings)) return yield* Effect.dieMessage(settings.left)
    const memory = yield* makeMemory()
    const users = yield* hashUsers(options.users ?? USERS)
    const directory: Directory | undefined =
      settings.right.http.auth === "none"
        ? undefined
        : {
            users: new Map(users.map((user) => [user.username, user])),
            roles: { ...BUILTIN_ROLES, ...options.roles },
          }
    const context = yield* Layer.build(
      httpServerLayer(
        {
          ...settings.right,
          proxmox: configFor(sim),
          audit: { path: "/dev/null", maxBytes: 1, maxFiles: 1 },
        },
        {
          redactor: makeRedactor({ knownSecrets: [sim.tokenSecret] }),
          audit: Layer.succeed(Audit, memory.service),
          directory,
        },
      ),
    )
    const edge = Context.get(context, HttpEdge)
    const base = `http://127.0.0.1:${edge.port}`

    const login = (username: string, password: string) =>
      Effect.promise(async () => {
        const response = await fetch(`${base}/auth/token`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username, password }),
        })
        return { status: response.status, body: (await response.json()) as Record<string, unknown> }
      })

    const tokenFor = (username: string) =>
      Effect.gen(function* () {
        const user = (options.users ?? USERS).find((u) => u.username === username)
        if (user === undefined) return yield* Effect.dieMessage(`no test user ${username}`)
        const answer = yield* login(user.username, user.password)
        if (answer.status !== 200)
          return yield* Effect.dieMessage(`login failed: ${JSON.stringify(answer.body)}`)
        return String(answer.body.access_token)
      })

    return {
      base,
      port: edge.port,
      records: memory.records,
      login,
      tokenFor,
      sessions: () => Context.get(context, McpHttp).sessionCount(),
      auth: Context.getOption(context, Auth),
    }
  })

export type TestHttp = Effect.Effect.Success<ReturnType<typeof startHttp>>

/** A real SDK client over Streamable HTTP with a bearer token. */
export const connectHttp = (
  base: string,
  token: string | undefined,
  clientOptions: ClientOptions = {},
  prepare: (client: Client) => void = () => {},
) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
        requestInit: token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } },
      })
      const client = new Client({ name: "proxmox-mcp-http-test", version: "0.0.0" }, clientOptions)
      prepare(client)
      await client.connect(transport)
      return { client, transport }
    }),
    ({ client }) => Effect.promise(() => client.close().catch(() => undefined)),
  )

/** A JSON request with plain fetch; the parsed body (or the text when it is not JSON). */
export const request = (
  url: string,
  init: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> } = {},
) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: {
        ...(init.body === undefined ? {} : { "content-type": "application/json" }),
        ...(init.token === undefined ? {} : { authorization: `Bearer ${init.token}` }),
        ...init.headers,
      },
      ...(init.body === undefined
        ? {}
        : { body: typeof init.body === "string" ? init.body : JSON.stringify(init.body) }),
    })
    const text = await response.text()
    let body: unknown = text
    try {
      body = JSON.parse(text)
    } catch {}
    return { status: response.status, headers: response.headers, body: body as Record<string, unknown> }
  })
