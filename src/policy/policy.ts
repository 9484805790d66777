/**
 * The Policy layer decides every call, in SPEC section 6 order; the first refusal wins:
 *   1. hard deny: DENIED_OPERATIONS, and ALLOWED_OPERATIONS when set;
 *   2. static exposure: tier, module mode, categories, whitelist (narrows only), blacklist;
 *   3. the principal: its tier cap, admin-only operations, resource patterns matched against
 *      the real target computed from validated arguments (never a client-supplied string);
 *   4. protected guests: no state-changing tool on a protected vmid or tag, whatever the tier;
 *   5. confirmation for tools marked confirm (argument, elicitation, or auto).
 * Steps 1-2 and the tier cap are static: such tools are not listed and answer as unknown tools.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import {
  ConfirmationDeclined,
  ConfirmationRequired,
  Forbidden,
  GuestNotFound,
  ProtectedGuest,
  type UnknownNode,
} from "../domain/errors.js"
import { type Tier, tierRank, upidNode } from "../domain/ids.js"
import type { Principal } from "../domain/principal.js"
import { resourcePath, type Target, type TargetRef } from "../domain/target.js"
import { isStateChanging, type NamedTool, type ToolInfo } from "../domain/tool.js"
import type { ApiError } from "../proxmox/api.js"
import { NodeRegistry } from "../proxmox/registry.js"
import type { ToolNames } from "./names.js"
import { ADMIN_ONLY_OPERATIONS, SUTIAN_OPERATIONS } from "./operations.js"
import { type PolicySettings, policyConfig } from "./settings.js"

export type ConfirmationAnswer = "accept" | "decline" | "cancel"

/** What the human is asked; built from validated ids and sanitized names only. */
export interface ConfirmationRequest {
  readonly tool: string
  readonly message: string
}

/** The transport's means of asking the human; absent when the client cannot (no elicitation). */
export type Elicit = (request: ConfirmationRequest) => Effect.Effect<ConfirmationAnswer>

export type PolicyRefusal = Forbidden | ProtectedGuest | ConfirmationRequired | ConfirmationDeclined

export interface AuthorizeRequest {
  readonly entry: NamedTool
  /** The `confirm` argument of the call, when the tool takes one. */
  readonly confirmArgument?: boolean | undefined
  readonly principal: Principal
  /** The call's targets, from `resolveTargets`; the first is the one the call is about. */
  readonly targets: ReadonlyArray<Target>
  readonly elicit?: Elicit | undefined
}

export interface PolicyService {
  readonly settings: PolicySettings
  /** The rule that hides the entry from this principal, or undefined when it is exposed. */
  readonly hiddenBy: (entry: NamedTool, principal: Principal) => string | undefined
  /**
   * Resolves the targets a tool declared for a call: nodes checked to exist, guests located
   * (name and tags read fresh when protection by tag needs them), tasks mapped to their node
   * and guest.
   */
  readonly resolveTargets: (
    tool: ToolInfo,
    refs: ReadonlyArray<TargetRef>,
  ) => Effect.Effect<ReadonlyArray<Target>, UnknownNode | GuestNotFound | ApiError>
  /**
   * Decides one call, every rule in SPEC order (1-2 again, so that no caller of the tool
   * pipeline can skip them, then 3-5). Fails with the refusal of the first rule that refuses.
   */
  readonly authorize: (request: AuthorizeRequest) => Effect.Effect<void, PolicyRefusal>
}

export class Policy extends Context.Tag("proxmox-mcp/Policy")<Policy, PolicyService>() {}

export { isStateChanging }

const lowestTier = (a: Tier, b: Tier | undefined): Tier =>
  b !== undefined && tierRank(b) < tierRank(a) ? b : a

/** Sutian's admin-only operations, as canonical tool names. */
const ADMIN_ONLY_TOOLS: ReadonlySet<string> = new Set(
  ADMIN_ONLY_OPERATIONS.flatMap((op) => SUTIAN_OPERATIONS[op] ?? []),
)

/** Static rules 1-2 for a canonical tool; the rule's name, or undefined when none refuses. */
export const staticRule = (tool: ToolInfo, settings: PolicySettings): string | undefined => {
  if (settings.denied.has(tool.name)) return "DENIED_OPERATIONS"
  if (settings.allowed !== undefined && !settings.allowed.has(tool.name)) return "ALLOWED_OPERATIONS"
  if (tierRank(tool.tier) > tierRank(settings.tier)) return "PVE_ACCESS_TIER"
  if (settings.moduleMode === "core" && tool.module !== "core") return "PVE_MODULE_MODE"
  if (settings.categories !== undefined && !settings.categories.has(tool.category)) return "PVE_CATEGORIES"
  if (settings.whitelist !== undefined && !settings.whitelist.has(tool.name)) return "PVE_TOOL_WHITELIST"
  if (settings.blacklist.has(tool.name)) return "PVE_TOOL_BLACKLIST"
  // Remote tools exist only where SSH is configured (key, entry host, strategy not disabled).
  if (tool.category === "remote" && settings.sshConfigured !== true) return "PROXMOX_SSH_STRATEGY"
  return undefined
}

/** The entries the server's static rules expose (what `proxmox-mcp tools` shows). */
export const staticallyExposed = <E extends NamedTool>(
  entries: ReadonlyArray<E>,
  settings: PolicySettings,
): ReadonlyArray<E> => entries.filter((entry) => staticRule(entry.tool, settings) === undefined)

/**
 * Control characters, and the bidirectional and zero-width formatting characters that could
 * reorder or hide what the human reads (U+061C, U+200B-U+200F, U+202A-U+202E, U+2060-U+2069,
 * U+FEFF).
 */
const UNSHOWABLE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g

/** Unshowable characters removed, length capped: text that came from Proxmox is never shown raw. */
export const sanitize = (text: string, max = 64): string => {
  const clean = text.replace(UNSHOWABLE, "").trim()
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean
}

const globMatches = (glob: string, path: string) =>
  new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`).test(path)

const describeTarget = (target: Target | undefined): string => {
  if (target === undefined) return "the cluster"
  const where = target.node === undefined ? "" : ` on node ${target.node}`
  if (target.vmid !== undefined) {
    const kind = target.type === "lxc" ? "container" : target.type === "qemu" ? "VM" : "guest"
    const name =
      target.name === undefined || sanitize(target.name) === "" ? "" : ` "${sanitize(target.name)}"`
    return `${kind} ${target.vmid}${name}${where}`
  }
  if (target.storage !== undefined) return `storage ${target.storage}${where}`
  if (target.pool !== undefined) return `pool ${target.pool}`
  if (target.path !== undefined) return target.path
  return target.node === undefined ? "the cluster" : `node ${target.node}`
}

/** A task's UPID names its node and, for guest tasks, the guest's vmid. */
const upidGuestId = (upid: string): number | undefined => {
  const id = /^UPID:[^:]+:[^:]+:[^:]+:[^:]+:[^:]+:(\d+):/.exec(upid)?.[1]
  return id === undefined ? undefined : Number(id)
}

export const make = (settings: PolicySettings) =>
  Effect.gen(function* () {
    const registry = yield* NodeRegistry

    const hiddenBy = (entry: NamedTool, principal: Principal): string | undefined => {
      const rule = staticRule(entry.tool, settings)
      if (rule !== undefined) return rule
      if (tierRank(entry.tool.tier) > tierRank(lowestTier(settings.tier, principal.tier)))
        return "principal tier"
      if (ADMIN_ONLY_TOOLS.has(entry.tool.name) && principal.admin !== true) return "admin-only operation"
      return undefined
    }

    const resolveOne = (
      tool: ToolInfo,
      ref: TargetRef,
      placeFor: string | undefined,
    ): Effect.Effect<Target, UnknownNode | GuestNotFound | ApiError> => {
      // Protection is decided on current tags: a state-changing call reads them fresh.
      const fresh = isStateChanging(tool) && settings.protectedTags.size > 0
      switch (ref._tag) {
        case "Cluster":
          return Effect.succeed({ kind: "Cluster" })
        case "Node":
          return Effect.map(registry.requireNode(ref.node), (node) => ({ kind: "Node", node }))
        case "Guest":
          return Effect.gen(function* () {
            let guest = yield* registry.locateGuest(ref.vmid, ref.type, { fresh })
            // The target is where the guest is, never where the client says it is: a client's
            // node that disagrees is checked against fresh data, then refused.
            if (ref.node !== undefined && ref.node !== guest.node) {
              guest = yield* registry.locateGuest(ref.vmid, ref.type, { fresh: true })
              if (ref.node !== guest.node) {
                yield* registry.requireNode(ref.node)
                return yield* new GuestNotFound({
                  vmid: ref.vmid,
                  ...(ref.type === undefined ? {} : { guestType: ref.type }),
                })
              }
            }
            return {
              kind: "Guest" as const,
              node: guest.node,
              type: guest.type,
              vmid: ref.vmid,
              ...(guest.name === undefined ? {} : { name: guest.name }),
              tags: guest.tags,
            }
          })
        case "NewGuest": {
          const node = ref.node ?? placeFor
          const created: Target = {
            kind: "NewGuest",
            type: ref.type,
            vmid: ref.vmid,
            ...(node === undefined ? {} : { node }),
          }
          // An existing guest of that id (a restore over it) is judged as itself: its tags count.
          return registry.locateGuest(ref.vmid, undefined, { fresh }).pipe(
            Effect.map(
              (guest): Target => ({
                ...created,
                ...(guest.name === undefined ? {} : { name: guest.name }),
                tags: guest.tags,
              }),
            ),
            Effect.catchTag("GuestNotFound", () => Effect.succeed(created)),
          )
        }
        case "AllGuests":
          // Expanded by resolveTargets; alone it stands for the node or the cluster.
          return ref.node === undefined
            ? Effect.succeed({ kind: "Cluster" })
            : Effect.map(registry.requireNode(ref.node), (node) => ({ kind: "Node", node }))
        case "Storage":
          return Effect.succeed({
            kind: "Storage",
            storage: ref.storage,
            ...(ref.node === undefined ? {} : { node: ref.node }),
          })
        case "Pool":
          return Effect.succeed({ kind: "Pool", pool: ref.pool })
        case "Access":
          return Effect.succeed({ kind: "Access", path: ref.path })
        case "Task": {
          const node = upidNode(ref.upid)
          const vmid = upidGuestId(ref.upid)
          const base: Target = { kind: "Task", ...(node === undefined ? {} : { node }) }
          if (vmid === undefined) return Effect.succeed(base)
          // The guest of a task may be gone (a finished destroy); then the task is only its node's.
          return registry.locateGuest(vmid, undefined, { fresh }).pipe(
            Effect.map(
              (guest): Target => ({
                ...base,
                type: guest.type,
                vmid,
                ...(guest.name === undefined ? {} : { name: guest.name }),
                tags: guest.tags,
              }),
            ),
            Effect.catchTag("GuestNotFound", () => Effect.succeed({ ...base, vmid })),
          )
        }
      }
    }

    const resolveTargets = (tool: ToolInfo, refs: ReadonlyArray<TargetRef>) =>
      Effect.gen(function* () {
        const targets: Array<Target> = []
        for (const ref of refs) {
          if (ref._tag !== "AllGuests") {
            targets.push(yield* resolveOne(tool, ref, targets[0]?.node))
            continue
          }
          // "all": the node (or cluster) first, then every guest it holds, each checked.
          targets.push(yield* resolveOne(tool, ref, undefined))
          for (const guest of yield* registry.guests(ref.node)) {
            targets.push({
              kind: "Guest",
              node: guest.node,
              type: guest.type,
              vmid: guest.vmid,
              ...(guest.name === undefined ? {} : { name: guest.name }),
              tags: guest.tags,
            })
          }
        }
        return targets
      })

    /** Why `principal` may not act on `target` (its role's resource patterns), if it may not. */
    const resourceRefusal = (principal: Principal, target: Target): Forbidden | undefined => {
      const path = resourcePath(target)
      if (principal.resources === undefined || path === "/") return undefined
      return principal.resources.some((glob) => globMatches(glob, path))
        ? undefined
        : new Forbidden({
            rule: "principal resources",
            message: `${principal.sub} may not act on ${path} (resource patterns of role ${principal.role})`,
          })
    }

    /** Why `target` is protected from `tool`, if it is. */
    const protection = (tool: ToolInfo, target: Target): ProtectedGuest | undefined => {
      if (!isStateChanging(tool) || target.vmid === undefined) return undefined
      const vmid = target.vmid
      if (settings.protectedVmids.some((r) => vmid >= r.from && vmid <= r.to)) {
        return new ProtectedGuest({ rule: "PVE_PROTECTED_VMIDS", vmid })
      }
      const tag = (target.tags ?? []).find((t) => settings.protectedTags.has(t.toLowerCase()))
      return tag === undefined ? undefined : new ProtectedGuest({ rule: "PVE_PROTECTED_TAGS", vmid, tag })
    }

    const confirm = (request: AuthorizeRequest, target: Target | undefined) =>
      Effect.gen(function* () {
        const tool = request.entry.tool
        if (!tool.confirm) return
        const impact = tool.impact ?? tool.description
        const what = `${tool.title} (${request.entry.name}) on ${describeTarget(target)}`
        const useElicitation =
          settings.confirmMode === "elicit" ||
          (settings.confirmMode === "auto" && request.elicit !== undefined)
        if (!useElicitation) {
          if (request.confirmArgument === true) return
          return yield* new ConfirmationRequired({
            message: `${what} changes the state of the cluster and needs confirmation.`,
            hint: "Check the target and impact, then call again with confirm: true.",
            impact,
          })
        }
        if (request.elicit === undefined) {
          return yield* new ConfirmationRequired({
            message: `${what} needs a human's confirmation, and this client cannot ask for it (no MCP elicitation support).`,
            hint: "Use an MCP client that supports elicitation, or ask the operator to set PVE_CONFIRM_MODE=argument so that confirm: true is accepted.",
            impact,
          })
        }
        const answer = yield* request.elicit({
          tool: request.entry.name,
          message: `Allow ${what}?\nImpact: ${impact}`,
        })
        if (answer !== "accept") return yield* new ConfirmationDeclined({ answer })
      })

    // Plain checks first, in this order; only a confirmation may need to wait (for a human).
    const authorize = (request: AuthorizeRequest): ReturnType<PolicyService["authorize"]> => {
      const hidden = hiddenBy(request.entry, request.principal)
      if (hidden !== undefined) {
        return Effect.fail(
          new Forbidden({ rule: hidden, message: `${request.entry.name} is not available (${hidden})` }),
        )
      }
      for (const target of request.targets) {
        const refused = resourceRefusal(request.principal, target)
        if (refused !== undefined) return Effect.fail(refused)
      }
      // A protected guest is protected as the target and as a source (a clone's, a backup's).
      for (const target of request.targets) {
        const protectedBy = protection(request.entry.tool, target)
        if (protectedBy !== undefined) return Effect.fail(protectedBy)
      }
      return request.entry.tool.confirm ? confirm(request, request.targets[0]) : Effect.void
    }

    return Policy.of({ settings, hiddenBy, resolveTargets, authorize })
  })

export const layer = (settings: PolicySettings) => Layer.effect(Policy, make(settings))

/** The policy configured by environment / config file; list entries resolved against `names`. */
export const layerConfig = (names: ToolNames) => Layer.unwrapEffect(Effect.map(policyConfig(names), layer))
