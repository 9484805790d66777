/**
 * Access control: users, groups, roles, realms, ACLs and API tokens. Changes target the object's
 * `/access/...` path, so principal resource patterns can fence them. Passwords are redacted in
 * the audit and the logs by their key; a new token's secret is handed to the caller once
 * (`revealed`) and appears nowhere else.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { ToolInputRejected } from "../domain/errors.js"
import { IntegerInput, TokenName, UserId } from "../domain/ids.js"
import { TargetRef } from "../domain/target.js"
import { asArray, page, pagingFields, sortBy } from "./common.js"
import * as Endpoint from "./endpoint.js"
import * as Tool from "./tool.js"

const listPattern = (item: string) => new RegExp(`^${item}(,${item})*$`)
const ID = "[A-Za-z0-9][A-Za-z0-9._-]*"
const USER = "[^\\s:/@,!]{1,64}@[A-Za-z][A-Za-z0-9._-]{1,31}"

const idList = (item: string, maxLength: number, what: string, description: string) =>
  Schema.String.pipe(
    Schema.maxLength(maxLength),
    Schema.pattern(listPattern(item), { message: () => `a comma-separated list of ${what}` }),
  ).annotations({ description })

const text = (maxLength: number, description: string) =>
  Schema.String.pipe(
    Schema.maxLength(maxLength),
    Schema.pattern(/^[^\n\r]*$/, { message: () => "one line" }),
  ).annotations({ description })

const email = Schema.String.pipe(
  Schema.maxLength(254),
  Schema.pattern(/^[^\s@]+@[^\s@]+$/, { message: () => "an email address" }),
).annotations({ description: "Email address" })

const expire = IntegerInput({
  minimum: 0,
  maximum: 4_102_444_800,
  description: "Expiry as epoch seconds (0: never)",
})

/** The user fields create and update share (PVE names). */
const userFields = {
  email: Schema.optional(email),
  enable: Schema.optional(Schema.Boolean.annotations({ description: "Account enabled" })),
  comment: Schema.optional(text(2048, "Comment")),
  groups: Schema.optional(idList(ID, 4096, "group ids", "Groups, comma-separated (replaces)")),
}
const USER_FIELD_NAMES = Object.keys(userFields)

/** An ACL path: `/`, `/vms/100`, `/storage/local`, `/pool/dev`, `/access/realm/pve`, ... */
const aclPath = Schema.String.pipe(
  Schema.maxLength(256),
  Schema.pattern(/^\/([A-Za-z0-9._@!-]+(\/[A-Za-z0-9._@!-]+)*)?$/, {
    message: () => "an ACL path such as /vms/100",
  }),
).annotations({ description: "ACL path (/, /vms/100, /storage/local, ...)" })

const users = Endpoint.get("/access/users")
const createUser = Endpoint.post("/access/users")
const tokens = Endpoint.get("/access/users/{userid}/token")
const createToken = Endpoint.post("/access/users/{userid}/token/{tokenid}")
const updateUser = Endpoint.put("/access/users/{userid}")
const updateAcl = Endpoint.put("/access/acl")

const userTarget = (input: { readonly userid: string }) => [
  TargetRef.Access({ path: `/access/users/${input.userid}` }),
]

const listed = <const Name extends string, const Path extends string>(
  name: Name,
  path: Path,
  title: string,
  description: string,
  key: string,
) =>
  Tool.request({
    name,
    title,
    description,
    category: "access",
    tier: "read-only",
    module: "advanced",
    endpoint: Endpoint.get(path),
    input: pagingFields,
    result: (data, input) => page(sortBy(key)(asArray(data)), input),
  })

export const accessTools = [
  Tool.request({
    name: "pve_list_users",
    title: "List users",
    description: "Users (userid, enable, expire, name, email, groups, realm type, tokens with full).",
    category: "access",
    tier: "read-only",
    module: "advanced",
    endpoint: users,
    input: {
      enabled: Schema.optional(
        Schema.Boolean.annotations({ description: "Only enabled (true) or disabled users" }),
      ),
      full: Schema.optional(Schema.Boolean.annotations({ description: "Include groups and tokens" })),
      ...pagingFields,
    },
    result: (data, input) => page(sortBy("userid")(asArray(data)), input),
  }),
  listed(
    "pve_list_roles",
    "/access/roles",
    "List roles",
    "Roles and their privileges (roleid, privs, special: built-in).",
    "roleid",
  ),
  listed(
    "pve_list_groups",
    "/access/groups",
    "List groups",
    "User groups (groupid, comment, users).",
    "groupid",
  ),
  listed(
    "pve_list_acls",
    "/access/acl",
    "List ACL entries",
    "Access control entries: path, type (user, group, token), ugid, roleid, propagate.",
    "path",
  ),
  listed(
    "pve_list_domains",
    "/access/domains",
    "List authentication realms",
    "Authentication realms (realm, type pam/pve/ldap/ad/openid, comment, default).",
    "realm",
  ),
  Tool.request({
    name: "pve_list_api_tokens",
    title: "List a user's API tokens",
    description: "One user's API tokens (tokenid, privsep, expire, comment); never their secrets.",
    category: "access",
    tier: "read-only",
    module: "advanced",
    endpoint: tokens,
    input: { userid: UserId },
  }),
  Tool.request({
    name: "pve_create_user",
    title: "Create a user",
    description: "Creates a user (realm pve: with a password; pam users must exist on the nodes).",
    category: "access",
    tier: "full",
    module: "advanced",
    destructive: false,
    endpoint: createUser,
    input: {
      userid: UserId,
      password: Schema.optional(
        Schema.String.pipe(Schema.minLength(8), Schema.maxLength(64)).annotations({
          description: "Password, 8-64 characters (pve realm)",
        }),
      ),
      ...userFields,
    },
    targets: userTarget,
  }),
  Tool.make({
    name: "pve_update_user",
    title: "Update a user",
    description: "Changes a user's email, enable flag, comment or groups (only the fields given).",
    category: "access",
    tier: "full",
    module: "advanced",
    confirm: true,
    idempotent: true,
    impact: "The user's account changes (disabling it locks the user and its tokens out).",
    input: { userid: UserId, ...userFields },
    endpoints: [updateUser],
    targets: userTarget,
    run: (input) =>
      Effect.gen(function* () {
        if (!USER_FIELD_NAMES.some((name) => Tool.fieldOf(input, name) !== undefined))
          return yield* new ToolInputRejected({
            message: `Give at least one field to change (${USER_FIELD_NAMES.join(", ")}).`,
          })
        yield* updateUser.call({ userid: input.userid }, Tool.paramsOf(input, new Set(["userid"])))
        return { data: { userid: input.userid, updated: true } }
      }),
  }),
  Tool.request({
    name: "pve_delete_user",
    title: "Delete a user",
    description: "Deletes a user, its API tokens and its ACL entries.",
    category: "access",
    tier: "full",
    module: "advanced",
    confirm: true,
    impact: "The user, its API tokens and its permissions are removed; whatever uses them stops working.",
    endpoint: Endpoint.del("/access/users/{userid}"),
    input: { userid: UserId },
  }),
  Tool.make({
    name: "pve_update_acl",
    title: "Grant or revoke permissions",
    description: "Grants (or with delete: true revokes) roles on an ACL path to users, groups or tokens.",
    category: "access",
    tier: "full",
    module: "advanced",
    confirm: true,
    idempotent: true,
    impact: "Who may do what on this path changes at once.",
    input: {
      path: aclPath,
      roles: idList(ID, 1024, "role ids", "Roles (PVEVMUser,...)"),
      users: Schema.optional(idList(USER, 4096, "user ids", "Users (alice@pve,...)")),
      groups: Schema.optional(idList(ID, 4096, "group ids", "Groups (comma-separated)")),
      tokens: Schema.optional(
        idList(`${USER}![A-Za-z][A-Za-z0-9._-]*`, 4096, "token ids", "Tokens (alice@pve!ci,...)"),
      ),
      propagate: Schema.optional(
        Schema.Boolean.annotations({ description: "Also below the path (default true)" }),
      ),
      delete: Schema.optional(Schema.Boolean.annotations({ description: "Remove instead of add" })),
    },
    endpoints: [updateAcl],
    targets: () => [TargetRef.Access({ path: "/access/acl" })],
    run: (input) =>
      Effect.gen(function* () {
        if (input.users === undefined && input.groups === undefined && input.tokens === undefined)
          return yield* new ToolInputRejected({
            message: "Give users, groups or tokens to grant the roles to.",
          })
        yield* updateAcl.call({}, Tool.paramsOf(input, new Set()))
        return { data: { ...input, updated: true } }
      }),
  }),
  Tool.make({
    name: "pve_create_api_token",
    title: "Create an API token",
    description: "Creates a user's API token; its secret (value) is returned only this once.",
    category: "access",
    tier: "full",
    module: "advanced",
    destructive: false,
    input: {
      userid: UserId,
      tokenid: TokenName,
      privsep: Schema.optional(
        Schema.Boolean.annotations({
          description: "Separate privileges: the token's own ACLs only (default true)",
        }),
      ),
      expire: Schema.optional(expire),
      comment: Schema.optional(text(2048, "Comment")),
    },
    endpoints: [createToken],
    targets: (input) => [TargetRef.Access({ path: `/access/users/${input.userid}/token/${input.tokenid}` })],
    run: (input) =>
      Effect.gen(function* () {
        const answer = yield* createToken.call(
          { userid: input.userid, tokenid: input.tokenid },
          Tool.paramsOf(input, new Set(["userid", "tokenid"])),
        )
        const value = typeof answer === "object" && answer !== null ? Reflect.get(answer, "value") : undefined
        return {
          data: answer,
          ...(typeof value === "string" ? { revealed: { value } } : {}),
          warnings: ["The token secret (value) is shown only this once."],
        }
      }),
  }),
  Tool.request({
    name: "pve_delete_api_token",
    title: "Delete an API token",
    description: "Deletes one API token of a user; clients using it get 401 from then on.",
    category: "access",
    tier: "full",
    module: "advanced",
    confirm: true,
    impact: "The token stops working at once; whatever uses it loses access.",
    endpoint: Endpoint.del("/access/users/{userid}/token/{tokenid}"),
    input: { userid: UserId, tokenid: TokenName },
  }),
]
