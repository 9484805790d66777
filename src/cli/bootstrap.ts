/**
 * `proxmox-mcp bootstrap`: the Proxmox side of a new installation. Prints the `pveum` commands
 * that create a user, a role with exactly the privileges the tier's tools need (from the one
 * privilege table, `src/policy/privileges.ts`), the ACLs, and a privilege-separated API token;
 * `--apply` makes the same changes through the API with an admin token, once.
 */
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as UpstreamLog from "../audit/upstream.js"
import type { Environment } from "../config/provider.js"
import { type ProxmoxConfig, proxmoxConfig } from "../config/proxmox.js"
import { ProxmoxError } from "../domain/errors.js"
import { type Tier, Tiers } from "../domain/ids.js"
import { staticallyExposed } from "../policy/policy.js"
import { rolePrivileges } from "../policy/privileges.js"
import * as ProxmoxApi from "../proxmox/api.js"
import { proxmoxTransportLayer } from "../proxmox/transport.js"
import { builtin } from "../tools/catalog.js"
import { checkFlags, configurationError, flagValue, load, policySettings, say, UsageError } from "./args.js"

export const BOOTSTRAP_USAGE = `Usage: proxmox-mcp bootstrap [--tier T] [--user USER@REALM] [--token NAME] [--role NAME] [--apply]

Prints the pveum commands (run them as root on any cluster node) that create:
  - a role holding exactly the privileges the tier's tools need (PVE_CATEGORIES / PVE_MODULES /
    PVE_TOOL_WHITELIST narrow it, as they narrow the tools),
  - a user (default proxmox-mcp@pve) and a privilege-separated API token (default name mcp),
  - ACLs on / giving the role to the user and to the token.
  --tier T     read-only, read-execute or full (default: PVE_ACCESS_TIER, else read-only)
  --apply      make these changes through the API instead, with the admin token in
               PROXMOX_BOOTSTRAP_TOKEN_ID / PROXMOX_BOOTSTRAP_TOKEN_SECRET (else PROXMOX_TOKEN_ID /
               PROXMOX_TOKEN_SECRET) and the connection settings of 'run'; prints the new token's
               secret once.
See docs/PERMISSIONS.md for the privileges of each tier.`

interface Plan {
  readonly tier: Tier
  readonly userid: string
  readonly tokenName: string
  readonly role: string
  readonly privileges: ReadonlyArray<string>
  readonly toolCount: number
}

const USER_PATTERN = /^[^\s:/@]{1,64}@[A-Za-z][A-Za-z0-9._-]{1,31}$/
const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9._-]{0,63}$/

const planFor = (args: ReadonlyArray<string>, env: Environment): Either.Either<Plan, string> => {
  const tierFlag = flagValue(args, "--tier")
  if (tierFlag !== undefined && !(Tiers as ReadonlyArray<string>).includes(tierFlag))
    throw new UsageError(`--tier: expected ${Tiers.join(", ")}, got '${tierFlag}'`)
  const userid = flagValue(args, "--user") ?? "proxmox-mcp@pve"
  if (!USER_PATTERN.test(userid)) throw new UsageError(`--user: expected name@realm, got '${userid}'`)
  const tokenName = flagValue(args, "--token") ?? "mcp"
  if (!NAME_PATTERN.test(tokenName)) throw new UsageError(`--token: '${tokenName}' is not a token name`)
  const settings = load(tierFlag === undefined ? env : { ...env, PVE_ACCESS_TIER: tierFlag }, policySettings)
  if (Either.isLeft(settings)) return Either.left(settings.left)
  const tier = settings.right.tier
  const role = flagValue(args, "--role") ?? `ProxmoxMCP-${tier}`
  if (!NAME_PATTERN.test(role)) throw new UsageError(`--role: '${role}' is not a role name`)
  const tools = staticallyExposed(builtin.entries, settings.right)
    .filter((entry) => entry.aliasFor === undefined)
    .map((entry) => entry.tool)
  if (tools.length === 0) return Either.left("the policy exposes no tool: there is nothing to grant")
  return Either.right({
    tier,
    userid,
    tokenName,
    role,
    privileges: rolePrivileges(tools),
    toolCount: tools.length,
  })
}

const shellQuote = (text: string) =>
  /^[A-Za-z0-9@%+=:,./_-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`

export const renderCommands = (plan: Plan): string => {
  const tokenId = `${plan.userid}!${plan.tokenName}`
  return [
    `# proxmox-mcp: a role with the ${plan.privileges.length} privileges tier ${plan.tier} needs for its ${plan.toolCount} tools.`,
    "# Run as root on any node of the cluster. If the role exists already, use 'pveum role modify' instead of 'add'.",
    `pveum role add ${shellQuote(plan.role)} --privs ${shellQuote(plan.privileges.join(","))}`,
    `pveum user add ${shellQuote(plan.userid)} --comment ${shellQuote("proxmox-mcp service account")}`,
    `pveum acl modify / --users ${shellQuote(plan.userid)} --roles ${shellQuote(plan.role)}`,
    "# A privilege-separated token holds what both it and its user are granted: give the role to both.",
    `pveum user token add ${shellQuote(plan.userid)} ${shellQuote(plan.tokenName)} --privsep 1 --comment ${shellQuote("proxmox-mcp")}`,
    `pveum acl modify / --tokens ${shellQuote(tokenId)} --roles ${shellQuote(plan.role)}`,
    "# Then configure the server with the token (the secret is the 'value' printed by 'token add'):",
    `#   PROXMOX_TOKEN_ID=${tokenId}  PROXMOX_TOKEN_SECRET=<value>  PVE_ACCESS_TIER=${plan.tier}`,
    "# and check everything with: proxmox-mcp doctor",
  ].join("\n")
}

const alreadyExists = (error: ProxmoxApi.ApiError) =>
  error instanceof ProxmoxError && /already exists/i.test(error.message)

/** The admin connection: the run settings with the bootstrap token, when one is given. */
const adminConfig = (env: Environment) =>
  load(
    {
      ...env,
      ...(env.PROXMOX_BOOTSTRAP_TOKEN_ID === undefined
        ? {}
        : {
            PROXMOX_TOKEN_ID: env.PROXMOX_BOOTSTRAP_TOKEN_ID,
            PROXMOX_USER: undefined,
            PROXMOX_TOKEN_NAME: undefined,
            PROXMOX_REALM: undefined,
          }),
      ...(env.PROXMOX_BOOTSTRAP_TOKEN_SECRET === undefined
        ? {}
        : { PROXMOX_TOKEN_SECRET: env.PROXMOX_BOOTSTRAP_TOKEN_SECRET }),
    },
    Config.all({ proxmox: proxmoxConfig }),
  )

/** Applies the plan; returns the new token's secret. Each step says what it did. */
const apply = (plan: Plan, config: ProxmoxConfig) =>
  Effect.gen(function* () {
    const api = yield* ProxmoxApi.ProxmoxApi
    const privs = plan.privileges.join(",")
    const tokenId = `${plan.userid}!${plan.tokenName}`
    yield* api.request({ method: "POST", path: "/access/roles", params: { roleid: plan.role, privs } }).pipe(
      Effect.tap(() => Effect.sync(() => say(`created role ${plan.role}`))),
      Effect.catchIf(alreadyExists, () =>
        api
          .request({
            method: "PUT",
            path: "/access/roles/{roleid}",
            pathParams: { roleid: plan.role },
            params: { privs },
          })
          .pipe(Effect.tap(() => Effect.sync(() => say(`role ${plan.role} existed: set its privileges`)))),
      ),
    )
    yield* api
      .request({
        method: "POST",
        path: "/access/users",
        params: { userid: plan.userid, comment: "proxmox-mcp service account" },
      })
      .pipe(
        Effect.tap(() => Effect.sync(() => say(`created user ${plan.userid}`))),
        Effect.catchIf(alreadyExists, () => Effect.sync(() => say(`user ${plan.userid} existed`))),
      )
    yield* api.request({
      method: "PUT",
      path: "/access/acl",
      params: { path: "/", roles: plan.role, users: plan.userid },
    })
    say(`granted ${plan.role} on / to ${plan.userid}`)
    const created = yield* api.request({
      method: "POST",
      path: "/access/users/{userid}/token/{tokenid}",
      pathParams: { userid: plan.userid, tokenid: plan.tokenName },
      params: { privsep: true, comment: "proxmox-mcp" },
    })
    const secret = (created as { value?: unknown } | null)?.value
    if (typeof secret !== "string") {
      return yield* Effect.fail(
        new ProxmoxError({
          code: "PROXMOX_INVALID_RESPONSE",
          message: "the token was created but Proxmox returned no secret",
          method: "POST",
          path: "/access/users/{userid}/token/{tokenid}",
          endpoint: config.endpoints[0]?.name ?? "",
        }),
      )
    }
    say(`created token ${tokenId} (privilege-separated)`)
    yield* api.request({
      method: "PUT",
      path: "/access/acl",
      params: { path: "/", roles: plan.role, tokens: tokenId },
    })
    say(`granted ${plan.role} on / to ${tokenId}`)
    return { tokenId, secret }
  }).pipe(
    Effect.provide(
      ProxmoxApi.layer(config).pipe(
        Layer.provide(Layer.merge(proxmoxTransportLayer(config), UpstreamLog.layer)),
      ),
    ),
  )

export const bootstrap = (args: ReadonlyArray<string>, env: Environment): Effect.Effect<number> =>
  Effect.suspend(() => {
    checkFlags(args, ["--tier", "--user", "--token", "--role", "--apply"])
    const plan = planFor(args, env)
    if (Either.isLeft(plan)) return Effect.succeed(configurationError(plan.left))
    if (!args.includes("--apply")) {
      process.stdout.write(`${renderCommands(plan.right)}\n`)
      return Effect.succeed(0)
    }
    const admin = adminConfig(env)
    if (Either.isLeft(admin)) return Effect.succeed(configurationError(admin.left))
    return apply(plan.right, admin.right.proxmox).pipe(
      Effect.map(({ tokenId, secret }) => {
        process.stdout.write(
          `PROXMOX_TOKEN_ID=${tokenId}\nPROXMOX_TOKEN_SECRET=${secret}\nPVE_ACCESS_TIER=${plan.right.tier}\n`,
        )
        say("The secret is shown this once. Check the result with: proxmox-mcp doctor")
        return 0
      }),
      Effect.catchAll((error) =>
        Effect.sync(() => {
          say(
            `proxmox-mcp bootstrap: ${error.message}${alreadyExists(error) ? ` (delete the token or choose another with --token)` : ""}`,
          )
          return 1
        }),
      ),
    )
  })

/** What bootstrap would create (for tests and `setup`). */
export const bootstrapPlan = planFor
