/**
 * The users who may log in over HTTP, and their roles (SPEC sections 6 and 12). Roles are
 * Sutian's `admin` (tier full, every resource, admin-only operations), `operator` (read-execute)
 * and `viewer` (read-only), plus custom roles from `MCP_USERS_FILE`. A user may narrow the
 * role's tier and resources; never widen them beyond the server's own `PVE_ACCESS_TIER`, which
 * the policy applies as the ceiling for everyone.
 */
import * as fs from "node:fs"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type { AuthConfig } from "../config/http.js"
import { type Tier, Tiers, tierRank } from "../domain/ids.js"
import type { Principal } from "../domain/principal.js"
import { hashPassword, parseHash } from "./password.js"

export interface Role {
  readonly tier: Tier
  /** Globs over target paths; absent = every resource. */
  readonly resources?: ReadonlyArray<string>
  readonly admin: boolean
}

export const BUILTIN_ROLES: Readonly<Record<string, Role>> = {
  admin: { tier: "full", admin: true },
  operator: { tier: "read-execute", admin: false },
  viewer: { tier: "read-only", admin: false },
}

export interface User {
  readonly username: string
  readonly passwordHash: string
  readonly role: string
  readonly tier?: Tier
  readonly resources?: ReadonlyArray<string>
}

/** The users file or the admin password is wrong: the server does not start. */
export class UsersError extends Data.TaggedError("UsersError")<{ readonly message: string }> {}

const TierSchema = Schema.Literal(...Tiers)
const Resources = Schema.Array(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256)))

const UsersFile = Schema.Struct({
  users: Schema.Array(
    Schema.Struct({
      username: Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9._@-]{1,64}$/)),
      passwordHash: Schema.String,
      role: Schema.String,
      tier: Schema.optionalWith(TierSchema, { exact: true }),
      resources: Schema.optionalWith(Resources, { exact: true }),
    }),
  ),
  roles: Schema.optionalWith(
    Schema.Record({
      key: Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9._-]{1,64}$/)),
      value: Schema.Struct({
        tier: TierSchema,
        resources: Schema.optionalWith(Resources, { exact: true }),
        admin: Schema.optionalWith(Schema.Boolean, { exact: true }),
      }),
    }),
    { exact: true },
  ),
})

export interface Directory {
  readonly users: ReadonlyMap<string, User>
  readonly roles: Readonly<Record<string, Role>>
}

const lowest = (a: Tier, b: Tier | undefined) => (b !== undefined && tierRank(b) < tierRank(a) ? b : a)

/** The principal of a user: the role's rights, narrowed by the user's own tier and resources. */
export const principalOf = (directory: Directory, user: User, ip?: string): Principal | undefined => {
  const role = directory.roles[user.role]
  if (role === undefined) return undefined
  const resources =
    role.resources === undefined
      ? user.resources
      : user.resources === undefined
        ? role.resources
        : // Both given: a target must be allowed by the role and by the user.
          user.resources.filter((glob) => role.resources?.includes(glob) ?? true)
  return {
    sub: user.username,
    role: user.role,
    transport: "http",
    tier: lowest(role.tier, user.tier),
    admin: role.admin,
    ...(resources === undefined ? {} : { resources }),
    ...(ip === undefined ? {} : { ip }),
  }
}

const readUsersFile = (file: string) =>
  Effect.gen(function* () {
    const text = yield* Effect.try({
      try: () => fs.readFileSync(file, "utf8"),
      catch: (error) =>
        new UsersError({
          message: `MCP_USERS_FILE: cannot read '${file}': ${(error as NodeJS.ErrnoException).code ?? "error"}`,
        }),
    })
    const json = yield* Effect.try({
      try: (): unknown => JSON.parse(text),
      catch: () => new UsersError({ message: `MCP_USERS_FILE: '${file}' is not valid JSON` }),
    })
    const decoded = Schema.decodeUnknownEither(UsersFile, { onExcessProperty: "error" })(json)
    if (Either.isLeft(decoded))
      return yield* new UsersError({
        message: `MCP_USERS_FILE: ${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}`,
      })
    return decoded.right
  })

/** The directory from `MCP_USERS_FILE` and `ADMIN_PASSWORD`; every problem is a startup error. */
export const loadDirectory = (config: AuthConfig) =>
  Effect.gen(function* () {
    const roles: Record<string, Role> = { ...BUILTIN_ROLES }
    const users = new Map<string, User>()
    if (config.usersFile !== undefined) {
      const file = yield* readUsersFile(config.usersFile)
      for (const [name, role] of Object.entries(file.roles ?? {})) {
        if (name in BUILTIN_ROLES)
          return yield* new UsersError({
            message: `MCP_USERS_FILE: role '${name}' is built in and cannot be redefined`,
          })
        roles[name] = {
          tier: role.tier,
          admin: role.admin ?? false,
          ...(role.resources === undefined ? {} : { resources: role.resources }),
        }
      }
      for (const user of file.users) {
        if (users.has(user.username))
          return yield* new UsersError({ message: `MCP_USERS_FILE: user '${user.username}' appears twice` })
        if (roles[user.role] === undefined)
          return yield* new UsersError({
            message: `MCP_USERS_FILE: user '${user.username}' has unknown role '${user.role}' (known: ${Object.keys(roles).join(", ")})`,
          })
        if (parseHash(user.passwordHash) === undefined)
          return yield* new UsersError({
            message: `MCP_USERS_FILE: user '${user.username}': passwordHash is not a scrypt PHC string (make one with 'proxmox-mcp hash-password')`,
          })
        users.set(user.username, user)
      }
    }
    if (config.adminPassword._tag === "Some") {
      const password = Redacted.value(config.adminPassword.value)
      if (users.has("admin"))
        return yield* new UsersError({
          message: "ADMIN_PASSWORD: user 'admin' is also defined in MCP_USERS_FILE",
        })
      if (password.length < 12)
        return yield* new UsersError({ message: "ADMIN_PASSWORD: must be at least 12 characters" })
      const passwordHash = yield* Effect.orDie(hashPassword(password))
      users.set("admin", { username: "admin", passwordHash, role: "admin" })
    }
    return { users, roles } satisfies Directory
  })
